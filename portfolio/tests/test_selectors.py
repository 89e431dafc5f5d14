"""``closes_frame``: the price history the numerical code reads, packed by PostgreSQL."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import pytest

from portfolio import selectors, services
from portfolio.models import Price

from .factories import InstrumentFactory

pytestmark = pytest.mark.django_db

MON, TUE, WED, THU = (dt.date(2024, 3, d) for d in (4, 5, 6, 7))


def test_closes_frame_is_dates_by_instrument_with_nan_where_no_close():
    # Given A closed Mon, Tue, Thu and B closed Tue, Wed (B's close has more digits than a float)
    a, b, c = (InstrumentFactory(symbol=s) for s in ("A", "B", "C"))
    rows = [("A", MON, "100"), ("A", TUE, "101.5"), ("A", THU, "99.25")]
    rows += [("B", TUE, "1.0812345678"), ("B", WED, "1.09")]
    services.prices_load(services.PriceRow(s, d, Decimal(v)) for s, d, v in rows)

    # When the frame of A, B and C (never priced) is read
    frame = selectors.closes_frame([b.id, a.id, c.id, a.id])

    # Then one row per date with a close, one column per instrument, NaN where none
    assert list(frame.index) == [MON, TUE, WED, THU]
    assert list(frame.columns) == sorted([a.id, b.id, c.id])
    assert frame.loc[TUE, a.id] == 101.5 and frame.loc[THU, a.id] == 99.25
    assert frame.loc[TUE, b.id] == float(Decimal("1.0812345678"))
    assert math.isnan(frame.loc[MON, b.id]) and math.isnan(frame.loc[WED, a.id])
    assert frame[c.id].isna().all()
    # and the float close PostgreSQL keeps is the stored close, converted
    assert Price.objects.get(instrument=b, date=TUE).close_float == frame.loc[TUE, b.id]

    # When the range is bounded, only its dates come back
    bounded = selectors.closes_frame([a.id, b.id], start=TUE, end=WED)
    assert list(bounded.index) == [TUE, WED]
    assert bounded.loc[WED, b.id] == 1.09


def test_closes_frame_of_nothing_is_empty():
    a = InstrumentFactory(symbol="A")
    assert selectors.closes_frame([]).shape == (0, 0)
    empty = selectors.closes_frame([a.id])
    assert empty.shape == (0, 1) and list(empty.columns) == [a.id]
