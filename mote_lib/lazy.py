"""A package's heavy names re-exported lazily (PEP 562): imported from their module on first use.

A package whose ``__init__`` must stay light (a command line checks its arguments before torch or
mteb loads; importing the package has no side effects) lists its heavy names with their modules and
gets its module-level ``__getattr__`` and ``__dir__`` from ``lazy_exports``. Standard library only.

Example:
    >>> namespace = {"__name__": "demo", "__all__": ["dumps"]}
    >>> getattr_, dir_ = lazy_exports(namespace, {"dumps": "json"})
    >>> getattr_("dumps")({"a": 1}), "dumps" in namespace, dir_()
    ('{"a": 1}', True, ['__all__', '__name__', 'dumps'])
"""

from __future__ import annotations

import importlib


def lazy_exports(namespace: dict, names: dict[str, str]):
    """``(__getattr__, __dir__)`` for the module whose ``globals()`` is ``namespace``; ``names``: name -> module.

    A name is imported from its module on first access and then kept in ``namespace``, so later
    look-ups skip ``__getattr__``.
    """

    def __getattr__(name: str):
        if name not in names:
            raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(names[name]), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(namespace.get("__all__", ())) | set(names))

    return __getattr__, __dir__
