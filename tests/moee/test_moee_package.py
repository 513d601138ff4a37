"""The mote_lib.moee package: its public names, and that importing it does not import mteb."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mote_lib import moee


def test_importing_moee_does_not_import_mteb_until_an_mteb_name_is_used():
    code = ("import sys, mote_lib.moee as moee; assert 'mteb' not in sys.modules, 'mteb imported by mote_lib.moee'; "
            "from mote_lib.moee.mteb import MoEEEncoder; "
            "assert moee.MoEEEncoder is MoEEEncoder and 'mteb' in sys.modules; "
            "from mote_lib.moee import evaluate_moee; print(MoEEEncoder.__module__, evaluate_moee.__module__)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["mote_lib.moee.mteb", "mote_lib.moee.mteb"]


def test_every_public_name_is_reachable_from_the_package():
    from mteb.models.abs_encoder import AbsEncoder

    assert all(hasattr(moee, name) for name in moee.__all__)
    assert set(moee.__all__) <= set(dir(moee))
    assert isinstance(moee.MoEEEncoder, type) and issubclass(moee.MoEEEncoder, AbsEncoder)
    with pytest.raises(AttributeError, match="no_such_name"):
        moee.no_such_name  # noqa: B018
