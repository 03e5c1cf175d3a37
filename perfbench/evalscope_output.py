"""The one place that knows evalscope perf's output: folder layout, file names and metric keys.

Written against evalscope 1.14.1 (pinned in pyproject.toml); the tests parse files captured from
a real run of that version (perfbench/tests/data/). When evalscope is upgraded, check its
`evalscope/perf/utils/perf_constants.py` and update the tables below.
"""

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EVALSCOPE_VERSION = "1.14.1"

# Inside --outputs-dir, evalscope writes to <name>/ (with --no-timestamp), one folder per pair.
OUTPUT_NAME = "evalscope"
SUMMARY_FILE = "benchmark_summary.json"
PERCENTILE_FILE = "benchmark_percentile.json"
PROGRESS_FILE = "progress.json"  # written with --enable-progress-tracker

# benchmark_summary.json key -> BenchmarkResult field. evalscope writes -1 for an average it
# has no sample for (every request failed); those become None.
SUMMARY_FIELDS = {
    "Test Duration (s)": "duration_s",
    "Total Requests": "total_requests",
    "Success Requests": "succeeded",
    "Failed Requests": "failed",
    "Req Throughput (req/s)": "request_throughput",
    "Output Throughput (tok/s)": "output_throughput",
    "Total Throughput (tok/s)": "total_throughput",
    "Avg Latency (s)": "avg_latency_s",
    "Avg TTFT (ms)": "avg_ttft_ms",
    "Avg TPOT (ms)": "avg_tpot_ms",
    "Avg ITL (ms)": "avg_itl_ms",
    "Avg Input Tokens": "avg_input_tokens",
    "Avg Output Tokens": "avg_output_tokens",
}
COUNT_FIELDS = {"total_requests", "succeeded", "failed"}

# benchmark_percentile.json column -> our metric key (the unit is part of the name).
PERCENTILE_METRICS = {
    "TTFT (ms)": "ttft_ms",
    "ITL (ms)": "itl_ms",
    "TPOT (ms)": "tpot_ms",
    "Latency (s)": "latency_s",
    "Input tokens": "input_tokens",
    "Output tokens": "output_tokens",
    "Output (tok/s)": "output_tok_s",
    "Total (tok/s)": "total_tok_s",
    "Decode (tok/s)": "decode_tok_s",
}
# The "Percentiles" column of each row -> our label.
PERCENTILE_LABELS = {
    "min": "min", "1%": "p1", "5%": "p5", "10%": "p10", "25%": "p25", "50%": "p50",
    "75%": "p75", "90%": "p90", "95%": "p95", "99%": "p99", "max": "max",
}
PERCENTILE_KEY_COLUMN = "Percentiles"

_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# The last line of a Python traceback: "package.module.SomeError: what happened".
_EXCEPTION_LINE = re.compile(r"^(?:[A-Za-z_][\w]*\.)*([A-Za-z_]\w*(?:Error|Exception|Exit)): (.+)$")


@dataclass
class PairResult:
    """What evalscope measured for one concurrency/number pair, in our names."""

    concurrency: int
    number: int
    metrics: dict[str, float | int | None] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    percentiles: dict[str, dict[str, float | None]] = field(default_factory=dict)


def pair_folder_name(concurrency: int, number: int) -> str:
    return f"parallel_{concurrency}_number_{number}"


def output_folder(outputs_dir: Path) -> Path:
    return Path(outputs_dir) / OUTPUT_NAME


def _finite(value: Any) -> Any:
    """JSON-safe: NaN and infinities (evalscope writes NaN for empty columns) become None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _read_json(path: Path) -> Any:
    # evalscope writes bare NaN, which json.loads accepts.
    return json.loads(Path(path).read_text(encoding="utf-8"))


def summary_parse(raw: dict[str, Any]) -> tuple[dict[str, float | int | None], dict[str, Any]]:
    """benchmark_summary.json -> (typed headline metrics, every key as evalscope named it)."""
    summary = {key: _finite(value) for key, value in raw.items()}
    metrics: dict[str, float | int | None] = {}
    for key, name in SUMMARY_FIELDS.items():
        value = summary.get(key)
        if name in COUNT_FIELDS:
            metrics[name] = int(value) if isinstance(value, (int, float)) else 0
        elif not isinstance(value, (int, float)) or value < 0:
            metrics[name] = None
        else:
            metrics[name] = float(value)
    return metrics, summary


def percentiles_parse(rows: list[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """benchmark_percentile.json (one row per percentile) -> {metric: {label: value}}."""
    table: dict[str, dict[str, float | None]] = {}
    for row in rows:
        label = PERCENTILE_LABELS.get(str(row.get(PERCENTILE_KEY_COLUMN)))
        if label is None:
            continue
        for column, metric in PERCENTILE_METRICS.items():
            if column in row:
                table.setdefault(metric, {})[label] = _finite(row[column])
    # A column without any value (e.g. ITL of a non-streamed run) says nothing: leave it out.
    return {metric: values for metric, values in table.items() if any(v is not None for v in values.values())}


def pair_result_read(outputs_dir: Path, concurrency: int, number: int) -> PairResult | None:
    """The pair's result, or None when evalscope did not finish that pair."""
    folder = output_folder(outputs_dir) / pair_folder_name(concurrency, number)
    summary_path = folder / SUMMARY_FILE
    if not summary_path.is_file():
        return None
    metrics, summary = summary_parse(_read_json(summary_path))
    percentile_path = folder / PERCENTILE_FILE
    percentiles = percentiles_parse(_read_json(percentile_path)) if percentile_path.is_file() else {}
    return PairResult(concurrency, number, metrics, summary, percentiles)


def progress_read(outputs_dir: Path) -> int | None:
    """Requests finished so far over the whole sweep, from progress.json; None before it exists."""
    try:
        state = _read_json(output_folder(outputs_dir) / PROGRESS_FILE)
    except (OSError, ValueError):
        return None  # Not written yet (or caught between write and rename).
    count = state.get("processed_count") if isinstance(state, dict) else None
    return count if isinstance(count, int) else None


def console_clean(text: str) -> str:
    """evalscope's console output as plain lines: colours removed, and of the progress bars
    redrawn with carriage returns only what a terminal would finally show."""
    # Not splitlines(): it would split at the carriage returns too.
    return "\n".join(_ANSI_ESCAPE.sub("", line.rsplit("\r", 1)[-1]).rstrip() for line in text.split("\n"))


def console_error_line(text: str) -> str:
    """The last exception evalscope printed ("ClientConnectorError: Cannot connect ..."), or ""."""
    for line in reversed(text.splitlines()):
        match = _EXCEPTION_LINE.match(line.strip())
        if match:
            return f"{match.group(1)}: {match.group(2)}"
    return ""
