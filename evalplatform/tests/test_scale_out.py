"""Two web processes and two workers on MariaDB and Redis; one worker killed mid-run."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("mysql"),
                    reason="runs once per suite, in the MariaDB pass")
def test_every_run_finishes_with_no_item_answered_twice_when_a_worker_dies():
    if not (_answers(3306) and _answers(6379)):
        if os.environ.get("CI"):
            pytest.fail("CI needs MariaDB on 3306 and Redis on 6379")
        pytest.skip("needs MariaDB on 3306 and Redis on 6379")
    result = subprocess.run([sys.executable, "tools/scale_out.py", "--runs", "4", "--chats", "6"], cwd=ROOT,
                            capture_output=True, text=True, timeout=400)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "killed worker0" in result.stdout and "FAILED" not in result.stdout
