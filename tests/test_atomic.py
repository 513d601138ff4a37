"""mote_lib.atomic: leftovers of killed saves go, those of live saves stay; the save-lock, not the pid, tells them apart."""

import os
import signal
import subprocess
import sys
import textwrap
import threading

import pytest

from mote_lib.atomic import atomic_directory, atomic_file, remove_stale, write_text_atomic

# A child that starts a save of argv[1] (a folder, or a file with argv[2] == "file"), writes half of
# it, says so, and waits to be killed.
HALF_SAVE = textwrap.dedent("""
    import sys, time
    from mote_lib.atomic import atomic_directory, atomic_file
    if sys.argv[2] == "file":
        with atomic_file(sys.argv[1]) as tmp:
            tmp.write_text("half")
            print("saving", flush=True)
            time.sleep(120)
    else:
        with atomic_directory(sys.argv[1]) as tmp:
            (tmp / "config.json").write_text("{half")
            print("saving", flush=True)
            time.sleep(120)
""")


def start_half_save(target, kind="folder") -> subprocess.Popen:
    child = subprocess.Popen([sys.executable, "-c", HALF_SAVE, str(target), kind], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "saving", "the child did not start its save"
    return child


def kill(child: subprocess.Popen) -> None:
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    child.stdout.close()


def names(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("kind", ["folder", "file"])
def test_a_save_killed_midway_leaves_the_old_version_and_the_next_save_removes_its_leftover(tmp_path, kind):
    target = tmp_path / "model"
    if kind == "folder":
        with atomic_directory(target) as tmp:
            (tmp / "config.json").write_text("old")
    else:
        write_text_atomic(target, "old")
    child = start_half_save(target, kind)
    kill(child)
    leftover = f".model.tmp-{child.pid}"
    assert leftover in names(tmp_path)
    assert (target / "config.json" if kind == "folder" else target).read_text() == "old"
    if kind == "folder":
        with atomic_directory(target) as tmp:
            (tmp / "config.json").write_text("new")
    else:
        write_text_atomic(target, "new")
    assert names(tmp_path) == ["model"]  # the leftover and the dead save's .lock file are gone


def test_the_leftover_of_a_live_save_stays_and_a_second_save_waits_for_it(tmp_path):
    target = tmp_path / "model"
    child = start_half_save(target)
    try:
        live = tmp_path / f".model.tmp-{child.pid}"
        assert remove_stale(target) == [] and live.is_dir()
        done = threading.Event()

        def save():
            with atomic_directory(target) as tmp:
                (tmp / "config.json").write_text("mine")
            done.set()

        waiter = threading.Thread(target=save)
        waiter.start()
        assert not done.wait(1.0), "a second save of the same folder ran while the first held its lock"
        assert live.is_dir()
    finally:
        kill(child)
    waiter.join(timeout=30)
    assert done.is_set() and (target / "config.json").read_text() == "mine"
    assert names(tmp_path) == ["model"]


def test_a_leftover_named_after_a_live_pid_is_still_stale_when_no_save_holds_the_lock(tmp_path):
    # pids are reused: pid 1 and this process are alive, yet no save of "model" runs
    target = tmp_path / "model"
    for pid in (1, os.getpid()):
        (tmp_path / f".model.tmp-{pid}").mkdir()
        (tmp_path / f".model.old-{pid}").write_text("")
    target.mkdir()
    removed = remove_stale(target)
    assert len(removed) == 4 and names(tmp_path) == ["model"]


def test_a_swap_cut_between_its_renames_gets_the_old_version_back(tmp_path):
    # killed after "model" was renamed aside and before the new one was renamed in
    (tmp_path / ".model.old-4242").mkdir()
    (tmp_path / ".model.old-4242" / "config.json").write_text("old")
    (tmp_path / ".model.tmp-4242").mkdir()
    remove_stale(tmp_path / "model")
    assert names(tmp_path) == ["model"] and (tmp_path / "model" / "config.json").read_text() == "old"


def test_siblings_of_other_names_are_left_alone(tmp_path):
    for name in (".model.tmp-x", ".model-2.tmp-5", ".modelx.old-5", ".model.tmp-5.bak"):
        (tmp_path / name).write_text("")
    assert remove_stale(tmp_path / "model") == []
    assert len(names(tmp_path)) == 4


def test_a_save_inside_its_own_save_is_an_error_not_a_deadlock(tmp_path):
    with atomic_file(tmp_path / "a.txt") as tmp:
        tmp.write_text("x")
        with pytest.raises(RuntimeError, match="already being saved by this thread"):
            write_text_atomic(tmp_path / "a.txt", "y")
    assert (tmp_path / "a.txt").read_text() == "x"


def test_a_failed_save_leaves_nothing_behind(tmp_path):
    write_text_atomic(tmp_path / "a.txt", "old")
    with pytest.raises(OSError, match="disk full"), atomic_file(tmp_path / "a.txt") as tmp:
        tmp.write_text("new")
        raise OSError("disk full")
    assert names(tmp_path) == ["a.txt"] and (tmp_path / "a.txt").read_text() == "old"
