"""Background jobs for evaluations (django-q2)."""

from evaluations import services


def run_evaluation(run_id: int) -> None:
    services.evaluation_run_execute(run_id=run_id)


def resume_stale_evaluations() -> None:
    services.evaluation_runs_resume_stale()
