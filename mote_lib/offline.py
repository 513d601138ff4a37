"""The project's environment, set where a command starts: offline mode, caches inside the project, mteb loaded late.

Importing a mote_lib module sets no environment variable. What ``scripts/env.sh`` exports for a
shell (``mote_lib.paths.project_environment``: the three offline switches and every cache inside
the project) is set by ``use_project_environment()``, called where a command or a notebook starts:
``python -m mote_lib.train``, ``python -m mote_lib.evaluate``, ``python -m mote_lib.lab.runner`` and
``mote_lib.lab.notebooks.setup_notebook``. Variables already set (to go online, say) are kept.

mteb is imported only through ``import_mteb()``, which sets that environment first: importing mteb
creates its cache folder, and offline hub look-ups retry for a minute before they fail.
``mteb_subclass`` makes a class whose base is an mteb class on first use, so that a module
defining one does not import mteb when it is imported.

Standard library only (the command lines check their arguments before anything heavy loads).

Example:
    >>> from mote_lib.offline import hub_offline
    >>> import os
    >>> hub_offline() == (os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on"))
    True
"""

from __future__ import annotations

import importlib
import os
import types
from functools import cache

from mote_lib.paths import project_environment

# The values of HF_HUB_OFFLINE (any case, spaces around) that switch the Hub off, as huggingface_hub reads them.
TRUE_VALUES = ("1", "true", "yes", "on")


def use_project_environment() -> dict[str, str]:
    """Set every variable of ``project_environment()`` that is not set yet; return those it set.

    Offline by default and every cache inside the project (as ``scripts/env.sh``), for this process
    and whatever it starts (a notebook kernel, a subprocess).
    """
    added = {name: value for name, value in project_environment().items() if name not in os.environ}
    os.environ.update(added)
    return added


def hub_offline() -> bool:
    """Whether the Hugging Face Hub is switched off (``HF_HUB_OFFLINE`` is 1, true, yes or on)."""
    return os.environ.get("HF_HUB_OFFLINE", "0").strip().lower() in TRUE_VALUES


def import_mteb(module: str = "mteb") -> types.ModuleType:
    """``mteb`` (or one of its submodules, e.g. ``mteb.models.model_meta``), imported after ``use_project_environment()``."""
    use_project_environment()
    return importlib.import_module(module)


@cache
def mteb_subclass(methods: type, base: str, name: str) -> type:
    """The class ``name`` with ``methods`` (a plain class holding the body) and the mteb class ``base`` as bases.

    Made on the first call, which imports mteb (``import_mteb``), then reused; ``__module__``,
    ``__doc__`` and the name are those a class statement in ``methods``' module would give.
    """
    module, _, attribute = base.rpartition(".")
    parent = getattr(import_mteb(module), attribute)

    def body(namespace: dict) -> None:
        namespace.update(__module__=methods.__module__, __qualname__=name, __doc__=methods.__doc__)

    return types.new_class(name, (methods, parent), exec_body=body)
