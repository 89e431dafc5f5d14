"""The "risk" group (edits limits and stress scenarios) and the default stress scenarios.

Shocks are returns of each position's value in base currency (−0.10 = −10 %). Bond futures fall
when yields rise; the FX futures of the demo are quoted in USD, so a USD rally is a fall.
"""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "risk"
# (model, actions) the risk group holds.
PERMISSIONS = {
    "risklimit": ("add", "change", "delete", "view"),
    "stressscenario": ("add", "change", "delete", "view"),
    "stressshock": ("add", "change", "delete", "view"),
    "alert": ("view",),
    "risksnapshot": ("view",),
}

SCENARIOS = {
    "risk-off": (
        "Flight to quality: equities −10 %, commodities −8 %, credit −3 %, FX −3 % "
        "(USD bid), bonds +2 %",
        {"EQUITY": "-0.10", "COMMODITY": "-0.08", "CREDIT": "-0.03", "FX": "-0.03", "RATES": "0.02"},
    ),
    "rates up": (
        "Yields +100 bp: bond futures −6 %, equities −3 %, credit −1.5 %",
        {"RATES": "-0.06", "EQUITY": "-0.03", "CREDIT": "-0.015"},
    ),
    "USD rally": (
        "The dollar +5 %: FX futures −5 %, commodities −4 %, equities −2 %",
        {"FX": "-0.05", "COMMODITY": "-0.04", "EQUITY": "-0.02"},
    ),
    "commodity crash": (
        "Commodities −20 %, equities −4 %, credit −2 %, FX −2 %, bonds +1 %",
        {"COMMODITY": "-0.20", "EQUITY": "-0.04", "CREDIT": "-0.02", "FX": "-0.02", "RATES": "0.01"},
    ),
}


def forwards(apps, schema_editor):
    # Permissions are normally created after all migrations; the group needs them now.
    risk_app = apps.get_app_config("risk")
    risk_app.models_module = True
    create_permissions(risk_app, apps=apps, verbosity=0)
    risk_app.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP)
    codenames = [f"{a}_{model}" for model, actions in PERMISSIONS.items() for a in actions]
    group.permissions.add(
        *Permission.objects.filter(content_type__app_label="risk", codename__in=codenames)
    )

    Scenario = apps.get_model("risk", "StressScenario")
    Shock = apps.get_model("risk", "StressShock")
    for name, (description, shocks) in SCENARIOS.items():
        scenario, created = Scenario.objects.get_or_create(
            name=name, defaults={"description": description}
        )
        if created:
            Shock.objects.bulk_create(
                Shock(scenario=scenario, asset_class=cls, shock=Decimal(v))
                for cls, v in shocks.items()
            )


def backwards(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP).delete()
    apps.get_model("risk", "StressScenario").objects.filter(name__in=SCENARIOS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("risk", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(forwards, backwards)]
