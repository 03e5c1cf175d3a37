"""Benchmark: one evalscope perf configuration run with evalscope's CLI directly, then through the
platform (the benchmark service a worker runs), in the same session against the same demo server.

    .venv/bin/python bench/perf_overhead.py
    .venv/bin/python bench/perf_overhead.py --pairs 1x20,8x80 --max-tokens 64 --ttft 0.1 --tps 200

Prints both runs' headline metrics per pair side by side with their relative difference, and the
platform's extra wall time (its run, from creating the row to the stored results, minus the direct
CLI run). Targets: every headline metric within 5% of the direct run; at most 3 s extra wall time.
Uses a fresh SQLite database and DATA_DIR in a temporary folder.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evalplatform.settings")
os.environ.setdefault("DEBUG", "1")
WORK = Path(tempfile.mkdtemp(prefix="bench-perf-"))
os.environ["DATA_DIR"] = str(WORK / "data")
os.environ["DATABASE_URL"] = f"sqlite:///{WORK / 'bench.sqlite3'}"

from evalplatform.devtools import start_demo_llm  # noqa: E402

MAX_METRIC_DIFFERENCE = 5.0  # percent
MAX_EXTRA_SECONDS = 3.0
# (evalscope's benchmark_summary.json key, what the platform stores it as)
HEADLINE = [
    ("Success Requests", "succeeded"),
    ("Req Throughput (req/s)", "request_throughput"),
    ("Output Throughput (tok/s)", "output_throughput"),
    ("Total Throughput (tok/s)", "total_throughput"),
    ("Avg Latency (s)", "avg_latency_s"),
    ("Avg TTFT (ms)", "avg_ttft_ms"),
    ("Avg TPOT (ms)", "avg_tpot_ms"),
]


def options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", default="1x20,8x80", help="concurrency x requests, comma-separated")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--ttft", type=float, default=0.1, help="the demo server's time to first token (s)")
    parser.add_argument("--tps", type=float, default=200, help="the demo server's tokens per second")
    parser.add_argument("--sweep-pause", type=int, default=1, help="seconds between pairs (both runs)")
    parser.add_argument("--keep", action="store_true", help=f"keep the work folder ({WORK})")
    return parser.parse_args()


def direct_run(url: str, questions: list[str], pairs: list[tuple[int, int]], args) -> tuple[float, dict, Path]:
    """evalscope's own console script, as a user would run it (same options as the platform)."""
    folder = WORK / "direct"
    folder.mkdir()
    with (folder / "prompts.jsonl").open("w", encoding="utf-8") as file:
        for question in questions[: max(n for _c, n in pairs)]:
            file.write(json.dumps([{"role": "user", "content": question}], ensure_ascii=False) + "\n")
    command = [
        str(Path(sys.executable).parent / "evalscope"), "perf",
        "--url", f"{url}/chat/completions", "--api", "openai", "--model", "demo-fast",
        "--dataset", "line_by_line", "--dataset-path", "prompts.jsonl",
        "--parallel", *(str(c) for c, _n in pairs), "--number", *(str(n) for _c, n in pairs),
        "--max-tokens", str(args.max_tokens), "--stream", "--sleep-interval", str(args.sweep_pause),
        "--connect-timeout", "10", "--read-timeout", "120", "--no-test-connection",
        "--outputs-dir", "outputs", "--name", "evalscope", "--no-timestamp", "--enable-progress-tracker",
    ]
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    started = time.monotonic()
    with (folder / "console.log").open("wb") as console:
        subprocess.run(command, cwd=folder, env=env, stdout=console, stderr=subprocess.STDOUT, check=True)
    seconds = time.monotonic() - started
    summaries = {
        (c, n): json.loads((folder / "outputs" / "evalscope" / f"parallel_{c}_number_{n}" / "benchmark_summary.json").read_text())
        for c, n in pairs
    }
    return seconds, summaries, folder / "prompts.jsonl"


