"""Serve the platform with several Daphne processes on one port: one per core by default.

    .venv/bin/python tools/serve_web.py --host 127.0.0.1 --port 8000 [--processes N] [-- daphne options]

One Daphne process is one event loop on one core. A chat turn costs it a few milliseconds of CPU
(the model requests, the database, the answer cards), so one process saturates at a few dozen
turns at the same moment (bench/chat_fanout.py --web-processes). Here every process gets its own
listening socket bound to the same port with SO_REUSEPORT, and the kernel spreads new connections
evenly over them. Nothing is shared between the processes: each websocket streams its answers from
its own process, and background jobs go through the worker.

SIGTERM or SIGINT stops every process; if one process ends, the others are stopped too and this
exits with its status, so that the supervisor (honcho, systemd) starts the whole again.
"""

import argparse
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evalplatform.devtools import die_with_parent  # noqa: E402

ASGI_APPLICATION = "evalplatform.asgi:application"


def listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(1024)
    return sock


def options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--processes", type=int,
        default=int(os.environ.get("WEB_PROCESSES") or 0) or os.cpu_count() or 1,
        help="Daphne processes (default: $WEB_PROCESSES, else one per core)",
    )
    parser.add_argument("daphne_options", nargs="*", help="passed to every Daphne process")
    args = parser.parse_args()
    if args.processes < 1:
        parser.error("--processes must be at least 1")
    return args


def main() -> int:
    args = options()
    sockets = [listening_socket(args.host, args.port) for _ in range(args.processes)]
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "daphne", "--fd", str(sock.fileno()), *args.daphne_options,
             ASGI_APPLICATION],
            cwd=ROOT, pass_fds=(sock.fileno(),), preexec_fn=die_with_parent,
        )
        for sock in sockets
    ]
    for sock in sockets:
        sock.close()  # Each process holds its own.
    print(f"Serving on http://{args.host}:{args.port}/ with {len(children)} Daphne processes "
          f"({', '.join(str(child.pid) for child in children)})", flush=True)

    def stop(signum=None, frame=None) -> None:
        for child in children:
            if child.poll() is None:
                child.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    pid, status = os.wait()  # The first process to end ends them all.
    stop()
    for child in children:
        child.wait()
    return os.waitstatus_to_exitcode(status) if pid else 1


if __name__ == "__main__":
    sys.exit(main())
