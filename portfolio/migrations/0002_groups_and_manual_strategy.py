"""Desk groups (viewer reads, trader books) and the MANUAL strategy every unassigned trade uses."""

from __future__ import annotations

from django.db import migrations

GROUPS = ["viewer", "trader"]


def forwards(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Strategy = apps.get_model("portfolio", "Strategy")
    for name in GROUPS:
        Group.objects.get_or_create(name=name)
    Strategy.objects.get_or_create(code="MANUAL", defaults={"name": "Manual trades"})


def backwards(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [("portfolio", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]
    operations = [migrations.RunPython(forwards, backwards)]