def main() -> None:
    args = options()
    pairs = [tuple(int(x) for x in pair.lower().split("x")) for pair in args.pairs.split(",")]
    os.environ["PERF_SWEEP_PAUSE"] = str(args.sweep_pause)

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from datasets.models import Dataset, DatasetItem
    from llm_models.services import llm_model_create
    from perfbench import services
    from perfbench.models import BenchmarkRun
    from perfbench.tasks import run_benchmark

    server, url = start_demo_llm("--fast-ttft", str(args.ttft), "--fast-tps", str(args.tps))
    try:
        call_command("migrate", verbosity=0)
        call_command("load_demo_datasets", stdout=open(os.devnull, "w"))
        user = get_user_model().objects.create_user("bench")
        model = llm_model_create(owner=user, name="Demo fast", base_url=url, model_name="demo-fast")
        dataset = Dataset.objects.get(name="Demo QA 问答")
        questions = list(DatasetItem.objects.filter(dataset=dataset).order_by("id").values_list("question", flat=True))
        urllib.request.urlopen(f"{url}/models", timeout=5).close()  # warm the server up

        direct_seconds, direct, direct_prompts = direct_run(url, questions, pairs, args)

        started = time.monotonic()
        run = services.benchmark_run_create(
            owner=user, model=model, dataset=dataset, pairs=pairs, max_tokens=args.max_tokens, stream=True,
            name="bench",
        )
        run_benchmark(run.pk)  # what the worker runs, here in this process
        platform_seconds = time.monotonic() - started
        run = BenchmarkRun.objects.get(pk=run.pk)
        if run.status != BenchmarkRun.Status.DONE:
            raise SystemExit(f"The platform run ended {run.status}: {run.error}\n{run.log[-3000:]}")
        same_prompts = direct_prompts.read_bytes() == (run.folder / "prompts.jsonl").read_bytes()
        report(pairs, direct, {(r.concurrency, r.number): r for r in run.results.all()},
               direct_seconds, platform_seconds, same_prompts, args)
    finally:
        server.terminate()
        server.wait()
        if not args.keep:
            shutil.rmtree(WORK, ignore_errors=True)


def report(pairs, direct, platform, direct_seconds, platform_seconds, same_prompts, args) -> None:
    print(f"evalscope perf against the demo server (TTFT {args.ttft} s, {args.tps:g} tok/s), "
          f"max tokens {args.max_tokens}, streaming, pairs {', '.join(f'{c}x{n}' for c, n in pairs)}")
    print(f"Same prompts file in both runs: {'yes' if same_prompts else 'NO'}\n")
    worst = 0.0
    print(f"{'pair':>8}  {'metric':<28}{'direct CLI':>14}{'platform':>14}{'difference':>12}")
    for pair in pairs:
        for key, field in HEADLINE:
            a, b = direct[pair][key], getattr(platform[pair], field)
            difference = abs(b - a) * 100 / abs(a) if a else (0.0 if a == b else float("inf"))
            worst = max(worst, difference)
            print(f"{pair[0]:>3}x{pair[1]:<4}  {key:<28}{a:>14.4f}{b:>14.4f}{difference:>11.2f}%")
    extra = platform_seconds - direct_seconds
    print(f"\nWall time: direct CLI {direct_seconds:.2f} s, platform {platform_seconds:.2f} s, extra {extra:+.2f} s")
    metrics_ok, time_ok = worst <= MAX_METRIC_DIFFERENCE, extra <= MAX_EXTRA_SECONDS
    print(f"Largest metric difference {worst:.2f}% (target ≤ {MAX_METRIC_DIFFERENCE:g}%): {'met' if metrics_ok else 'NOT met'}")
    print(f"Extra wall time {extra:.2f} s (target ≤ {MAX_EXTRA_SECONDS:g} s): {'met' if time_ok else 'NOT met'}")
    if not (metrics_ok and time_ok and same_prompts):
        sys.exit(1)


if __name__ == "__main__":
    main()
