"""Starting the platform's processes on this machine, for the tests, the benchmarks under bench/
and tools/scale_out.py: free ports, waiting for a server to answer, the demo LLM server, a fresh
MariaDB database."""

import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent


def die_with_parent() -> None:
    """For `preexec_fn`: the child is killed when the process that started it dies (Linux), so a
    killed test run leaves no worker polling a test database that the next run recreates."""
    import ctypes

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, process: subprocess.Popen | None = None, *, timeout: float = 30, log: Path | None = None) -> None:
    """Return once `url` answers (any HTTP status); raise RuntimeError, with the process's log,
    when the process exits or nothing answers within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (process is None or process.poll() is None):
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except urllib.error.HTTPError:
            return  # An answer all the same (401 from a server that wants a key, say).
        except OSError:
            time.sleep(0.05)
    output = log.read_text(errors="replace") if log and log.exists() else ""
    raise RuntimeError(f"Nothing answered at {url} within {timeout} s.\n{output}")


def start_demo_llm(*options: str, log: Path | None = None, timeout: float = 20) -> tuple[subprocess.Popen, str]:
    """The demo LLM server in a subprocess on a free port (no key unless options give one);
    returns the process and its base URL (…/v1)."""
    port = free_port()
    output = log.open("wb") if log else subprocess.DEVNULL
    process = subprocess.Popen(
        [sys.executable, "-m", "llm_models.demo_llm", "--port", str(port), "--api-key=", *options],
        cwd=ROOT, stdout=output, stderr=subprocess.STDOUT, preexec_fn=die_with_parent,
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        wait_http(f"{url}/models", process, timeout=timeout, log=log)
    except RuntimeError:
        process.kill()
        raise
    return process, url


def fresh_mysql_database(url: str) -> None:
    """Drop and create the database a mysql:// URL names, in utf8mb4."""
    import MySQLdb

    parts = urlsplit(url)
    connection = MySQLdb.connect(host=parts.hostname, port=parts.port or 3306, user=parts.username or "root",
                                 passwd=parts.password or "")
    name = parts.path.lstrip("/")
    connection.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
    connection.cursor().execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    connection.close()
