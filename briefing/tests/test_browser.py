"""The morning pack and the dashboard in headless Chromium, as a logged-in desk user sees them:
every chart drawn, no console error, nothing wider than an A4 page, and a printed pack of one
page per section. Screenshots are kept under artifacts/screenshots/."""

from __future__ import annotations

import base64

import pytest
from django.contrib.auth.models import Group

from attribution.tests.fixtures_attribution import book_build, market_build
from briefing import services
from portfolio.tests.factories import PortfolioFactory, UserFactory
from tests.browser import (
    A4_WIDTH_PX,
    console_errors,
    login,
    page_width,
    save_screenshot,
    svg_charts,
)

from .conftest import PACK_DATE, extras_build

pytestmark = pytest.mark.slow
SECTIONS = 7  # header, market moves, positions, risk, proposals, attribution, alerts


def test_the_pack_and_the_dashboard_in_chromium(chromium, live_server, transactional_db):
    # Given the marked desk with its pack of the 10th, and a viewer signed in
    market_build()
    portfolio = book_build(PortfolioFactory(code="MACRO1"), flows=True)
    extras_build(portfolio)
    services.morning_pack_generate(portfolio=portfolio, business_date=PACK_DATE)
    # (a transactional test before this one may have flushed the groups the migrations made)
    Group.objects.get_or_create(name="viewer")
    login(chromium, live_server.url, UserFactory(username="viewer1", groups=["viewer"]))

    # When the browser opens the latest pack
    chromium.get(live_server.url + "/briefing/latest/")
    # Then its four charts are drawn, without a console error, within an A4 width
    charts = svg_charts(chromium)
    assert set(charts) >= {"nav", "attribution", "utilization", "moves"}
    assert all(c["width"] > 100 and c["height"] > 50 for c in charts.values()), charts
    assert console_errors(chromium) == []
    assert page_width(chromium) <= A4_WIDTH_PX
    assert save_screenshot(chromium, "morning_pack").stat().st_size > 10_000
    # And printed on A4 it takes one page per section
    pdf = base64.b64decode(chromium.print_page())
    pages = pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")
    assert pages >= SECTIONS

    # When it opens the dashboard
    chromium.get(live_server.url + "/")
    # Then the limits chart is drawn and the latest pack linked, within an A4 width
    charts = svg_charts(chromium)
    assert charts["utilization"]["width"] > 100
    assert chromium.find_element("css selector", 'a[href="/briefing/2024-04-10/"]')
    assert console_errors(chromium) == []
    assert page_width(chromium) <= A4_WIDTH_PX
    assert save_screenshot(chromium, "dashboard").stat().st_size > 10_000
