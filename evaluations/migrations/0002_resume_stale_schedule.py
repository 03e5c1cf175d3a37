"""Every minute, the cluster resumes the evaluations whose worker died (no heartbeat for
EVALUATION_HEARTBEAT_STALE seconds), so a crashed worker never leaves a run stuck."""

from django.db import migrations

NAME = "Resume stale evaluations"


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=NAME,
        defaults={"func": "evaluations.tasks.resume_stale_evaluations", "schedule_type": "I", "minutes": 1, "repeats": -1},
    )


def delete_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("evaluations", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]
