"""`local down` stops local mode as soon as its process has exited, also when this process started it (up(), as
`liftoff load` does): that one stays a zombie until reaped, which a check by signal 0 alone never saw end."""

import dataclasses
import json
import os
import subprocess
import sys

import pytest

from liftoff.local import runtime


@pytest.fixture
def state_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(runtime, "STATE_DIR", tmp_path)
    return tmp_path


def _record(pid: int) -> None:
    state = runtime.LocalState(pid, "stop-test", "http://127.0.0.1:9", "key", "", "", "t", "s", "i")
    runtime.state_file("stop-test").write_text(json.dumps(dataclasses.asdict(state)))


def test_down_reaps_local_mode_this_process_started(state_dir):
    # Given a local mode process started by this one, in its own session as up() starts it
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    _record(child.pid)
    # When it is stopped
    stopped = runtime.down("stop-test")
    # Then down waited for it to exit and reaped it: no zombie is left for signal 0 to find
    assert stopped
    with pytest.raises(ChildProcessError):
        os.waitpid(child.pid, os.WNOHANG)
    assert not runtime.state_file("stop-test").exists()
    child.returncode = -15  # reaped above: Popen need not wait for it
