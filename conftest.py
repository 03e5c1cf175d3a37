"""Fixtures shared by every app's tests: users, an admin, the demo LLM server and a model on it."""

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from django.test import Client
from django.utils import translation

from evalplatform.devtools import die_with_parent, free_port, start_demo_llm

PASSWORD = "correct-horse-battery-staple"
DEMO_LLM_KEY = "demo-secret-key"
# Short latencies keep the suite fast; tests that need others pass them per request. The empty
# key keeps a DEMO_LLM_API_KEY in the developer's environment out of the test servers.
DEMO_LLM_TEST_OPTIONS = ("--slow-ttft", "0.3", "--slow-tps", "50")


@pytest.fixture
def alice(django_user_model):
    """The owner in most tests."""
    return django_user_model.objects.create_user(username="alice", password=PASSWORD)


@pytest.fixture
def bob(django_user_model):
    """Another user, who must see nothing of alice's."""
    return django_user_model.objects.create_user(username="bob", password=PASSWORD)


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_superuser(username="root", password=PASSWORD)


@pytest.fixture
def alice_client(alice) -> Client:
    client = Client()
    client.force_login(alice)
    return client


@pytest.fixture
def bob_client(bob) -> Client:
    client = Client()
    client.force_login(bob)
    return client


@pytest.fixture
def admin_client(admin_user) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


@contextmanager
def demo_llm_server(*options: str, timeout: float = 20) -> Iterator[str]:
    """Run llm_models/demo_llm.py in a subprocess with these options; yield its base URL."""
    with tempfile.TemporaryDirectory() as folder:
        process, url = start_demo_llm(*DEMO_LLM_TEST_OPTIONS, *options, log=Path(folder) / "demo_llm.log",
                                      timeout=timeout)
        try:
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="session")
def demo_llm_url() -> Iterator[str]:
    """Base URL of a demo LLM server (no API key) shared by the whole session."""
    with demo_llm_server() as url:
        yield url


@pytest.fixture(scope="session")
def demo_llm_keyed_url() -> Iterator[str]:
    """Base URL of a demo LLM server that wants the bearer key DEMO_LLM_KEY."""
    with demo_llm_server("--api-key", DEMO_LLM_KEY) as url:
        yield url


@pytest.fixture(scope="session")
def demo_llm_start() -> Iterator[Callable[..., str]]:
    """Start more demo servers with other options, e.g. `demo_llm_start("--flaky-rate", "1")`.

    Each call starts a fresh server (fresh counters); all of them stop at the end of the session.
    """
    with ExitStack() as servers:
        yield lambda *options: servers.enter_context(demo_llm_server(*options))


@pytest.fixture
def demo_model(demo_llm_url):
    """A system model on the demo server's fast model."""
    from llm_models.models import LLMModel

    return LLMModel.objects.create(name="Demo Fast", base_url=demo_llm_url, model_name="demo-fast")


@pytest.fixture
def closed_port_url() -> str:
    """A base URL where nothing listens."""
    return f"http://127.0.0.1:{free_port()}/v1"


@pytest.fixture
def english():
    """User-facing messages in English (the default language is Simplified Chinese)."""
    with translation.override("en"):
        yield


def database_url_for_subprocess() -> str:
    """DATABASE_URL of the database this test runs on (the test database), for a subprocess."""
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"mysql://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 3306}/{db['NAME']}"


def subprocess_env(**overrides: str) -> dict[str, str]:
    """The environment for a platform process started by a test: same settings, test database."""
    env = {key: value for key, value in os.environ.items() if key not in ("REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    env.update(DEBUG="1", DATABASE_URL=database_url_for_subprocess(), PYTHONUNBUFFERED="1", **overrides)
    return env


class Worker:
    """A real `manage.py qcluster` process on the test database."""

    def __init__(self, log_path: Path, **env: str):
        self.log_path = log_path
        self.log = log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=Path(__file__).parent,
            env=subprocess_env(**env),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # so kill() takes the cluster's child processes too
            preexec_fn=die_with_parent,
        )

    def kill(self) -> None:
        """Kill the cluster and all its workers at once, as a crash would."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def qcluster_start(transactional_db, tmp_path) -> Iterator[Callable[..., Worker]]:
    """Start real django-q2 workers on the test database (tests using it commit their data)."""
    workers: list[Worker] = []

    def start(**env: str) -> Worker:
        worker = Worker(tmp_path / f"qcluster-{len(workers)}.log", **env)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


@pytest.fixture
def qcluster(qcluster_start) -> Worker:
    return qcluster_start()


def wait_for_row(row, condition, worker: Worker, *, timeout: float = 60, describe=str):
    """Refresh a model instance a worker is changing until `condition(row)` holds; fail with
    `describe(row)` and the worker's output if it does not within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row.refresh_from_db()
        if condition(row):
            return row
        time.sleep(0.2)
    raise AssertionError(f"{describe(row)}\n{worker.output()}")
