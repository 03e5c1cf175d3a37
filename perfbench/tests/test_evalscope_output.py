"""Parsing the files a real evalscope 1.14.1 run wrote (captured in perfbench/tests/data/)."""

import re
import tomllib
from importlib import metadata
from pathlib import Path

from perfbench import evalscope_output
from perfbench.evalscope_output import pair_result_read

DATA = Path(__file__).parent / "data"


def test_mapping_is_written_for_the_pinned_and_installed_evalscope():
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    pins = [dep for dep in pyproject["project"]["dependencies"] if dep.startswith("evalscope")]
    assert pins == [f"evalscope[perf]=={evalscope_output.EVALSCOPE_VERSION}"]
    assert metadata.version("evalscope") == evalscope_output.EVALSCOPE_VERSION


def test_streamed_pair_gives_every_headline_metric():
    result = pair_result_read(DATA / "stream", 2, 4)
    assert (result.concurrency, result.number) == (2, 4)
    assert result.metrics == {
        "duration_s": 0.1012, "total_requests": 4, "succeeded": 4, "failed": 0,
        "request_throughput": 39.5431, "output_throughput": 632.69, "total_throughput": 1047.8928,
        "avg_latency_s": 0.0504, "avg_ttft_ms": 22.25, "avg_tpot_ms": 1.88, "avg_itl_ms": 1.87,
        "avg_input_tokens": 10.5, "avg_output_tokens": 16.0,
    }
    # Every key evalscope wrote is kept as it named it, including the ones with no column.
    assert result.summary["Stream Requests"] == 4 and result.summary["Request Rate (req/s)"] == -1.0


def test_streamed_pair_gives_percentiles_of_every_metric_from_min_to_max():
    percentiles = pair_result_read(DATA / "stream", 1, 4).percentiles
    assert set(percentiles) == {
        "ttft_ms", "itl_ms", "tpot_ms", "latency_s", "input_tokens", "output_tokens",
        "output_tok_s", "total_tok_s", "decode_tok_s",
    }
    assert list(percentiles["ttft_ms"]) == ["min", "p1", "p5", "p10", "p25", "p50", "p75", "p90", "p95", "p99", "max"]
    assert percentiles["ttft_ms"]["p50"] == 21.965 and percentiles["latency_s"]["max"] == 0.0494
    for values in percentiles.values():
        assert list(values.values()) == sorted(values.values())


def test_non_streamed_pair_has_no_inter_token_latency():
    result = pair_result_read(DATA / "nonstream", 2, 4)
    assert result.metrics["succeeded"] == 4 and result.summary["Non-Stream Requests"] == 4
    assert "itl_ms" not in result.percentiles and "decode_tok_s" not in result.percentiles
    assert result.percentiles["ttft_ms"]["min"] == 54.4682


def test_pair_where_every_request_failed_has_no_averages_and_no_percentiles():
    result = pair_result_read(DATA / "failed", 1, 4)
    assert result.metrics["succeeded"] == 0 and result.metrics["failed"] == 4
    assert result.metrics["avg_latency_s"] is None and result.metrics["avg_ttft_ms"] is None
    assert result.metrics["request_throughput"] == 0.0
    assert result.percentiles == {}
    # evalscope writes -1 and NaN; nothing stored may hold NaN (MySQL's JSON rejects it).
    assert result.summary["Avg TTFT (ms)"] == -1000.0


def test_pair_evalscope_did_not_finish_reads_as_none():
    assert pair_result_read(DATA / "stream", 4, 40) is None


def test_progress_counts_requests_over_the_whole_sweep(tmp_path):
    assert evalscope_output.progress_read(DATA / "stream") == 8
    assert evalscope_output.progress_read(tmp_path) is None


def test_console_output_is_cleaned_of_colours_and_redrawn_progress_bars():
    text = (DATA / "failed" / "console.log").read_bytes().decode()
    assert "\x1b[" in text and "\r" in text
    clean = evalscope_output.console_clean(text)
    assert "\x1b[" not in clean and "\r" not in clean
    assert re.search(r"^\S+ \S+ - evalscope - INFO: Save the result to: out/failed$", clean, re.MULTILINE)


def test_console_error_line_is_the_last_exception_without_its_module_path():
    clean = evalscope_output.console_clean((DATA / "failed" / "console.log").read_bytes().decode())
    assert evalscope_output.console_error_line(clean) == (
        "ClientConnectorError: Cannot connect to host 127.0.0.1:1 ssl:default [Connect call failed ('127.0.0.1', 1)]"
    )
    assert evalscope_output.console_error_line("all fine\n") == ""


def test_log_line_drawn_over_a_progress_bar_keeps_only_the_log_line():
    raw = "first\n\rRunning[perf]:   0%|   | 0/2\r          \r2026 - evalscope - INFO: Starting\x1b[0m\nlast"
    assert evalscope_output.console_clean(raw) == "first\n2026 - evalscope - INFO: Starting\nlast"
