"""Stored results shaped for the run pages: table rows, and chart descriptions that
perfbench/static/perfbench/charts.js draws with Chart.js. Reads only."""

from typing import Any

from django.utils.translation import gettext_lazy as _

from perfbench.evalscope_output import PERCENTILE_LABELS
from perfbench.models import BenchmarkResult, BenchmarkRun

# (BenchmarkResult field, column title, whether more is better) in the order the tables show them.
METRICS = [
    ("request_throughput", _("Requests/s"), True),
    ("output_throughput", _("Output tok/s"), True),
    ("total_throughput", _("Total tok/s"), True),
    ("avg_latency_s", _("Avg latency (s)"), False),
    ("avg_ttft_ms", _("Avg TTFT (ms)"), False),
    ("avg_tpot_ms", _("Avg TPOT (ms)"), False),
    ("avg_itl_ms", _("Avg ITL (ms)"), False),
    ("avg_input_tokens", _("Avg input tokens"), None),
    ("avg_output_tokens", _("Avg output tokens"), None),
]
PERCENTILE_METRICS = [
    ("ttft_ms", _("Time to first token (ms)")),
    ("latency_s", _("Latency (s)")),
    ("tpot_ms", _("Time per output token (ms)")),
    ("itl_ms", _("Inter-token latency (ms)")),
    ("output_tok_s", _("Output tokens/s per request")),
    ("total_tok_s", _("Total tokens/s per request")),
    ("decode_tok_s", _("Decode tokens/s per request")),
    ("input_tokens", _("Input tokens")),
    ("output_tokens", _("Output tokens")),
]
PERCENTILE_COLUMNS = list(PERCENTILE_LABELS.values())  # min, p1 ... p99, max


def run_form_initial(run: BenchmarkRun) -> dict[str, Any]:
    """The create form filled in like this run, to run it again."""
    single = len(run.pairs) == 1
    return {
        "model": run.model_id, "dataset": run.dataset_id, "subset": run.subset, "split": run.split,
        "concurrency": run.pairs[0][0] if single else 1, "number": run.pairs[0][1] if single else 20,
        "sweep": "" if single else ", ".join(f"{c}x{n}" for c, n in run.pairs),
        "max_tokens": run.max_tokens, "stream": run.stream,
    }


def result_rows(results: list[BenchmarkResult]) -> list[dict[str, Any]]:
    return [
        {"result": result, "values": [getattr(result, field) for field, _title, _better in METRICS]}
        for result in results
    ]


def metric_titles() -> list[str]:
    return [title for _field, title, _better in METRICS]


def percentile_tables(results: list[BenchmarkResult]) -> list[dict[str, Any]]:
    """Per pair: one row per metric, one column per percentile."""
    return [
        {
            "result": result,
            "rows": [
                (title, [result.percentiles[key].get(column) for column in PERCENTILE_COLUMNS])
                for key, title in PERCENTILE_METRICS if key in result.percentiles
            ],
        }
        for result in results
    ]


def _x_labels(results: list[BenchmarkResult]) -> list[str]:
    """Concurrency on the x axis; "c×n" where one concurrency was measured more than once."""
    concurrencies = [result.concurrency for result in results]
    return [
        str(result.concurrency) if concurrencies.count(result.concurrency) == 1
        else f"{result.concurrency}×{result.number}"
        for result in results
    ]


def _series(label: str, values: list, axis: str = "y") -> dict[str, Any]:
    return {"label": str(label), "data": values, "yAxisID": axis}


