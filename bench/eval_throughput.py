"""Benchmark: evaluation throughput against a plain asyncio + AsyncOpenAI loop.

    .venv/bin/python bench/eval_throughput.py [--items 1000] [--concurrency 32]
    DATABASE_URL=mysql://root@127.0.0.1:3306/evalbench .venv/bin/python bench/eval_throughput.py

Starts the demo LLM server with a fixed latency, creates a QA dataset of N items, and in the same
run: (1) the platform's evaluation runner (model call, judge call, parsing, saving each item,
heartbeats) and (2) a plain asyncio loop making the same model and judge calls with the same
concurrency and nothing else. Prints both rates in items/s and their ratio. Target: ≥ 90%.
"""

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = Path(tempfile.mkdtemp(prefix="bench-eval-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evalplatform.settings")
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key")
os.environ.setdefault("DATA_DIR", str(WORK))
os.environ.setdefault("DATABASE_URL", f"sqlite:///{WORK / 'bench.sqlite3'}")

from evalplatform.devtools import fresh_mysql_database, start_demo_llm  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--ttft", type=float, default=0.05, help="demo latency before the first token (s)")
    parser.add_argument("--tps", type=float, default=2000, help="demo tokens per second")
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()

    if os.environ["DATABASE_URL"].startswith("mysql"):
        fresh_mysql_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    from datasets.models import Dataset, DatasetItem
    from evaluations import prompts, services
    from llm_models.clients import async_openai_client, chat_completion_params
    from llm_models.models import LLMModel

    call_command("migrate", verbosity=0)
    server, url = start_demo_llm("--slow-ttft", str(options.ttft), "--slow-tps", str(options.tps))
    try:
        owner = get_user_model().objects.create_user("bench")
        model = LLMModel.objects.create(name="Model", base_url=url, model_name="demo-slow")
        judge = LLMModel.objects.create(name="Judge", base_url=url, model_name="demo-slow")
        dataset = Dataset.objects.create(owner=owner, name="QA", format="qa")
        DatasetItem.objects.bulk_create(
            DatasetItem(dataset=dataset, item_id=str(i), subset="s", split="test",
                        question=f"问题 {i}：如何提高模型在第 {i} 类问题上的表现？", answer=f"参考答案 {i}：多做评测，逐步改进。")
            for i in range(options.items)
        )
        choice = services.DatasetChoice(dataset, ["s"], ["test"])

        questions = list(DatasetItem.objects.filter(dataset=dataset).values_list("question", "answer"))

        def platform_run() -> float:
            """The platform's runner, in process (no queue latency: the runner is what is measured)."""
            run = services.evaluation_run_create(
                owner=owner, model=model, judge=judge, datasets=[choice], temperature=0.0, max_tokens=64,
                concurrency=options.concurrency,
            )
            started = time.perf_counter()
            run = services.evaluation_run_execute(run_id=run.pk)
            seconds = time.perf_counter() - started
            assert run.done_items == options.items and run.scored_items == options.items, (run.done_items, run.error)
            return seconds

        async def plain_loop() -> None:
            """The same model and judge calls, and nothing else."""
            client, judge_client = async_openai_client(model, max_retries=0), async_openai_client(judge, max_retries=0)
            params = chat_completion_params(model, temperature=0.0, max_tokens=64)
            judge_params = chat_completion_params(judge, temperature=0.0, max_tokens=256)
            semaphore = asyncio.Semaphore(options.concurrency)

            async def one(question: str, reference: str) -> None:
                async with semaphore:
                    reply = await client.chat.completions.create(messages=[{"role": "user", "content": question}], **params)
                    answer = reply.choices[0].message.content
                    judge_prompt = prompts.qa_judge_prompt(question=question, reference=reference, answer=answer)
                    await judge_client.chat.completions.create(messages=[{"role": "user", "content": judge_prompt}], **judge_params)

            await asyncio.gather(*(one(q, a) for q, a in questions))
            await client.close()
            await judge_client.close()

        def loop_run() -> float:
            started = time.perf_counter()
            asyncio.run(plain_loop())
            return time.perf_counter() - started

        # Alternate the two, and keep each one's best of the rounds: warm-up and noise hit both.
        platform_times, loop_times = [], []
        for _ in range(options.rounds):
            loop_times.append(loop_run())
            platform_times.append(platform_run())
        platform_seconds, loop_seconds = min(platform_times), min(loop_times)
    finally:
        server.terminate()

    platform_rate, loop_rate = options.items / platform_seconds, options.items / loop_seconds
    print(f"\n== {options.items:,} QA items with judging, concurrency {options.concurrency}, "
          f"demo latency {options.ttft * 1000:.0f} ms + tokens at {options.tps:.0f}/s, {connection.vendor} ==")
    print(f"{'':<34}{'seconds':>9}{'items/s':>10}")
    print(f"{'platform evaluation runner':<34}{platform_seconds:>9.2f}{platform_rate:>10.1f}")
    print(f"{'plain asyncio + AsyncOpenAI loop':<34}{loop_seconds:>9.2f}{loop_rate:>10.1f}")
    print(f"ratio: {platform_rate / loop_rate:.0%} of the plain loop (target ≥ 90%); best of {options.rounds} rounds each")


if __name__ == "__main__":
    main()
