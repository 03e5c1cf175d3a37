"""Runs `evalscope perf` in a subprocess that cannot see the project, and watches it.

Why a subprocess: the app `datasets/` has the import name of HuggingFace's `datasets`, which
evalscope imports (see DEVELOPERS.md). So evalscope runs with `python -P` (no working directory
or script folder on sys.path), without PYTHONPATH, with a working directory of its own, and with
an environment that carries none of the platform's secrets.

evalscope perf reads its API key only from `--api-key`, which any local user could read in the
process list. So the command line holds only the benchmark's shape; the key, headers and extra
body go to evalscope's own CLI entry point through stdin, and are appended to its argv inside
the process (where `ps` does not see them).
"""

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from perfbench import evalscope_output

# Reads the secret arguments (a JSON list on the first line of stdin), then hands over to
# evalscope's CLI exactly as the `evalscope` console script does.
LAUNCHER = (
    "import json, sys\n"
    "sys.argv = ['evalscope', *sys.argv[1:], *json.loads(sys.stdin.readline() or '[]')]\n"
    "from evalscope.cli.cli import run_cmd\n"
    "run_cmd()\n"
)
CONSOLE_FILE = "console.log"
# Stored logs keep the start (evalscope's arguments) and the end (the results or the error).
LOG_HEAD_CHARS = 20_000
LOG_TAIL_CHARS = 180_000
# Variables evalscope may need from the worker's environment; everything else (SECRET_KEY,
# DATABASE_URL, FIELD_ENCRYPTION_KEY ...) stays out of it.
ENV_PASSED = {
    "PATH", "HOME", "USER", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "no_proxy",
    "all_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE",
}
ENV_PREFIXES_PASSED = ("EVALSCOPE_", "MODELSCOPE_", "HF_")
# How often the watcher looks at the process, and how often it reports progress.
POLL_SECONDS = 0.1
TICK_SECONDS = 1.0
TERMINATE_GRACE_SECONDS = 5.0


@dataclass
class EvalscopeCommand:
    argv: list[str]  # what the process list shows
    secret_args: list[str]  # sent through stdin
    secrets: list[str]  # values to remove from anything stored

    def display(self) -> str:
        """The command as one would type it, with what went through stdin hidden."""
        public = self.argv[self.argv.index(LAUNCHER) + 1:]
        hidden = [f"{arg} ••••" for arg in self.secret_args if arg.startswith("--")]
        return " ".join([shlex.join(["evalscope", *public]), *hidden])


@dataclass
class ProcessOutcome:
    returncode: int | None
    stopped: str  # "" when it ended by itself, else "cancelled" or "time_limit"
    log: str  # cleaned and redacted


def python_command() -> list[str]:
    """The interpreter of this virtualenv, with nothing of the current directory on sys.path."""
    return [sys.executable, "-P"]