def run_chart_data(results: list[BenchmarkResult]) -> list[dict[str, Any]]:
    if not results:
        return []
    x = _x_labels(results)

    def values(field: str) -> list:
        return [getattr(result, field) for result in results]

    return [
        {
            "canvas": "chart-throughput", "x": x, "xTitle": str(_("Concurrency")),
            "axes": {"y": str(_("tokens/s")), "y1": str(_("requests/s"))},
            "datasets": [
                _series(_("Output tok/s"), values("output_throughput")),
                _series(_("Total tok/s"), values("total_throughput")),
                _series(_("Requests/s"), values("request_throughput"), "y1"),
            ],
        },
        {
            "canvas": "chart-latency", "x": x, "xTitle": str(_("Concurrency")),
            "axes": {"y": str(_("seconds")), "y1": str(_("milliseconds"))},
            "datasets": [
                _series(_("Avg latency (s)"), values("avg_latency_s")),
                _series(_("Avg TTFT (ms)"), values("avg_ttft_ms"), "y1"),
                _series(_("Avg TPOT (ms)"), values("avg_tpot_ms"), "y1"),
            ],
        },
        {
            "canvas": "chart-percentiles", "x": PERCENTILE_COLUMNS, "xTitle": str(_("Percentile")),
            "choices": [
                {
                    "label": str(title), "yTitle": str(title),
                    "datasets": [
                        _series(f"{result.concurrency}×{result.number}",
                                [result.percentiles[key].get(column) for column in PERCENTILE_COLUMNS])
                        for result in results if key in result.percentiles
                    ],
                }
                for key, title in PERCENTILE_METRICS
                if any(key in result.percentiles for result in results)
            ],
        },
    ]


def _by_concurrency(run: BenchmarkRun) -> dict[int, BenchmarkResult]:
    return {result.concurrency: result for result in run.results.all()}


def _difference(a: float | None, b: float | None, more_is_better: bool | None) -> dict[str, Any]:
    if a is None or b is None or not a:
        return {"percent": None, "better": None}
    percent = (b - a) * 100 / a
    better = None if more_is_better is None or abs(percent) < 0.5 else (percent > 0) == more_is_better
    return {"percent": percent, "better": better}


def comparison_rows(run_a: BenchmarkRun, run_b: BenchmarkRun) -> list[dict[str, Any]]:
    """Results side by side, matched on concurrency (the last pair when one was measured twice);
    the difference is B relative to A."""
    a_results, b_results = _by_concurrency(run_a), _by_concurrency(run_b)
    rows = []
    for concurrency in sorted(set(a_results) | set(b_results)):
        a, b = a_results.get(concurrency), b_results.get(concurrency)
        metrics = []
        for field, title, more_is_better in METRICS:
            a_value = getattr(a, field) if a else None
            b_value = getattr(b, field) if b else None
            difference = _difference(a_value, b_value, more_is_better)
            metrics.append({"title": title, "a": a_value, "b": b_value, **difference})
        rows.append({"concurrency": concurrency, "a": a, "b": b, "metrics": metrics})
    return rows


def comparison_chart_data(run_a: BenchmarkRun, run_b: BenchmarkRun) -> list[dict[str, Any]]:
    a_results, b_results = _by_concurrency(run_a), _by_concurrency(run_b)
    concurrencies = sorted(set(a_results) | set(b_results))
    if not concurrencies:
        return []

    def values(results: dict[int, BenchmarkResult], field: str) -> list:
        return [getattr(results[c], field) if c in results else None for c in concurrencies]

    x = [str(c) for c in concurrencies]
    a_name, b_name = f"A: {run_a.title}", f"B: {run_b.title}"
    return [
        {
            "canvas": "chart-throughput", "x": x, "xTitle": str(_("Concurrency")),
            "axes": {"y": str(_("tokens/s"))},
            "datasets": [
                _series(f"{a_name} — {_('Output tok/s')}", values(a_results, "output_throughput")),
                _series(f"{b_name} — {_('Output tok/s')}", values(b_results, "output_throughput")),
            ],
        },
        {
            "canvas": "chart-latency", "x": x, "xTitle": str(_("Concurrency")),
            "axes": {"y": str(_("seconds")), "y1": str(_("milliseconds"))},
            "datasets": [
                _series(f"{a_name} — {_('Avg latency (s)')}", values(a_results, "avg_latency_s")),
                _series(f"{b_name} — {_('Avg latency (s)')}", values(b_results, "avg_latency_s")),
                _series(f"{a_name} — {_('Avg TTFT (ms)')}", values(a_results, "avg_ttft_ms"), "y1"),
                _series(f"{b_name} — {_('Avg TTFT (ms)')}", values(b_results, "avg_ttft_ms"), "y1"),
            ],
        },
    ]
