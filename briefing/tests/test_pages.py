"""The printable morning pack and the desk dashboard, through Django's test client."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.test import Client

from briefing import services
from portfolio.tests.factories import PortfolioFactory, UserFactory

from .conftest import PACK_DATE

CHARTS = ("nav", "attribution", "utilization", "moves")


@pytest.fixture
def reader(db) -> Client:
    client = Client()
    client.force_login(UserFactory(username="viewer1", groups=["viewer"]))
    return client


@pytest.fixture
def pack(desk):
    return services.morning_pack_generate(portfolio=desk, business_date=PACK_DATE)


def charts_in(html: str) -> set[str]:
    return set(re.findall(r'<svg[^>]*data-chart="([a-z_]+)"', html))


@pytest.mark.parametrize("path", ["/", "/briefing/latest/", "/briefing/2024-04-10/"])
def test_anonymous_visitors_are_sent_to_the_login(desk, client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={path}"


def test_a_viewer_logs_in_on_the_desk_login_page_and_out(desk, client):
    # Given a viewer (not staff: the admin's login would refuse them)
    user = UserFactory(username="viewer2", groups=["viewer"])
    user.set_password("s3cret-Pw!")
    user.save()
    # When they log in through the desk's page, from the pack they wanted
    page = client.get("/login/?next=/briefing/latest/")
    assert page.status_code == 200 and 'name="password"' in page.content.decode()
    wrong = client.post("/login/", {"username": "viewer2", "password": "nope", "next": "/"})
    assert wrong.status_code == 200 and "correct username and password" in wrong.content.decode()
    response = client.post(
        "/login/", {"username": "viewer2", "password": "s3cret-Pw!", "next": "/briefing/latest/"}
    )
    # Then they land there, and the dashboard offers a log out
    assert response.status_code == 302 and response["Location"] == "/briefing/latest/"
    html = client.get("/").content.decode()
    assert "Log out viewer2" in html
    assert client.post("/logout/")["Location"] == "/login/"
    assert client.get("/").status_code == 302


def test_a_user_without_a_desk_role_is_refused(desk, pack):
    client = Client()
    client.force_login(UserFactory(username="nobody", groups=[]))
    assert client.get("/briefing/latest/").status_code == 403
    assert client.get("/").status_code == 403


def test_the_pack_page_shows_every_section_with_its_charts(reader, pack):
    response = reader.get("/briefing/latest/")
    assert response.status_code == 200
    html = response.content.decode()
    assert charts_in(html) >= set(CHARTS)
    # the NAV formatted for reading, the proposal linked to its admin page, the breach named
    nav = Decimal(pack.content["header"]["nav"])
    assert f"{nav:,.2f}" in html
    proposal = pack.content["proposals"][0]
    assert f'href="{proposal["admin_url"]}"' in html
    assert "Add to the trend into the data" in html
    assert "gross_leverage" in html
    # no external asset: no stylesheet link, no script source, no remote URL outside the SVGs
    assert '<link rel="stylesheet"' not in html and "<script src" not in html
    outside_svg = re.sub(r"<svg.*?</svg>", "", html, flags=re.S)
    assert not re.search(r"(src|href)=\"https?://", outside_svg)
    # the same page by date
    by_date = reader.get("/briefing/2024-04-10/")
    assert by_date.status_code == 200
    assert charts_in(by_date.content.decode()) >= set(CHARTS)


def test_pack_page_bad_date_and_missing_pack(reader, desk):
    bad = reader.get("/briefing/2024-4-10/")
    assert bad.status_code == 400
    assert "is not a date (YYYY-MM-DD)" in bad.content.decode()
    missing = reader.get("/briefing/2024-04-10/")
    assert missing.status_code == 404
    assert "MACRO1 has no morning pack for 2024-04-10" in missing.content.decode()
    assert reader.get("/briefing/latest/").status_code == 404


def test_the_dashboard_shows_the_desk_and_links_the_latest_pack(reader, desk):
    # Before any pack: every other section, and a pack section saying there is none yet
    html = reader.get("/").content.decode()
    assert "No morning pack yet" in html
    assert charts_in(html) >= {"utilization"}
    proposal_id = desk.proposals.get().id
    assert f'href="/admin/trades/tradeproposal/{proposal_id}/change/"' in html
    assert "gross_leverage" in html  # the breached limit
    assert "Gross leverage (gross / NAV): 102.88% of NAV breaches" in html  # and its alert
    # After the pack of the 10th: a link to it
    services.morning_pack_generate(portfolio=desk, business_date=PACK_DATE)
    html = reader.get("/").content.decode()
    assert 'href="/briefing/2024-04-10/"' in html
    assert "No morning pack yet" not in html


def test_the_dashboard_of_an_unmarked_portfolio_still_answers(desk, reader):
    # Given a second portfolio with nothing in it yet
    PortfolioFactory(code="EMPTY1")
    # Then the dashboard needs to be told which portfolio, and shows the empty one
    assert reader.get("/").status_code == 400
    response = reader.get("/?portfolio=EMPTY1")
    assert response.status_code == 200
    html = response.content.decode()
    assert "No morning pack yet" in html
    assert "No limit set" in html
