"""tools/serve_web.py: several Daphne processes on one port."""

import http.client
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import subprocess_env
from evalplatform.devtools import die_with_parent, free_port, wait_http

ROOT = Path(__file__).resolve().parent.parent.parent

pytestmark = pytest.mark.django_db(transaction=True)


def socket_count(pid: int) -> int:
    return sum(1 for fd in Path(f"/proc/{pid}/fd").iterdir() if os.readlink(fd).startswith("socket:"))


@pytest.fixture
def web():
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "tools/serve_web.py", "--port", str(port), "--processes", "2", "--", "-v", "0"],
        cwd=ROOT, env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        preexec_fn=die_with_parent,
    )
    wait_http(f"http://127.0.0.1:{port}/accounts/login/", process)
    yield process, port
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)


def test_two_processes_share_the_port_and_each_takes_connections(web):
    process, port = web
    daphnes = [int(pid) for pid in Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()]
    assert len(daphnes) == 2
    before = {pid: socket_count(pid) for pid in daphnes}
    connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(16)]
    for connection in connections:
        connection.request("GET", "/accounts/login/")
        assert connection.getresponse().status == 200
    # The kernel spreads the connections over both processes (all 16 on one: 1 chance in 32,768).
    taken = {pid: socket_count(pid) - before[pid] for pid in daphnes}
    for connection in connections:
        connection.close()
    assert sum(taken.values()) == 16 and all(count > 0 for count in taken.values()), taken


def test_when_one_process_dies_all_stop_so_the_supervisor_restarts_them(web):
    process, _port = web
    first, second = (int(pid) for pid in Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split())
    os.kill(first, signal.SIGKILL)
    assert process.wait(timeout=20) != 0
    assert not Path(f"/proc/{second}").exists() or "Z" in Path(f"/proc/{second}/stat").read_text().split()[2]
