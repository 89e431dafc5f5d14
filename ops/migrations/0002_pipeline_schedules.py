"""The desk's three schedules in django-celery-beat (SPEC §8), created idempotently.

Each crontab carries its own timezone, set explicitly to UTC (a crontab left to the server's
zone shifts by an hour twice a year). A task is found by its unique name: running this again
creates nothing, and a schedule the desk edited in the admin is left as it is. Reversing leaves
them too: deleting the desk's schedules on a rollback would stop the pipelines silently.
"""

from __future__ import annotations

from django.db import migrations
from django.utils import timezone

# name: (task, minute, hour, day_of_week, description)
SCHEDULES = {
    "prices-ingest": (
        "portfolio.tasks.ingest_prices",
        "0",
        "9",
        "1-5",
        "09:00 UTC Mon–Fri: the daily closes from the drop folder",
    ),
    "eod-pipeline": (
        "ops.tasks.eod_dispatch_task",
        "0",
        "21",
        "1-5",
        "21:00 UTC Mon–Fri: mark-to-market → risk snapshot → attribution → warm caches",
    ),
    "preopen-pipeline": (
        "ops.tasks.preopen_dispatch_task",
        "30",
        "9",
        "1-5",
        "09:30 UTC Mon–Fri: expire proposals → signals → proposals → morning pack → warm caches",
    ),
}


def schedules_create(apps, schema_editor=None) -> int:
    """Create what is missing; returns how many tasks were created."""
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    created = 0
    for name, (task, minute, hour, day_of_week, description) in SCHEDULES.items():
        if PeriodicTask.objects.filter(name=name).exists():
            continue
        crontab, _ = CrontabSchedule.objects.get_or_create(
            minute=minute,
            hour=hour,
            day_of_week=day_of_week,
            day_of_month="*",
            month_of_year="*",
            timezone="UTC",
        )
        PeriodicTask.objects.create(
            name=name, task=task, crontab=crontab, description=description, enabled=True
        )
        created += 1
    if created:
        # A running beat (DatabaseScheduler) reloads its schedule when this stamp changes.
        PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})
    return created


class Migration(migrations.Migration):
    dependencies = [
        ("ops", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(schedules_create, migrations.RunPython.noop)]
