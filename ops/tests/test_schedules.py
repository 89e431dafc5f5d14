"""The schedules of the pipelines: created by a data migration in UTC, idempotent, in the
admin; and the pipeline runs' admin, read-only."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.contrib import admin
from django.test import Client
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from ops.models import PipelineRun
from portfolio.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

schedules = importlib.import_module("ops.migrations.0002_pipeline_schedules")


def test_the_migration_schedules_the_three_jobs_in_utc():
    tasks = {t.name: t for t in PeriodicTask.objects.select_related("crontab")}
    expected = {
        "eod-pipeline": ("ops.tasks.eod_dispatch_task", "0 21 * * 1-5"),
        "preopen-pipeline": ("ops.tasks.preopen_dispatch_task", "30 9 * * 1-5"),
        "prices-ingest": ("portfolio.tasks.ingest_prices", "0 9 * * 1-5"),
    }
    for name, (task, cron) in expected.items():
        c = tasks[name].crontab
        assert tasks[name].task == task and tasks[name].enabled
        assert f"{c.minute} {c.hour} {c.day_of_month} {c.month_of_year} {c.day_of_week}" == cron
        assert str(c.timezone) == "UTC"


def test_running_the_migration_again_creates_nothing_and_keeps_the_desks_edits():
    eod = PeriodicTask.objects.get(name="eod-pipeline")
    eod.crontab = CrontabSchedule.objects.create(minute="30", hour="21", day_of_week="1-5")
    eod.save()
    counts = (PeriodicTask.objects.count(), CrontabSchedule.objects.count())
    assert schedules.schedules_create(apps) == 0
    assert (PeriodicTask.objects.count(), CrontabSchedule.objects.count()) == counts
    assert PeriodicTask.objects.get(name="eod-pipeline").crontab.hour == "21"
    assert PeriodicTask.objects.get(name="eod-pipeline").crontab.minute == "30"


def test_a_deleted_schedule_comes_back_alone():
    PeriodicTask.objects.filter(name="preopen-pipeline").delete()
    assert schedules.schedules_create(apps) == 1
    assert PeriodicTask.objects.filter(name__in=schedules.SCHEDULES).count() == 3


def test_the_schedules_and_runs_are_in_the_admin():
    assert PeriodicTask in admin.site._registry and CrontabSchedule in admin.site._registry
    client = Client()
    client.force_login(UserFactory(username="root", is_superuser=True, is_staff=True))
    eod = PeriodicTask.objects.get(name="eod-pipeline")
    page = client.get(f"/admin/django_celery_beat/periodictask/{eod.pk}/change/")
    assert page.status_code == 200 and b"ops.tasks.eod_dispatch_task" in page.content
    assert client.get("/admin/ops/pipelinerun/?status__exact=failed").status_code == 200
    runs_admin = admin.site._registry[PipelineRun]
    request = client.get("/admin/").wsgi_request
    assert not runs_admin.has_change_permission(request)
    assert not runs_admin.has_add_permission(request)
    assert not runs_admin.has_delete_permission(request)
