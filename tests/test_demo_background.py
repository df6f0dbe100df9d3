"""The demo writes each step's files in a forked process while the next step computes: the
files are the same as when written in the process, and a writer that fails in its process
is run again in the parent (its error surfaces there), never lost."""

from __future__ import annotations

import os

import pytest

from apcfair.cli.demo import _BackgroundWriter

PARENT = os.getpid()


def _write(path, text):
    with open(path, "w") as fh:
        fh.write(text)


def _fails_outside_the_parent(path):
    if os.getpid() != PARENT:
        raise RuntimeError("a writer that breaks in the forked process")
    _write(path, "written by the parent")


def _always_fails(path):
    raise ValueError("bad output folder")


def test_jobs_run_one_at_a_time_and_their_files_appear(tmp_path):
    bg = _BackgroundWriter()
    for k in range(3):
        bg.submit(f"job {k}", _write, tmp_path / f"f{k}.txt", str(k))
    bg.wait()
    assert [(tmp_path / f"f{k}.txt").read_text() for k in range(3)] == ["0", "1", "2"]


@pytest.mark.skipif("fork" not in __import__("multiprocessing").get_all_start_methods(), reason="needs fork")
def test_a_job_failing_in_its_process_is_rerun_here_with_a_warning(tmp_path, capfd):
    bg = _BackgroundWriter(fork=True)
    bg.submit("flaky", _fails_outside_the_parent, tmp_path / "x.txt")
    with pytest.warns(RuntimeWarning, match="writing flaky in a background process failed"):
        bg.wait()
    assert (tmp_path / "x.txt").read_text() == "written by the parent"
    bg.submit("broken", _always_fails, tmp_path / "y.txt")
    with pytest.warns(RuntimeWarning), pytest.raises(ValueError, match="bad output folder"):
        bg.wait()


def _sleeps(path):
    import time

    if os.getpid() != PARENT:
        time.sleep(60)
    _write(path, "written by the parent")


@pytest.mark.skipif("fork" not in __import__("multiprocessing").get_all_start_methods(), reason="needs fork")
def test_a_job_that_hangs_in_its_process_is_stopped_and_rerun_here(tmp_path):
    bg = _BackgroundWriter(fork=True, timeout=1.0)
    bg.submit("stuck", _sleeps, tmp_path / "z.txt")
    with pytest.warns(RuntimeWarning, match="did not finish within 1 s"):
        bg.wait()
    assert (tmp_path / "z.txt").read_text() == "written by the parent"


def test_no_fork_while_other_threads_run(tmp_path):
    """A Dask client's event loop (or any other thread) makes forking unsafe: the job runs here."""
    import threading

    stop = threading.Event()
    t = threading.Thread(target=stop.wait, daemon=True)
    t.start()
    try:
        bg = _BackgroundWriter()
        bg.submit("inline", _fails_outside_the_parent, tmp_path / "w.txt")  # would fail if forked
        bg.wait()
    finally:
        stop.set()
        t.join()
    assert (tmp_path / "w.txt").read_text() == "written by the parent"
