"""The risk admin: the "risk" group edits limits and stress scenarios (with the model's own
rules), alerts and snapshots are read-only, and the migration's defaults are there."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from portfolio.tests.factories import InstrumentFactory, PortfolioFactory, UserFactory
from risk.models import Alert, RiskLimit, StressScenario, StressShock

pytestmark = pytest.mark.django_db

ADMIN = "/admin/risk"


@pytest.fixture
def risk_officer() -> Client:
    user = UserFactory(username="risk-officer", groups=["risk"])
    user.is_staff = True
    user.save()
    client = Client()
    client.force_login(user)
    return client


def test_the_migration_creates_the_risk_group_and_four_default_scenarios():
    group = Group.objects.get(name="risk")
    perms = set(group.permissions.values_list("codename", flat=True))
    assert {"add_risklimit", "change_risklimit", "delete_risklimit"} <= perms
    assert {"add_stressscenario", "change_stressshock", "view_alert"} <= perms
    assert "change_alert" not in perms and "delete_risksnapshot" not in perms
    scenarios = {s.name: s for s in StressScenario.objects.all()}
    assert set(scenarios) >= {"risk-off", "rates up", "USD rally", "commodity crash"}
    crash = dict(scenarios["commodity crash"].shocks.values_list("asset_class", "shock"))
    assert crash["COMMODITY"] == Decimal("-0.20")


def test_a_risk_officer_adds_a_limit_in_the_admin(risk_officer):
    portfolio = PortfolioFactory()
    # Given the add form, when a limit is posted, then it is stored as entered
    response = risk_officer.post(
        f"{ADMIN}/risklimit/add/",
        {"portfolio": portfolio.id, "metric": "var_99", "soft": "0.02", "hard": "0.03"},
    )
    assert response.status_code == 302, response.content[:2000]
    limit = RiskLimit.objects.get()
    assert (limit.metric, limit.soft, limit.hard) == ("var_99", Decimal("0.02"), Decimal("0.03"))
    # and the list shows it as percentages
    page = risk_officer.get(f"{ADMIN}/risklimit/").content.decode()
    assert "2.00%" in page and "3.00%" in page


@pytest.mark.parametrize(
    ("soft", "hard", "message"),
    [
        ("0.05", "0.03", "must not exceed the hard limit"),
        ("-0.01", "0.03", "greater than or equal to"),
        ("0", "0.03", "greater than or equal to"),
    ],
)
def test_the_admin_refuses_a_bad_limit(risk_officer, soft, hard, message):
    portfolio = PortfolioFactory()
    response = risk_officer.post(
        f"{ADMIN}/risklimit/add/",
        {"portfolio": portfolio.id, "metric": "var_99", "soft": soft, "hard": hard},
    )
    assert response.status_code == 200  # the form again, with the error
    assert message in response.content.decode()
    assert not RiskLimit.objects.exists()


def test_a_risk_officer_edits_a_scenario_with_an_instrument_shock(risk_officer):
    es = InstrumentFactory(symbol="ES")
    scenario = StressScenario.objects.create(name="equity gap")
    response = risk_officer.post(
        f"{ADMIN}/stressscenario/{scenario.id}/change/",
        {
            "name": "equity gap",
            "description": "S&P gaps down",
            "active": "on",
            "shocks-TOTAL_FORMS": "2",
            "shocks-INITIAL_FORMS": "0",
            "shocks-MIN_NUM_FORMS": "0",
            "shocks-MAX_NUM_FORMS": "1000",
            "shocks-0-asset_class": "EQUITY",
            "shocks-0-shock": "-0.05",
            "shocks-1-instrument": es.id,
            "shocks-1-shock": "-0.12",
        },
    )
    assert response.status_code == 302, response.content[:3000]
    shocks = {(s.asset_class, s.instrument_id): s.shock for s in scenario.shocks.all()}
    assert shocks == {("EQUITY", None): Decimal("-0.05"), ("", es.id): Decimal("-0.12")}


def test_a_shock_names_a_class_or_an_instrument_not_both(risk_officer):
    es = InstrumentFactory(symbol="ES")
    scenario = StressScenario.objects.create(name="both")
    response = risk_officer.post(
        f"{ADMIN}/stressscenario/{scenario.id}/change/",
        {
            "name": "both",
            "active": "on",
            "shocks-TOTAL_FORMS": "1",
            "shocks-INITIAL_FORMS": "0",
            "shocks-MIN_NUM_FORMS": "0",
            "shocks-MAX_NUM_FORMS": "1000",
            "shocks-0-asset_class": "EQUITY",
            "shocks-0-instrument": es.id,
            "shocks-0-shock": "-0.05",
        },
    )
    assert response.status_code == 200
    assert "an asset class or to one instrument" in response.content.decode()
    assert not StressShock.objects.filter(scenario=scenario).exists()


def test_alerts_are_read_only_and_a_viewer_sees_no_risk_admin(risk_officer):
    portfolio = PortfolioFactory()
    alert = Alert.objects.create(
        portfolio=portfolio,
        metric="var_99",
        date="2024-03-04",
        value=0.05,
        soft=Decimal("0.02"),
        hard=Decimal("0.03"),
        utilization=0.05 / 0.03,
        message="VaR 99 breach",
    )
    assert risk_officer.get(f"{ADMIN}/alert/").status_code == 200
    assert risk_officer.get(f"{ADMIN}/alert/add/").status_code == 403
    assert (
        risk_officer.post(f"{ADMIN}/alert/{alert.id}/delete/", {"post": "yes"}).status_code == 403
    )
    assert Alert.objects.count() == 1

    viewer = UserFactory(username="viewer-staff", groups=["viewer"])
    viewer.is_staff = True
    viewer.save()
    client = Client()
    client.force_login(viewer)
    assert client.get(f"{ADMIN}/risklimit/").status_code == 403
