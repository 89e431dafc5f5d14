"""The morning pack after a market's holiday: a held instrument whose market was closed on the
pack's close was marked at its previous close — the pack says carried, not missing."""

from __future__ import annotations

import pytest

from briefing import report
from portfolio import services
from portfolio.models import Price
from portfolio.tests.test_calendars_mtm import JUL, desk  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def test_pack_after_a_us_holiday_reads_the_us_close_as_carried(desk):  # noqa: F811
    # Given the book marked to Thu 4 July (NYSE closed: ES carried, FDAX marked)
    services.mark_to_market_range(portfolio=desk, start=JUL[1], end=JUL[4])
    # When Friday's pack is built, as of the 4th
    pack = report.build(desk, JUL[5])
    # Then ES is named as carried, and no close is called missing
    assert pack["as_of"] == "2024-07-04"
    assert not [w for w in pack["warnings"] if w.startswith("no close of")]
    assert pack["warnings"] == [
        "carried at their previous close, their market closed on 2024-07-04: ES"
    ]
    moves = {m["symbol"]: m for m in pack["market_moves"]}
    assert (moves["ES"]["close_date"], moves["ES"]["carried"]) == ("2024-07-03", True)
    assert (moves["FDAX"]["close_date"], moves["FDAX"]["carried"]) == ("2024-07-04", False)
    top = {r["symbol"]: r["carried"] for r in pack["positions"]["top_exposure"]}
    assert top == {"ES": True, "FDAX": False}


def test_pack_still_warns_of_a_close_missing_on_an_open_day(desk):  # noqa: F811
    # Given the 4th marked, then FDAX's close of the 4th withdrawn (Xetra was open)
    services.mark_to_market_range(portfolio=desk, start=JUL[1], end=JUL[4])
    Price.objects.filter(instrument__symbol="FDAX", date=JUL[4]).delete()
    pack = report.build(desk, JUL[5])
    # Then the pack warns that FDAX has no close of the 4th, and still reads ES as carried
    assert "no close of FDAX on 2024-07-04" in pack["warnings"]
    assert not any("ES" in w for w in pack["warnings"] if w.startswith("no close of"))
