"""Benchmark: N concurrent chat sessions, each sending one message to three model slots over the
websocket of a live Daphne, next to the same N x 3 streams made directly with the async openai
client against the same demo server, in the same run. The direct client is the one the platform
builds (llm_models.clients) and reads its streams as the platform does, so the difference is what
the platform adds: the websocket, the consumer, the database and the pages.

    .venv/bin/python bench/chat_fanout.py --sessions 50
    .venv/bin/python bench/chat_fanout.py --sessions 10 --rounds 5 --ttft 0.05 --tps 200

Prints the median and p95 time to first token of both (platform: from sending the message to the
slot's first chunk frame; direct: from the request to the first content chunk) and the ratio of a
turn's wall time (message sent to "turn_done" received) to its slowest slot (the slot's upstream
stream as the server timed it). Targets at 50 sessions: median time to first token at most 20 ms
above direct; median wall time at most 1.1 x the slowest slot.

Every session (and the direct client) pauses --pause seconds between turns, as a person reads the
answers before writing again. Uses a fresh SQLite database and DATA_DIR in a temporary folder,
with persistent database connections (--db-options), as the MySQL settings use in production.
"""

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = Path(tempfile.mkdtemp(prefix="bench-chat-"))
# The platform as deployed: DEBUG off (DEBUG on keeps every SQL query in memory).
BENCH_ENV = {
    "DJANGO_SETTINGS_MODULE": "evalplatform.settings",
    "DEBUG": "0",
    "SECRET_KEY": "bench-chat-fanout-" + os.urandom(16).hex(),
    "DATA_DIR": str(WORK / "data"),
    "STATIC_ROOT": str(WORK / "static"),
    "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
}
os.environ.update(BENCH_ENV)
os.environ.pop("REDIS_URL", None)

from evalplatform.devtools import free_port, start_demo_llm, wait_http  # noqa: E402

TTFT_TARGET_MS = 20.0
WALL_RATIO_TARGET = 1.1
SLOTS = 3
QUESTIONS = [
    "Explain attention in transformers", "What makes a good unit test?", "How do vaccines work?",
    "Compare TCP and UDP", "Why is the sky blue?", "Summarise the causes of inflation",
]


def options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=50, help="concurrent chat sessions")
    parser.add_argument("--rounds", type=int, default=3, help="measured turns per session (after one warm-up)")
    parser.add_argument("--ttft", type=float, default=0.05, help="the demo server's time to first token (s)")
    parser.add_argument("--tps", type=float, default=200, help="the demo server's tokens per second")
    parser.add_argument("--pause", type=float, default=0.5, help="seconds between a session's turns")
    parser.add_argument("--web-processes", type=int, default=1, help="Daphne processes (tools/serve_web.py)")
    parser.add_argument("--db-options", default="?conn_max_age=60", help="appended to the SQLite DATABASE_URL")
    parser.add_argument("--keep", action="store_true", help=f"keep the work folder ({WORK})")
    args = parser.parse_args()
    BENCH_ENV["DATABASE_URL"] = f"sqlite:///{WORK / 'bench.sqlite3'}{args.db_options}"
    os.environ.update(BENCH_ENV)
    return args


def start(command: list[str], url: str, what: str) -> subprocess.Popen:
    log = (WORK / f"{what.split()[0].lower()}.log").open("wb")
    process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **BENCH_ENV}, stdout=log, stderr=subprocess.STDOUT)
    wait_http(url, process, log=Path(log.name))
    return process


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def setup_platform(demo_url: str, sessions: int) -> tuple[list[int], str]:
    """A user with one three-slot conversation per session; returns their ids and a session cookie."""
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, check=True)
    import django

    django.setup()
    from django.conf import settings
    from django.test import Client

    from accounts.models import User
    from chat import services
    from llm_models.models import LLMModel

    user = User.objects.create_user(username="bench", password=os.urandom(8).hex())
    models = [
        LLMModel.objects.create(name=f"Demo {letter}", base_url=demo_url, model_name="demo-fast")
        for letter in "ABC"[:SLOTS]
    ]
    conversation_ids = []
    for _session in range(sessions):
        conversation = services.conversation_create(owner=user, model=models[0])
        for model in models[1:]:
            services.slot_add(conversation=conversation, model=model)
        conversation_ids.append(conversation.pk)
    client = Client()
    client.force_login(user)
    return conversation_ids, f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def slowest_slots_ms(message_ids: list[int]) -> dict[int, int]:
    """Each turn's slowest slot, as the server timed its upstream stream (once all are stored)."""
    from django.db.models import Max

    from chat.models import Answer

    answers = Answer.objects.filter(message_id__in=message_ids)
    for _attempt in range(100):
        if answers.count() == SLOTS * len(message_ids) and not answers.filter(total_ms=None).exists():
            break
        time.sleep(0.1)
    else:
        raise SystemExit("The platform did not store every answer.")
    rows = answers.values("message_id").annotate(slowest=Max("total_ms"))
    return {row["message_id"]: row["slowest"] for row in rows}


