"""Reads for evaluation reports: score tables, the comparison of runs, exports."""

import csv
import json
from collections.abc import Iterable, Iterator

from evaluations.models import EvaluationItem, EvaluationRun

EXPORT_FIELDS = [
    "dataset", "subset", "split", "item_id", "question", "choices", "reference", "answer",
    "extracted", "score", "is_correct", "judge_score", "judge_reason", "judge_reply", "judge_error",
    "status", "error", "prompt_tokens", "completion_tokens", "latency_ms",
]


def _percent(mean: float | None) -> float | None:
    return None if mean is None else round(mean * 100, 1)


def breakdown(run: EvaluationRun) -> list[dict]:
    """Rows for the report: each dataset's total, then its subsets."""
    rows = []
    by_dataset: dict[int, dict] = {}
    for row in run.items.breakdown():
        dataset = by_dataset.setdefault(row["run_dataset_id"], {
            "dataset_id": row["run_dataset_id"], "name": row["run_dataset__dataset_name"],
            "total": 0, "failed": 0, "scored": 0, "score_sum": 0.0, "subsets": [],
        })
        dataset["subsets"].append({**row, "score": _percent(row["mean"])})
        dataset["total"] += row["total"]
        dataset["failed"] += row["failed"]
        dataset["scored"] += row["scored"]
        dataset["score_sum"] += (row["mean"] or 0) * row["scored"]
    for dataset in by_dataset.values():
        dataset["score"] = _percent(dataset["score_sum"] / dataset["scored"]) if dataset["scored"] else None
        rows.append(dataset)
    return rows


def comparison(runs: list[EvaluationRun]) -> list[dict]:
    """One row per dataset and subset (by name), one score cell per run, in the runs' order."""
    cells: dict[tuple[str, str], dict[int, float | None]] = {}
    overall: dict[str, dict[int, float | None]] = {}
    for run in runs:
        for dataset in breakdown(run):
            overall.setdefault(dataset["name"], {})[run.pk] = dataset["score"]
            for subset in dataset["subsets"]:
                cells.setdefault((dataset["name"], subset["subset"]), {})[run.pk] = subset["score"]
    table = []
    for name in overall:
        table.append({"dataset": name, "subset": "", "scores": [overall[name].get(run.pk) for run in runs]})
        for (dataset_name, subset), scores in cells.items():
            if dataset_name == name:
                table.append({"dataset": name, "subset": subset, "scores": [scores.get(run.pk) for run in runs]})
    return table


def item_rows(run: EvaluationRun) -> Iterator[dict]:
    items = run.items.select_related("run_dataset").order_by("id")
    for item in items.iterator(chunk_size=1000):
        yield {
            "dataset": item.run_dataset.dataset_name, "subset": item.subset, "split": item.split,
            "item_id": item.item_id, "question": item.question, "choices": item.choices,
            "reference": item.reference, "answer": item.answer, "extracted": item.extracted,
            "score": item.score, "is_correct": item.is_correct, "judge_score": item.judge_score,
            "judge_reason": item.judge_reason, "judge_reply": item.judge_reply,
            "judge_error": item.judge_error, "status": item.status, "error": item.error,
            "prompt_tokens": item.prompt_tokens, "completion_tokens": item.completion_tokens,
            "latency_ms": item.latency_ms,
        }


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[dict]) -> Iterator[str]:
    writer = csv.DictWriter(_Echo(), fieldnames=EXPORT_FIELDS)
    yield "\ufeff" + writer.writeheader()
    for row in rows:
        yield writer.writerow({**row, "choices": json.dumps(row["choices"], ensure_ascii=False) if row["choices"] else ""})


def run_summary(run: EvaluationRun) -> dict:
    return {
        "id": run.pk, "name": run.name, "model": run.model_label, "judge": run.judge_label,
        "model_params": run.model_params, "judge_params": run.judge_params, "status": run.status,
        "score": run.score_percent, "total_items": run.total_items, "answered": run.done_items,
        "failed": run.failed_items, "prompt_tokens": run.prompt_tokens,
        "completion_tokens": run.completion_tokens, "judge_tokens": run.judge_tokens,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "datasets": [
            {"name": d["name"], "score": d["score"], "subsets": {s["subset"]: s["score"] for s in d["subsets"]}}
            for d in breakdown(run)
        ],
    }


def json_document(run: EvaluationRun, rows: Iterable[dict]) -> Iterator[str]:
    """{"run": {...}, "items": [...]}, streamed item by item."""
    yield '{"run": ' + json.dumps(run_summary(run), ensure_ascii=False) + ', "items": ['
    for index, row in enumerate(rows):
        yield ("," if index else "") + "\n" + json.dumps(row, ensure_ascii=False)
    yield "\n]}\n"
