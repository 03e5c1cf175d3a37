"""Scale-out check: two Daphne web processes and two qcluster workers sharing MariaDB and Redis.

    .venv/bin/python tools/scale_out.py [--runs 4] [--chats 6]

Needs MariaDB (SCALE_DATABASE_URL, default mysql://root@127.0.0.1:3306/evalplatform_scale, dropped
and created afresh) and Redis (SCALE_REDIS_URL, default redis://127.0.0.1:6379/5, flushed). Creates
evaluations through both web processes at once while chats stream over websockets through both,
kills one worker (SIGKILL, as a crash) in the middle, and checks that every run still finishes —
resumed by the surviving worker's scheduled check — with no item answered twice.
Exits non-zero when a check fails.
"""

import argparse
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PASSWORD = "scale-out-passphrase-42"

from evalplatform.devtools import free_port, fresh_mysql_database, start_demo_llm, wait_http  # noqa: E402


def flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


class Processes:
    def __init__(self, env: dict, logs: Path):
        self.env, self.logs, self.running = env, logs, {}

    def start(self, name: str, *command: str) -> subprocess.Popen:
        log = (self.logs / f"{name}.log").open("wb")
        process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        self.running[name] = process
        return process

    def kill(self, name: str) -> None:
        os.killpg(self.running.pop(name).pid, signal.SIGKILL)

    def stop_all(self) -> None:
        for process in self.running.values():
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for process in self.running.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def login(base_url: str):
    import requests

    session = requests.Session()
    page = session.get(f"{base_url}/accounts/login/")
    token = session.cookies["csrftoken"]
    response = session.post(f"{base_url}/accounts/login/", data={"login": "alice", "password": PASSWORD,
                            "csrfmiddlewaretoken": token}, headers={"Referer": page.url})
    response.raise_for_status()
    return session


def create_evaluation(session, base_url: str, form: dict) -> int:
    page = session.get(f"{base_url}/evaluations/new/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    response = session.post(f"{base_url}/evaluations/new/", data={**form, "csrfmiddlewaretoken": token},
                            headers={"Referer": page.url}, allow_redirects=False)
    location = response.headers.get("Location", "")
    match = re.search(r"/evaluations/(\d+)/$", location)
    if not match:
        raise RuntimeError(f"creating an evaluation through {base_url} failed: {response.status_code} {location}")
    return int(match.group(1))


