"""The trading calendars (``portfolio.calendars``): pure, no database."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from pms_project.errors import PMSError
from portfolio import calendars

JUL = {d: dt.date(2024, 7, d) for d in range(1, 9)}  # Mon 1 .. Mon 8 July 2024


@pytest.mark.parametrize(
    ("code", "day", "open_"),
    [
        pytest.param("XNYS", JUL[4], False, id="XNYS closed on Independence Day"),
        pytest.param("XETR", JUL[4], True, id="XETR open on Independence Day"),
        pytest.param("CMES", dt.date(2024, 12, 25), False, id="CMES closed on Christmas"),
        pytest.param("XLON", dt.date(2024, 8, 26), False, id="XLON closed on the bank holiday"),
        pytest.param("XNYS", dt.date(2024, 8, 26), True, id="XNYS open on the UK bank holiday"),
        pytest.param("XEUR", dt.date(2024, 12, 24), False, id="XEUR closed on Christmas Eve"),
        pytest.param("holidays:US", JUL[4], False, id="US public holiday"),
        pytest.param("holidays:US", dt.date(2026, 7, 3), False, id="US observed on Friday"),
        pytest.param("holidays:DE", JUL[4], True, id="not a German holiday"),
        pytest.param("holidays:DE", dt.date(2024, 10, 3), False, id="German Unity Day"),
        pytest.param("", JUL[4], True, id="weekdays: every Monday to Friday"),
        pytest.param("", dt.date(2024, 7, 6), False, id="weekdays: Saturday closed"),
        pytest.param("XNYS", dt.date(2024, 7, 6), False, id="XNYS: Saturday closed"),
        pytest.param("holidays:US", dt.date(2024, 7, 7), False, id="holidays: Sunday closed"),
    ],
)
def test_is_open(code, day, open_):
    assert calendars.is_open(code, day) is open_


def test_sessions_and_previous_session_skip_the_holiday():
    """Given XNYS around 4 July 2024, then the sessions skip the holiday and the weekend, and
    the session before Friday is Wednesday; weekdays keep Thursday."""
    assert calendars.sessions("XNYS", JUL[1], JUL[8]) == [JUL[d] for d in (1, 2, 3, 5, 8)]
    assert calendars.sessions("", JUL[1], JUL[8]) == [JUL[d] for d in (1, 2, 3, 4, 5, 8)]
    assert calendars.sessions("XETR", JUL[6], JUL[7]) == []
    assert calendars.previous_session("XNYS", JUL[5]) == JUL[3]
    assert calendars.previous_session("XETR", JUL[5]) == JUL[4]
    assert calendars.previous_session("", JUL[8]) == JUL[5]
    assert calendars.last_session_on_or_before("XNYS", JUL[4]) == JUL[3]
    assert calendars.last_session_on_or_before("XNYS", JUL[5]) == JUL[5]


def test_outside_the_range_a_calendar_answers_as_weekdays():
    """Given XNYS built from 1990, then 4 July 1985 (a holiday then too) reads as a weekday:
    the documented fallback; inside the range the same holiday is closed."""
    schedule = calendars.schedule("XNYS")
    assert schedule.first.year == calendars.EXCHANGE_FIRST_YEAR
    assert calendars.is_open("XNYS", dt.date(1985, 7, 4)) is True
    assert calendars.is_open("XNYS", dt.date(1990, 7, 4)) is False
    beyond = dt.date(schedule.last.year + 1, 12, 25)
    assert calendars.is_open("XNYS", beyond) is (beyond.weekday() < 5)


def test_a_schedule_is_built_once_per_code():
    assert calendars.schedule("XETR") is calendars.schedule("XETR")


@pytest.mark.parametrize(
    ("code", "words"),
    [
        pytest.param("NYSE", ["unknown calendar", "did you mean XNYS"], id="an alias"),
        pytest.param("XXXX", ["unknown calendar 'XXXX'"], id="no such exchange"),
        pytest.param("holidays:ZZ", ["no public holidays", "'ZZ'"], id="no such country"),
        pytest.param("holidays:", ["no public holidays"], id="no country"),
        pytest.param("xnys", ["unknown calendar"], id="lower case"),
        pytest.param("X\x00", ["unknown calendar this code"], id="a control character"),
        pytest.param(None, ["text"], id="not text"),
    ],
)
def test_validate_code_names_the_field(code, words):
    with pytest.raises(PMSError) as caught:
        calendars.validate_code(code, field="instruments[3].calendar")
    assert caught.value.field == "instruments[3].calendar"
    for word in words:
        assert word in caught.value.message


@pytest.mark.parametrize("code", ["", "XNYS", "XETR", "XLON", "CMES", "XEUR", "holidays:US"])
def test_validate_code_accepts_known_codes(code):
    assert calendars.validate_code(code) == code


def test_mask_closed_drops_closes_on_each_columns_holidays():
    """Given a repeated US close on 4 July (a vendor's fill) and a German close that day, then
    the US column loses it and the German one keeps it; a column not named is weekdays."""
    days = [JUL[d] for d in (3, 4, 5, 6)]  # Wed, Thu (US holiday), Fri, Sat
    closes = pd.DataFrame(
        {"ES": [100.0, 100.0, 103.0, 104.0], "FDAX": [50.0, 51.0, 52.0, 53.0], "X": 4 * [1.0]},
        index=pd.Index(days, dtype=object),
    )
    masked = calendars.mask_closed(closes, {"ES": "XNYS", "FDAX": "XETR"})
    assert masked["ES"].isna().tolist() == [False, True, False, True]
    assert masked["FDAX"].isna().tolist() == [False, False, False, True]
    assert masked["X"].isna().tolist() == [False, False, False, True]
    np.testing.assert_array_equal(masked["FDAX"].to_numpy()[:3], [50.0, 51.0, 52.0])
    # Timestamps in the index are read as their dates.
    stamped = closes.set_axis(pd.to_datetime(days), axis=0)
    assert calendars.mask_closed(stamped, {"ES": "XNYS"})["ES"].isna().tolist() == [
        False,
        True,
        False,
        True,
    ]