def evalscope_env() -> dict[str, str]:
    env = {
        key: value for key, value in os.environ.items()
        if key in ENV_PASSED or key.startswith(ENV_PREFIXES_PASSED)
    }
    # PYTHONSAFEPATH also covers any Python process evalscope starts itself.
    env.update(PYTHONSAFEPATH="1", PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8")
    return env


def evalscope_command(
    *,
    url: str,
    model_name: str,
    api_key: str,
    headers: dict[str, str],
    extra_body: dict,
    prompts_file: Path,
    outputs_dir: Path,
    pairs: Iterable[tuple[int, int]],
    max_tokens: int,
    stream: bool,
    sweep_pause: int,
    connect_timeout: int,
    read_timeout: int,
) -> EvalscopeCommand:
    """The arguments of `evalscope perf` for one run: every pair in one sweep, prompts from a
    line_by_line file of OpenAI message lists, and a progress file to watch."""
    pairs = list(pairs)
    argv = [
        *python_command(), "-c", LAUNCHER, "perf",
        "--url", url.rstrip("/") + "/chat/completions",
        "--api", "openai",
        "--model", model_name,
        "--dataset", "line_by_line",
        "--dataset-path", str(prompts_file),
        "--parallel", *(str(concurrency) for concurrency, _number in pairs),
        "--number", *(str(number) for _concurrency, number in pairs),
        "--max-tokens", str(max_tokens),
        "--stream" if stream else "--no-stream",
        "--sleep-interval", str(sweep_pause),
        "--connect-timeout", str(connect_timeout),
        "--read-timeout", str(read_timeout),
        # The platform checked the endpoint with one request already; evalscope's own check
        # would retry an unreachable endpoint every 10 s for hours.
        "--no-test-connection",
        "--outputs-dir", str(outputs_dir),
        "--name", evalscope_output.OUTPUT_NAME,
        "--no-timestamp",
        "--enable-progress-tracker",
    ]
    secret_args: list[str] = []
    if api_key:
        secret_args += ["--api-key", api_key]
    if headers:
        secret_args += ["--headers", *(f"{name}={value}" for name, value in headers.items())]
    if extra_body:
        secret_args += ["--extra-args", json.dumps(extra_body)]
    secrets = [value for value in (api_key, *headers.values()) if value]
    return EvalscopeCommand(argv=argv, secret_args=secret_args, secrets=secrets)


def prompts_write(path: Path, prompts: Iterable[str]) -> int:
    """One JSON list of messages per line: line_by_line sends it as it is, so a prompt keeps its
    line breaks and a prompt that looks like JSON is not taken for one."""
    count = 0
    with path.open("w", encoding="utf-8") as file:
        for prompt in prompts:
            file.write(json.dumps([{"role": "user", "content": prompt}], ensure_ascii=False) + "\n")
            count += 1
    return count


def log_redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "••••")
    return text


def log_trim(text: str) -> str:
    if len(text) <= LOG_HEAD_CHARS + LOG_TAIL_CHARS:
        return text
    cut = len(text) - LOG_HEAD_CHARS - LOG_TAIL_CHARS
    return f"{text[:LOG_HEAD_CHARS]}\n[… {cut} characters left out …]\n{text[-LOG_TAIL_CHARS:]}"


def _die_with_parent() -> None:
    """In the child: be killed when the worker dies, so no benchmark outlives its job."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # Not Linux: the time limit and cancel still stop it while the worker lives.


def _stop(process: subprocess.Popen) -> None:
    """Ask the whole process group to stop, then kill what is left."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=TERMINATE_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        process.wait()


def evalscope_run(
    command: EvalscopeCommand,
    *,
    folder: Path,
    time_limit: float,
    on_tick: Callable[[int | None], bool],
) -> ProcessOutcome:
    """Run the command in `folder` until it ends, `on_tick` (called about once a second with the
    requests done so far) returns False, or the time limit passes."""
    console_path = folder / CONSOLE_FILE
    started = time.monotonic()
    with console_path.open("wb") as console:
        process = subprocess.Popen(
            command.argv,
            cwd=folder,
            env=evalscope_env(),
            stdin=subprocess.PIPE,
            stdout=console,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed as a whole
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        try:
            process.stdin.write((json.dumps(command.secret_args) + "\n").encode())
            process.stdin.close()
        except BrokenPipeError:
            pass  # It died at once; the log says why.
        stopped = ""
        next_tick = started + TICK_SECONDS
        try:
            while process.poll() is None:
                now = time.monotonic()
                if now - started > time_limit:
                    stopped = "time_limit"
                elif now >= next_tick:
                    next_tick = now + TICK_SECONDS
                    if not on_tick(evalscope_output.progress_read(folder)):
                        stopped = "cancelled"
                if stopped:
                    _stop(process)
                    break
                time.sleep(POLL_SECONDS)
        except BaseException:
            _stop(process)  # The worker itself is being stopped: take evalscope with it.
            raise
    text = console_path.read_bytes().decode("utf-8", errors="replace")  # keeps the \r of progress bars
    log = log_trim(log_redact(evalscope_output.console_clean(text), command.secrets))
    return ProcessOutcome(returncode=process.returncode, stopped=stopped, log=log)