async def chat_turn(base_url: str, cookie: str, conversation_id: int, text: str) -> dict:
    import aiohttp

    ws_url = base_url.replace("http://", "ws://") + f"/ws/chat/{conversation_id}/"
    statuses = {}
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(ws_url, headers={"Cookie": cookie, "Origin": base_url}) as socket_:
            await socket_.send_json({"type": "send", "content": text})
            async for message in socket_:
                frame = json.loads(message.data)
                if frame["type"] == "done":
                    statuses[frame["slot"]] = frame["status"]
                elif frame["type"] in ("turn_done", "error"):
                    break
    return statuses


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--chats", type=int, default=6)
    options = parser.parse_args()

    database_url = os.environ.get("SCALE_DATABASE_URL", "mysql://root@127.0.0.1:3306/evalplatform_scale")
    redis_url = os.environ.get("SCALE_REDIS_URL", "redis://127.0.0.1:6379/5")
    work = Path(tempfile.mkdtemp(prefix="scale-out-"))
    fresh_mysql_database(database_url)
    flush_redis(redis_url)
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    env.update(DJANGO_SETTINGS_MODULE="evalplatform.settings", DATABASE_URL=database_url, REDIS_URL=redis_url, DEBUG="1", DATA_DIR=str(work),
               ALLOWED_HOSTS="127.0.0.1,localhost", EVALUATION_HEARTBEAT_STALE="5", Q_WORKERS="2",
               PYTHONUNBUFFERED="1")
    os.environ.update(env)
    processes = Processes(env, work)
    web_ports = [free_port(), free_port()]
    demo = None
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        demo, demo_url = start_demo_llm(log=work / "demo_llm.log")

        import django

        django.setup()
        from django.contrib.auth import get_user_model
        from django.core.management import call_command

        from chat import services as chat_services
        from datasets.models import Dataset
        from evaluations.models import EvaluationItem, EvaluationRun
        from llm_models.models import LLMModel

        get_user_model().objects.create_user("alice", password=PASSWORD)
        call_command("register_demo_models", url=demo_url, verbosity=0)
        call_command("load_demo_datasets", verbosity=0)
        slow = LLMModel.objects.get(model_name="demo-slow")
        slow.extra_body = {"demo": {"ttft": 0.3, "tps": 400}}
        slow.save()
        fast = LLMModel.objects.get(model_name="demo-fast")
        alice = get_user_model().objects.get(username="alice")
        conversations = []
        for _ in range(options.chats):
            conversation = chat_services.conversation_create(owner=alice, model=fast)
            chat_services.slot_add(conversation=conversation, model=fast)
            chat_services.slot_add(conversation=conversation, model=slow)
            conversations.append(conversation.pk)

        web_urls = []
        for index, port in enumerate(web_ports):
            processes.start(f"web{index}", sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                            "evalplatform.asgi:application")
            web_urls.append(f"http://127.0.0.1:{port}")
        for index in range(2):
            processes.start(f"worker{index}", sys.executable, "manage.py", "qcluster")
        for url in web_urls:
            wait_http(f"{url}/accounts/login/")

        sessions = [login(url) for url in web_urls]
        datasets = list(Dataset.objects.order_by("format"))
        form = {"models": [slow.pk], "judge": fast.pk, "datasets": [d.pk for d in datasets],
                "temperature": "0", "max_tokens": "128", "concurrency": "3"}
        for dataset in datasets:
            form[f"subsets_{dataset.pk}"] = list(dataset.subsets)
            form[f"splits_{dataset.pk}"] = list(dataset.splits)
        started = time.monotonic()
        run_ids = [create_evaluation(sessions[i % 2], web_urls[i % 2], form) for i in range(options.runs)]
        print(f"created {len(run_ids)} evaluations through {len(web_urls)} web processes: {run_ids}")

        cookie = "; ".join(f"{k}={v}" for k, v in sessions[0].cookies.items())

        async def chats() -> list[dict]:
            return await asyncio.gather(*(
                chat_turn(web_urls[i % 2], cookie, pk, f"第 {i} 个问题：你好！") for i, pk in enumerate(conversations)
            ))

        chat_results = asyncio.run(chats())
        print(f"{len(chat_results)} chat turns through both web processes: {chat_results}")

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not EvaluationRun.objects.filter(status="running", done_items__gte=3).exists():
            time.sleep(0.2)
        in_flight = EvaluationRun.objects.filter(status="running").count()
        processes.kill("worker0")
        print(f"killed worker0 at {time.monotonic() - started:.1f} s with {in_flight} runs running")

        deadline = time.monotonic() + 240
        runs = EvaluationRun.objects.filter(pk__in=run_ids)
        while time.monotonic() < deadline and runs.exclude(status="done").exists():
            time.sleep(1)
        stats = json.load(urllib.request.urlopen(demo_url.removesuffix("/v1") + "/demo/stats"))

        failures = []
        for run in runs.order_by("pk"):
            print(f"run {run.pk}: {run.status} {run.done_items}/{run.total_items} score {run.score_percent}")
            if run.status != "done" or run.done_items != run.total_items:
                failures.append(f"run {run.pk} did not finish: {run.status}")
        total_items = sum(run.total_items for run in runs)
        # Each conversation's third slot asked demo-slow once; the rest are the evaluations' calls.
        model_calls = stats["requests"].get("demo-slow", 0) - len(chat_results)
        unanswered = EvaluationItem.objects.filter(run__in=runs, answered_at__isnull=True).count()
        # Every item has exactly one stored answer; the model was asked again only for the calls in
        # flight when the worker died (at most concurrency × running runs).
        print(f"items {total_items}, model calls {model_calls}, in flight at the kill ≤ {3 * in_flight}")
        if unanswered:
            failures.append(f"{unanswered} items have no answer")
        if not total_items <= model_calls <= total_items + 3 * max(in_flight, 1):
            failures.append(f"model calls {model_calls} for {total_items} items")
        if any(status != "done" for result in chat_results for status in result.values()) or \
                any(len(result) != 3 for result in chat_results):
            failures.append(f"chat turns did not all finish: {chat_results}")
        print(f"finished in {time.monotonic() - started:.0f} s")
        for failure in failures:
            print("FAILED:", failure)
        if failures:
            print(f"logs: {work}")
        return 1 if failures else 0
    finally:
        processes.stop_all()
        if demo:
            demo.terminate()


if __name__ == "__main__":
    sys.exit(main())
