"""The whole platform as processes, for browser journeys: Daphne (web + websockets) and a
django-q2 worker on the test database, the demo LLM server, and headless Chromium."""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from conftest import subprocess_env
from evalplatform.devtools import die_with_parent, free_port, wait_http

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Without these, Chromium keeps trying to reach Google's hosts, which a closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="module")
def platform(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[str]:
    """Daphne and a qcluster on the test database; yields the site's base URL."""
    logs = tmp_path_factory.mktemp("platform")
    port = free_port()
    with django_db_blocker.unblock():
        env = subprocess_env(ALLOWED_HOSTS="127.0.0.1,localhost", DATA_DIR=str(settings.DATA_DIR),
                             EVALUATION_HEARTBEAT_STALE="5")
    processes = []
    for name, command in [
        ("web", [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "evalplatform.asgi:application"]),
        ("worker", [sys.executable, "manage.py", "qcluster"]),
    ]:
        log = logs / f"{name}.log"
        processes.append((subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("wb"),
                                           stderr=subprocess.STDOUT, start_new_session=True,
                                           preexec_fn=die_with_parent), log))
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/accounts/login/", processes[0][0], log=processes[0][1])
        yield url
    finally:
        for process, _log in processes:
            process.terminate()
        for process, _log in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture(scope="module")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"No Chromium at {CHROMIUM}: `make install` installs Debian's chromium.")
    # Playwright's sync API keeps an event loop in this thread, which Django takes for async
    # code; the ORM calls the tests make are ordinary blocking calls all the same.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with playwright_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture
def screenshot(request):
    """Save a full-page screenshot as <name>.png in SCREENSHOT_DIR (default: DATA_DIR/screenshots)."""
    folder = Path(os.environ.get("SCREENSHOT_DIR") or Path(settings.DATA_DIR) / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