# The two ways of streaming


async def platform_turns(session, ws_url: str, origin: str, cookie: str, conversation_ids: list[int], rounds: int, pause: float):
    """Every session sends its message at the same moment, `rounds` times after a warm-up turn."""
    sockets = await asyncio.gather(*(
        session.ws_connect(f"{ws_url}/ws/chat/{pk}/", headers={"Origin": origin, "Cookie": cookie}, max_msg_size=0)
        for pk in conversation_ids
    ))
    results = []  # (ttft_ms per slot, wall_ms, message_id)
    try:
        for round_number in range(rounds + 1):
            turns = await asyncio.gather(*(
                platform_turn(ws, QUESTIONS[(index + round_number) % len(QUESTIONS)])
                for index, ws in enumerate(sockets)
            ))
            if round_number:  # The first round warms up: templates, clients, connections.
                results += turns
            await asyncio.sleep(pause)
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets))
    return results


async def platform_turn(ws, question: str):
    first_chunk: dict[int, float] = {}
    message_id = None
    sent = time.perf_counter()
    await ws.send_str(json.dumps({"type": "send", "content": question}))
    async for received in ws:
        frame = json.loads(received.data)
        if frame["type"] == "chunk":
            first_chunk.setdefault(frame["slot"], time.perf_counter())
        elif frame["type"] == "done" and frame["status"] != "done":
            raise SystemExit(f"A slot ended with status {frame['status']}.")
        elif frame["type"] == "error":
            raise SystemExit(f"The platform refused the message: {frame['message']}")
        elif frame["type"] == "turn_done":
            message_id = frame["message_id"]
            break
    wall = time.perf_counter() - sent
    ttfts = [(at - sent) * 1000 for at in first_chunk.values()]
    return ttfts, wall * 1000, message_id


async def direct_turns(client, sessions: int, rounds: int, pause: float) -> list[float]:
    ttfts: list[float] = []
    for round_number in range(rounds + 1):
        turn = await asyncio.gather(*(
            direct_stream(client, QUESTIONS[(index + round_number) % len(QUESTIONS)])
            for index in range(sessions) for _slot in range(SLOTS)
        ))
        if round_number:
            ttfts += turn
        await asyncio.sleep(pause)
    return ttfts


async def direct_stream(client, question: str) -> float:
    """One stream through the platform's own client and reader, without the platform around it."""
    from chat.streaming import sse_events
    from llm_models.clients import chat_completion_stream

    started = time.perf_counter()
    first = None
    response = await chat_completion_stream(client, {
        "model": "demo-fast", "messages": [{"role": "user", "content": question}], "temperature": 0.7,
        "max_tokens": 1024, "stream_options": {"include_usage": True},
    })
    try:
        async for event in sse_events(response):
            choices = event.get("choices") or [{}]
            if first is None and (choices[0].get("delta") or {}).get("content"):
                first = time.perf_counter()
    finally:
        await response.aclose()
    return (first - started) * 1000


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time these processes have used so far (Linux)."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def child_pids(pid: int) -> list[int]:
    """The Daphne processes tools/serve_web.py started."""
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


