"""Background jobs for performance benchmarks (django-q2)."""

from perfbench import services


def run_benchmark(run_id: int) -> None:
    services.benchmark_run_execute(run_id=run_id)
