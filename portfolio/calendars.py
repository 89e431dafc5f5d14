"""Trading calendars: which days a market (an instrument's) or a desk (a portfolio's) is open.

A calendar is named by a code, stored on ``Instrument.calendar`` and ``Portfolio.calendar``:

- ``""`` — weekdays, Monday to Friday (the default, and what the project assumed before);
- an exchange-calendars name (``XNYS``, ``XETR``, ``XLON``, ``CMES``, ``XEUR``…): that
  exchange's sessions, from the ``exchange_calendars`` package;
- ``holidays:CC`` (``holidays:US``, ``holidays:DE``…): weekdays minus the public holidays of the
  country with ISO code CC (observed days included), from the ``holidays`` package.

Each code is resolved once per process into a ``Schedule``: weekdays, minus the weekdays it is
closed, plus the weekend days it is open (a few exchanges trade on some), within its range.
Building an exchange calendar costs ~0.1 s and pandas; afterwards ``is_open`` is two set
lookups. Holiday countries are expanded one year at a time, when a date of that year is asked.

Outside a calendar's range — exchange calendars are built from 1990 (or the first year the
package knows the exchange) to the end of the year after next, holiday countries cover the years
the package defines — the calendar answers as weekdays. Old price history and far-off dates then
behave as they did before calendars existed, rather than failing: an exchange's rules for 1985
or 2040 are guesses either way.

No Django models here: the services validate codes with ``validate_code`` and the numerical
modules ask ``open_mask`` for a column of dates.
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pms_project.errors import PMSError

WEEKDAYS = ""
HOLIDAYS_PREFIX = "holidays:"
EXCHANGE_FIRST_YEAR = 1990
# Examples shown when a code is refused.
EXAMPLES = "'' (weekdays), an exchange such as XNYS, XETR, XLON, CMES, XEUR, or holidays:US"
# A calendar closed this long in a row is not a calendar a desk can run on.
LONGEST_CLOSURE_DAYS = 366


@dataclass
class Schedule:
    """Weekdays minus ``closed`` plus ``extra_open`` between ``first`` and ``last``; plain
    weekdays outside. ``closed_of`` (holiday countries) fills ``closed`` a year at a time."""

    code: str
    first: dt.date
    last: dt.date
    closed: set[dt.date] = field(default_factory=set)
    extra_open: frozenset[dt.date] = frozenset()
    closed_of: object = None  # year -> set of closed weekdays, for lazily expanded calendars
    _years: set[int] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def is_open(self, day: dt.date) -> bool:
        if not self.first <= day <= self.last:
            return day.weekday() < 5
        if self.closed_of is not None and day.year not in self._years:
            self._load_year(day.year)
        if day.weekday() >= 5:
            return day in self.extra_open
        return day not in self.closed

    def _load_year(self, year: int) -> None:
        with self._lock:
            if year not in self._years:
                self.closed |= self.closed_of(year)
                self._years.add(year)


def _weekdays() -> Schedule:
    return Schedule(WEEKDAYS, dt.date.max, dt.date.min)  # an empty range: weekdays everywhere


def _exchange(name: str) -> Schedule:
    import exchange_calendars as xcals  # slow to import: only when a code needs it

    factory = xcals.calendar_utils._default_calendar_factories[name]
    bound_min, bound_max = factory.bound_min(), factory.bound_max()
    start = dt.date(EXCHANGE_FIRST_YEAR, 1, 1)
    end = dt.date(dt.date.today().year + 2, 12, 31)
    if bound_min is not None:
        start = max(start, bound_min.date())
    if bound_max is not None:
        end = min(end, bound_max.date())
    with warnings.catch_warnings():
        # The package's internals trip pandas' deprecation warnings: nothing the desk can act on.
        warnings.simplefilter("ignore")
        calendar = xcals.get_calendar(name, start=start.isoformat(), end=end.isoformat())
    sessions = {d.date() for d in calendar.sessions}
    first, last = calendar.first_session.date(), calendar.last_session.date()
    days = (first + dt.timedelta(n) for n in range((last - first).days + 1))
    closed: set[dt.date] = set()
    extra: set[dt.date] = set()
    for day in days:
        weekday = day.weekday() < 5
        if weekday and day not in sessions:
            closed.add(day)
        elif not weekday and day in sessions:
            extra.add(day)
    return Schedule(name, first, last, closed, frozenset(extra))


def _country(country: str) -> Schedule:
    import holidays

    years = holidays.country_holidays(country, years=[])
    first = dt.date(max(years.start_year, 1), 1, 1)
    last = dt.date(min(years.end_year, 9998), 12, 31)

    def closed_of(year: int) -> set[dt.date]:
        table = holidays.country_holidays(country, years=year)
        return {day for day in table if day.weekday() < 5}

    return Schedule(f"{HOLIDAYS_PREFIX}{country}", first, last, closed_of=closed_of)


@functools.cache
def exchange_names() -> frozenset[str]:
    import exchange_calendars as xcals

    return frozenset(xcals.get_calendar_names(include_aliases=False))


@functools.cache
def holiday_countries() -> frozenset[str]:
    import holidays

    return frozenset(holidays.list_supported_countries())


def validate_code(code: str, *, field: str = "calendar") -> str:
    """``code`` when it names a calendar; a PMSError naming ``field`` otherwise."""
    if not isinstance(code, str):
        raise PMSError("a calendar code is text", field=field)
    if code == WEEKDAYS or code in exchange_names():
        return code
    if code.startswith(HOLIDAYS_PREFIX):
        country = code[len(HOLIDAYS_PREFIX) :]
        if country in holiday_countries():
            return code
        raise PMSError(f"no public holidays are known for country {country!r}", field=field)
    hint = ""
    if code.isprintable() and len(code) <= 40:
        import exchange_calendars as xcals

        try:
            canonical = xcals.resolve_alias(code)
        except Exception:  # an unknown name: no alias either
            canonical = None
        if canonical and canonical != code and canonical in exchange_names():
            hint = f" (did you mean {canonical}?)"
    shown = repr(code) if code.isprintable() and len(code) <= 40 else "this code"
    raise PMSError(f"unknown calendar {shown}{hint}: use {EXAMPLES}", field=field)


@functools.cache
def schedule(code: str) -> Schedule:
    """The schedule of a valid ``code``, built once per process (``validate_code`` first)."""
    validate_code(code)
    if code == WEEKDAYS:
        return _weekdays()
    if code.startswith(HOLIDAYS_PREFIX):
        return _country(code[len(HOLIDAYS_PREFIX) :])
    return _exchange(code)


def is_open(code: str, day: dt.date) -> bool:
    """Whether the calendar ``code`` is open on ``day``."""
    return schedule(code).is_open(day)


def sessions(code: str, start: dt.date, end: dt.date) -> list[dt.date]:
    """The open days of ``code`` from ``start`` to ``end``, both included, in order."""
    s = schedule(code)
    days = (start + dt.timedelta(n) for n in range((end - start).days + 1))
    return [day for day in days if s.is_open(day)]


def previous_session(code: str, day: dt.date) -> dt.date:
    """The last open day of ``code`` strictly before ``day``."""
    s = schedule(code)
    for back in range(1, LONGEST_CLOSURE_DAYS + 1):
        candidate = day - dt.timedelta(back)
        if s.is_open(candidate):
            return candidate
    raise PMSError(f"calendar {code or 'weekdays'} has no open day in the year before {day}")


def last_session_on_or_before(code: str, day: dt.date) -> dt.date:
    """``day`` when ``code`` is open on it, else its previous session."""
    return day if is_open(code, day) else previous_session(code, day)


def open_mask(code: str, days: Iterable[dt.date]) -> np.ndarray:
    """A boolean array: whether ``code`` is open on each of ``days`` (for the numerical reads)."""
    s = schedule(code)
    return np.fromiter((s.is_open(_as_date(day)) for day in days), dtype=bool)


def _as_date(day) -> dt.date:
    """A date from a date, a datetime or a pandas Timestamp (the frames' indexes hold either)."""
    return day.date() if isinstance(day, dt.datetime) else day


def mask_closed(closes: pd.DataFrame, codes: Mapping) -> pd.DataFrame:
    """``closes`` (dates × columns) with NaN on the days each column's calendar is closed.

    ``codes`` maps a column to its calendar code (a column not in it: weekdays). A close stored
    for a day its market is closed is a data vendor's repeat of the previous one: kept, it would
    be a fake zero-return day. Dropped, the next return spans the closure — the move from the
    previous close to the next — because returns run over each column's own closes.
    """
    if closes.empty:
        return closes
    days = list(closes.index)
    by_code: dict[str, list[int]] = {}
    for j, column in enumerate(closes.columns):
        by_code.setdefault(codes.get(column, WEEKDAYS), []).append(j)
    values = closes.to_numpy(dtype=float, copy=True)
    for code, columns in by_code.items():
        closed = ~open_mask(code, days)
        if closed.any():
            values[np.ix_(closed, columns)] = np.nan
    return pd.DataFrame(values, index=closes.index, columns=closes.columns)
