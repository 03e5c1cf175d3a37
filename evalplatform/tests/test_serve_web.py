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


def server_side_owner(client_port: int, pids: list[int]) -> int | None:
    """Which of these processes holds the server end of the connection from this client port."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[2].split(":")[1], 16) == client_port:
            inodes.add(f"socket:[{fields[9]}]")
    for pid in pids:
        if any(os.readlink(fd) in inodes for fd in Path(f"/proc/{pid}/fd").iterdir()):
            return pid
    return None


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
    connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(16)]
    for connection in connections:
        connection.request("GET", "/accounts/login/")
        assert connection.getresponse().status == 200
    owners = [server_side_owner(connection.sock.getsockname()[1], daphnes) for connection in connections]
    for connection in connections:
        connection.close()
    # The kernel spreads the connections over both processes (all 16 on one: 1 chance in 32,768).
    assert set(owners) == set(daphnes), owners


def test_when_one_process_dies_all_stop_so_the_supervisor_restarts_them(web):
    process, _port = web
    first, second = (int(pid) for pid in Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split())
    os.kill(first, signal.SIGKILL)
    assert process.wait(timeout=20) != 0
    assert not Path(f"/proc/{second}").exists() or "Z" in Path(f"/proc/{second}/stat").read_text().split()[2]