# Report


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def report(args, platform_ttft: list[float], direct_ttft: list[float], ratios: list[float]) -> bool:
    median_gap = statistics.median(platform_ttft) - statistics.median(direct_ttft)
    median_ratio = statistics.median(ratios)
    print(f"\n{args.sessions} sessions x {SLOTS} slots, {args.rounds} measured rounds, {args.pause:g} s between turns, "
          f"{args.web_processes} Daphne process(es) on {os.cpu_count()} cores; "
          f"demo ttft {args.ttft * 1000:.0f} ms, {args.tps:g} tokens/s; database options {args.db_options or '(none)'}\n")
    print(f"{'time to first token (ms)':<28}{'median':>10}{'p95':>10}{'samples':>10}")
    print(f"{'  platform (websocket)':<28}{statistics.median(platform_ttft):>10.1f}{percentile(platform_ttft, 0.95):>10.1f}{len(platform_ttft):>10}")
    print(f"{'  direct (AsyncOpenAI)':<28}{statistics.median(direct_ttft):>10.1f}{percentile(direct_ttft, 0.95):>10.1f}{len(direct_ttft):>10}")
    print(f"{'  platform - direct':<28}{median_gap:>10.1f}{percentile(platform_ttft, 0.95) - percentile(direct_ttft, 0.95):>10.1f}")
    print(f"\n{'turn wall / slowest slot':<28}{median_ratio:>10.3f}{percentile(ratios, 0.95):>10.3f}{len(ratios):>10}\n")
    ttft_ok = median_gap <= TTFT_TARGET_MS
    ratio_ok = median_ratio <= WALL_RATIO_TARGET
    print(f"target: median TTFT <= direct + {TTFT_TARGET_MS:.0f} ms: {'met' if ttft_ok else 'NOT met'} ({median_gap:+.1f} ms)")
    print(f"target: median wall <= {WALL_RATIO_TARGET} x slowest slot: {'met' if ratio_ok else 'NOT met'} ({median_ratio:.3f})")
    return ttft_ok and ratio_ok


async def measure(args, demo_url: str, ws_url: str, conversation_ids: list[int], cookie: str, pids: dict[str, int]):
    import aiohttp

    from llm_models.clients import async_openai_client
    from llm_models.models import LLMModel

    direct_client = async_openai_client(LLMModel(base_url=demo_url, model_name="demo-fast"), max_retries=0)
    connector = aiohttp.TCPConnector(limit=0)
    cpu = {}
    async with aiohttp.ClientSession(connector=connector) as session, direct_client:
        before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        started = time.perf_counter()
        direct_ttft = await direct_turns(direct_client, args.sessions, args.rounds, args.pause)
        middle = {name: cpu_seconds(pid) for name, pid in pids.items()}
        cpu["direct"] = (time.perf_counter() - started, {n: middle[n] - before[n] for n in pids})
        origin = ws_url.replace("ws://", "http://")
        started = time.perf_counter()
        turns = await platform_turns(session, ws_url, origin, cookie, conversation_ids, args.rounds, args.pause)
        after = {name: cpu_seconds(pid) for name, pid in pids.items()}
        cpu["platform"] = (time.perf_counter() - started, {n: after[n] - middle[n] for n in pids})
    for phase, (seconds, used) in cpu.items():
        shares = ", ".join(f"{name} {value:.2f} s" for name, value in used.items())
        print(f"{phase} phase: {seconds:.2f} s wall; CPU used: {shares}")
    return direct_ttft, turns


def main() -> None:
    args = options()
    processes = []
    try:
        web_port = free_port()
        demo, demo_url = start_demo_llm("--fast-ttft", str(args.ttft), "--fast-tps", str(args.tps))
        processes.append(demo)
        conversation_ids, cookie = setup_platform(demo_url, args.sessions)
        processes.append(start(
            [sys.executable, "tools/serve_web.py", "--port", str(web_port),
             "--processes", str(args.web_processes), "--", "-v", "0"],
            f"http://127.0.0.1:{web_port}/accounts/login/", "Daphne",
        ))
        ws_url = f"ws://127.0.0.1:{web_port}"
        pids = {"bench": [os.getpid()], "demo server": [processes[0].pid], "daphne": child_pids(processes[1].pid)}
        direct_ttft, turns = asyncio.run(measure(args, demo_url, ws_url, conversation_ids, cookie, pids))
        slowest = slowest_slots_ms([message_id for _ttfts, _wall, message_id in turns])
        platform_ttft = [ttft for ttfts, _wall, _message_id in turns for ttft in ttfts]
        ratios = [wall / slowest[message_id] for _ttfts, wall, message_id in turns]
        met = report(args, platform_ttft, direct_ttft, ratios)
    finally:
        for process in reversed(processes):
            stop(process)
        if not args.keep:
            shutil.rmtree(WORK, ignore_errors=True)
    sys.exit(0 if met else 1)


if __name__ == "__main__":
    main()
