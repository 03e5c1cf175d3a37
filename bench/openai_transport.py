"""Benchmark: CPU per streamed chat completion for the openai client over its HTTP transports,
with many streams at once, in the same run against the same demo server.

    .venv/bin/python bench/openai_transport.py [--streams 150] [--rounds 6]

Compares legacy httpx (which the platform passed to the client before), httpx2's own pool (the
SDK's default) and aiohttp (the SDK's DefaultAioHttpClient, which
llm_models.clients.async_openai_client uses); prints CPU ms per stream and the ratio to httpx2.
Each stream goes through chat_completion_stream and sse_events, as chat streams do.
"""

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evalplatform.settings")
os.environ.setdefault("DEBUG", "1")

import django  # noqa: E402

django.setup()

import httpx  # noqa: E402
import httpx2  # noqa: E402
from openai import AsyncOpenAI, DefaultAioHttpClient  # noqa: E402

from chat.streaming import sse_events  # noqa: E402
from evalplatform.devtools import start_demo_llm  # noqa: E402
from llm_models.clients import chat_completion_stream  # noqa: E402

PARAMS = {
    "model": "demo-fast", "messages": [{"role": "user", "content": "Why is the sky blue?"}],
    "max_tokens": 1024, "stream_options": {"include_usage": True},
}


async def one_stream(client: AsyncOpenAI) -> None:
    response = await chat_completion_stream(client, PARAMS)
    try:
        async for _event in sse_events(response):
            pass
    finally:
        await response.aclose()


async def cpu_per_stream(http_client, url: str, streams: int, rounds: int) -> float:
    client = AsyncOpenAI(base_url=url, api_key="no-key", http_client=http_client, max_retries=0)
    async with client:
        await asyncio.gather(*(one_stream(client) for _ in range(streams)))  # Warm-up: connections.
        started = time.process_time()
        for _round in range(rounds):
            await asyncio.gather(*(one_stream(client) for _ in range(streams)))
        return (time.process_time() - started) / (rounds * streams) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    demo, url = start_demo_llm("--fast-ttft", "0.05", "--fast-tps", "200")
    limits = httpx2.Limits(max_connections=1000, max_keepalive_connections=1000)
    try:
        httpx_ms = asyncio.run(cpu_per_stream(httpx.AsyncClient(limits=httpx.Limits(
            max_connections=1000, max_keepalive_connections=1000)), url, args.streams, args.rounds))
        httpx2_ms = asyncio.run(cpu_per_stream(httpx2.AsyncClient(limits=limits), url, args.streams, args.rounds))
        aiohttp_ms = asyncio.run(cpu_per_stream(DefaultAioHttpClient(limits=limits), url, args.streams, args.rounds))
    finally:
        demo.terminate()
        demo.wait()
    print(f"{args.streams} streams at once, {args.rounds} rounds: CPU per stream")
    print(f"  httpx (legacy)        {httpx_ms:6.2f} ms   ({httpx_ms / httpx2_ms:.2f} x httpx2)")
    print(f"  httpx2 (SDK default)  {httpx2_ms:6.2f} ms")
    print(f"  aiohttp               {aiohttp_ms:6.2f} ms   ({aiohttp_ms / httpx2_ms:.2f} x httpx2)")


if __name__ == "__main__":
    main()
