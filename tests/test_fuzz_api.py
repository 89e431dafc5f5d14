"""Schemathesis against the project's own OpenAPI schema, in-process, as every desk role.

Every operation of the schema drf-spectacular generates (so a new endpoint is fuzzed from its
first commit, with no list to keep) gets positive and negative requests, authenticated as each
group (viewer, trader, approver, risk), as a superuser and anonymously, sent straight to Django's
WSGI handler. A stateful test follows the schema's OpenAPI links (open → detail → close …).

The checks: no 5xx; status code, content type, response headers and response body as documented
(pms_project/schema.py documents the 4xx answers and their error body); negative data rejected;
positive data never answered by an undocumented 4xx; authentication enforced; anonymous requests
always a JSON 401. Those are all of schemathesis's checks but two that do not apply: no
``max_response_time`` (a wall-clock limit on a shared 2-core CI machine would flake), and
``object_level_authorization`` is a no-op here (it needs two configured identities owning
different objects; the desk has one book that every role may read).

The size: ``PMS_FUZZ_EXAMPLES`` (default in ``DEFAULT_EXAMPLES``) bounds the fuzzing phase of each
operation × role; the examples and coverage phases add their own deterministic cases. ``make test``
runs the default; ``make fuzz`` runs this module alone with a large value.

Each generated request runs inside a savepoint that is rolled back afterwards, on top of a small
book seeded once for the module (see ``fuzz_book``): every case starts from the same state, so a
failure replays and shrinks deterministically, and a request that breaks the transaction (an
IntegrityError outside an atomic block) cannot poison the cases after it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import traceback
import unicodedata
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal

import pytest
import schemathesis
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import got_request_exception, request_finished, request_started
from django.db import close_old_connections, transaction
from django.urls import Resolver404, resolve
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, Phase, settings
from rest_framework.authtoken.models import Token

from ops import pipelines
from portfolio import calculations as calc
from portfolio import services
from portfolio.models import Instrument, Portfolio, Strategy
from portfolio.tests.api_support import open_position
from trades import services as trades_services

pytestmark = pytest.mark.fuzz

DEFAULT_EXAMPLES = 25
EXAMPLES = int(os.environ.get("PMS_FUZZ_EXAMPLES", DEFAULT_EXAMPLES))
# Scenarios of the stateful test per role (each up to STATEFUL_STEPS calls).
STATEFUL_EXAMPLES = int(os.environ.get("PMS_FUZZ_STATEFUL_EXAMPLES", max(30, EXAMPLES)))
STATEFUL_STEPS = 6

ANONYMOUS = "anonymous"
SUPERUSER = "superuser"
GROUPS = ("viewer", "trader", "approver", "risk")
ROLES = (ANONYMOUS, *GROUPS, SUPERUSER)

# The seeded book: a month of business-day closes, February 2024.
FIRST_DAY, LAST_DAY = dt.date(2024, 2, 1), dt.date(2024, 2, 29)
INSTRUMENTS = {
    # symbol: (asset class, currency, multiplier, first close, daily step)
    "ES": ("EQUITY", "USD", "50", "4900", "7.25"),
    "GC": ("COMMODITY", "USD", "100", "2050.5", "-1.5"),
    "FGBL": ("RATES", "EUR", "1000", "133.10", "0.05"),
    "EURUSD": ("FX", "USD", "1", "1.0800", "0.0007"),
}
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=True,  # the same cases on every run: CI must not flake on a lucky draw
    database=None,
    deadline=None,
    # `db` is function-scoped on purpose: every case of a test runs in its own savepoint.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.generate, Phase.target, Phase.shrink],
)


def openapi_document() -> dict:
    """The schema /api/schema/ serves, as plain JSON (drf-spectacular's hooks included)."""
    raw = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(raw, renderer_context={}))


class CountingApp:
    """Django's WSGI handler, counting the requests each role sends (probes included)."""

    def __init__(self) -> None:
        self.handler = WSGIHandler()
        self.role = ANONYMOUS
        self.requests: Counter[str] = Counter()

    def __call__(self, environ, start_response):
        self.requests[self.role] += 1
        return self.handler(environ, start_response)


APP = CountingApp()


# Real values of the seeded book, drawn for about half the fields they fit (in positive mode only
# when valid for the field, in negative mode only when not), so that valid requests get past "no
# such symbol" and "no close on that day" into the services, the book and the mark-to-market.
SEEDED_VALUES = {
    "symbols": [*INSTRUMENTS, "NOPE"],
    "strategies": ["EQ1", "RATES1", "MANUAL", "TREND"],
    "portfolios": ["MACRO1"],
    "days": ["2024-02-15", "2024-02-16", "2024-02-19", "2024-02-29", "2024-02-17", "2024-03-01"],
    "currencies": ["USD", "EUR", "usd", "XXX"],
    "prices": ["4950.25", "133.2", "1.0912", "2045", "-1", "0"],
    "quantities": ["1", "-2", "0.5", "-100000", "0"],
    "sides": ["buy", "sell", "long"],
    "reasons": ["too large into the print", "", "   "],
}
BINDINGS = {
    "symbols": ["body.symbol", "query.symbol", "body.[*].symbol"],
    "strategies": ["body.strategy", "query.strategy"],
    "portfolios": ["query.portfolio"],
    "days": ["body.date", "body.trade_date", "query.from", "query.to", "body.[*].date"],
    "currencies": ["body.currency", "body.base_currency", "query.currency"],
    "prices": ["body.price", "body.close", "body.[*].close"],
    "quantities": ["body.quantity"],
    "sides": ["body.side"],
    "reasons": ["body.reason", "body.override_reason"],
}


def schemathesis_config() -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "generation": {
                "mode": "all",  # positive and negative
                "max-examples": EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
            "checks": {
                # Valid-by-schema data may still break a desk rule the schema cannot state (an
                # unknown symbol, a weekend, a day without closes): 400 and 409 are fair answers.
                "positive_data_acceptance": {
                    "expected-statuses": ["2xx", "400", "401", "403", "404", "409"]
                },
            },
            "dictionaries": {name: {"values": values} for name, values in SEEDED_VALUES.items()},
            "parameters": {
                target: {"dictionary": name, "probability": 0.5}
                for name, targets in BINDINGS.items()
                for target in targets
            },
        }
    )


def load_schema():
    schema = schemathesis.openapi.from_dict(openapi_document(), config=schemathesis_config())
    schema.app = APP
    return schema


schema = load_schema()


# --- The book the fuzzer works on --------------------------------------------------------------


@dataclass
class FuzzBook:
    tokens: dict[str, str]

    def headers(self, role: str) -> dict[str, str]:
        if role == ANONYMOUS:
            return {}
        return {"Authorization": f"Token {self.tokens[role]}"}


def _seed_market() -> None:
    for symbol, (asset_class, currency, multiplier, _, _) in INSTRUMENTS.items():
        Instrument.objects.create(
            symbol=symbol,
            name=f"{symbol} (fuzz)",
            asset_class=asset_class,
            currency=currency,
            multiplier=Decimal(multiplier),
        )
    days = list(calc.business_days(FIRST_DAY, LAST_DAY))
    services.prices_load(
        services.PriceRow(symbol, day, Decimal(first) + index * Decimal(step))
        for symbol, (_, _, _, first, step) in INSTRUMENTS.items()
        for index, day in enumerate(days)
    )


def _seed_book(portfolio: Portfolio) -> None:
    Strategy.objects.create(code="RATES1", name="Rates RV", asset_class="RATES")
    Strategy.objects.create(code="EQ1", name="Equity beta", asset_class="EQUITY")
    services.cash_flow_record(
        portfolio=portfolio, date=dt.date(2024, 2, 1), amount=Decimal("250000"), note="sub"
    )
    trades = [
        ("ES", "2", "4900", dt.date(2024, 2, 1), "EQ1"),
        ("FGBL", "-3", "133.10", dt.date(2024, 2, 1), "RATES1"),
        ("GC", "1", "2050.5", dt.date(2024, 2, 2), None),
        ("EURUSD", "100000", "1.0807", dt.date(2024, 2, 5), None),
    ]
    for symbol, quantity, price, day, strategy in trades:
        open_position(portfolio, symbol, quantity, price, day, strategy)
    gold = portfolio.positions.get(instrument__symbol="GC")
    services.position_close(
        position_id=gold.id, price=Decimal("2040"), trade_date=dt.date(2024, 2, 12)
    )
    services.mark_to_market_range(
        portfolio=portfolio, start=dt.date(2024, 2, 1), end=dt.date(2024, 2, 16)
    )


def _seed_proposals(portfolio: Portfolio, users: dict) -> None:
    """A generating strategy and pending proposals of fuzz-trader, so that the approvers' calls
    reach the decisions (a month of closes is too short for momentum, long enough for mean
    reversion)."""
    Strategy.objects.create(
        code="TREND", name="Mean reversion", generator="mean_reversion", risk_budget="0.01"
    )
    trades_services.proposals_generate(portfolio=portfolio, day=LAST_DAY)
    for symbol, side in (("ES", "buy"), ("GC", "sell"), ("FGBL", "buy")):
        trades_services.proposal_create(
            portfolio=portfolio,
            symbol=symbol,
            side=side,
            quantity=Decimal(1),
            day=LAST_DAY,
            user=users["trader"],
        )


def _seed_pipeline_runs(portfolio: Portfolio) -> None:
    """Pipeline runs of every shape for /api/ops/pipeline-runs/: succeeded (each step's
    result), failed (a step's error: no close of March 1st), skipped (a weekend)."""
    for day in (dt.date(2024, 2, 16), dt.date(2024, 3, 1), dt.date(2024, 2, 17)):
        pipelines.run_inprocess(portfolio=portfolio, pipeline="eod", day=day)


def _seed_users() -> dict[str, object]:
    users = {}
    for role in (*GROUPS, SUPERUSER):
        user = get_user_model().objects.create(
            username=f"fuzz-{role}", is_superuser=role == SUPERUSER, is_staff=role == SUPERUSER
        )
        if role in GROUPS:  # every desk group comes from a migration
            user.groups.add(Group.objects.get(name=role))
        users[role] = user
    return users


@contextmanager
def _in_process_requests() -> Iterator[None]:
    """Send requests to the WSGI handler inside the test's transaction, as Django's test client.

    Django closes "old" database connections when a request starts and ends; inside a test's
    transaction that would close the connection holding it. The test client disconnects the
    handler for its requests; so does this, for the fuzz tests.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture(autouse=True)
def _writes_not_throttled(settings):
    """The fuzz is about input handling: `make fuzz` sends thousands of writes a minute as one
    user, which the write throttle would answer with 429 (pms_project/tests/test_throttling.py
    tests the throttle)."""
    settings.PMS_THROTTLE_WRITES = "1000000/min"


@pytest.fixture(scope="module")
def fuzz_book(request, django_db_setup, django_db_blocker) -> Iterator[FuzzBook]:
    """MACRO1 (USD) with ES, GC, FGBL (EUR), EURUSD, February 2024's closes, positions, NAVs,
    a generating strategy and pending proposals.

    Seeded once for the module in a transaction rolled back at its end; each test's ``db``
    savepoint nests inside it.
    """
    with django_db_blocker.unblock(), _in_process_requests():
        with transaction.atomic():
            portfolio = Portfolio.objects.create(
                code="MACRO1",
                name="Macro fund",
                base_currency="USD",
                inception_date=dt.date(2024, 1, 2),
                initial_capital=Decimal("1000000"),
            )
            _seed_market()
            _seed_book(portfolio)
            users = _seed_users()
            _seed_proposals(portfolio, users)
            _seed_pipeline_runs(portfolio)
            tokens = {role: Token.objects.create(user=user).key for role, user in users.items()}
            book = FuzzBook(tokens=tokens)
            cache.clear()
            yield book
            transaction.set_rollback(True)
    cache.clear()
    counts = ", ".join(f"{role} {APP.requests[role]}" for role in ROLES)
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(f"\nfuzz requests per role (PMS_FUZZ_EXAMPLES={EXAMPLES}): {counts}")


# --- Running one case --------------------------------------------------------------------------


@contextmanager
def server_tracebacks() -> Iterator[list[str]]:
    """The tracebacks of exceptions a request raised into Django's handler (its 500s)."""
    caught: list[str] = []

    def receiver(sender, request=None, **kwargs):
        caught.append("".join(traceback.format_exception(*sys.exc_info())))

    got_request_exception.connect(receiver, weak=False)
    try:
        yield caught
    finally:
        got_request_exception.disconnect(receiver)


@contextmanager
def rolled_back() -> Iterator[None]:
    """A savepoint undone afterwards: each case starts from the seeded book."""
    with transaction.atomic():
        try:
            yield
        finally:
            transaction.set_rollback(True)


def _attach(exc: BaseException, tracebacks: list[str]) -> None:
    for text in tracebacks:
        exc.add_note(f"\nServer traceback:\n{text}")


def _texts(value) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _texts(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _texts(item)
    elif value is not None:
        yield str(value)


def _has_control_characters(query) -> bool:
    return any(unicodedata.category(ch) in {"Cc", "Cs"} for text in _texts(query) for ch in text)


def _reaches_an_endpoint(path: str) -> bool:
    """A route matches ``path``, and not only as a DRF format suffix (``/positions/0.5/``)."""
    try:
        match = resolve(path)
    except Resolver404:
        return False
    # DRF negotiates the format before it authenticates: an unknown suffix is a 404 first.
    return "format" not in match.kwargs


def assert_anonymous_refused(case, response) -> None:
    """Anonymous: a JSON 401 from every endpoint.

    Except where the request never reaches an endpoint: a path no route matches, or that matches
    only as a format suffix (a JSON 404), and a query string with control characters, which the
    input guard middleware refuses (a JSON 400) before any view authenticates.
    """
    content_type = response.headers.get("content-type", [""])[0]
    assert content_type.startswith("application/json"), (response.status_code, content_type)
    status = response.status_code
    if status == 404 and not _reaches_an_endpoint(case.formatted_path):
        return
    if status == 400 and _has_control_characters(case.query):
        return
    assert status == 401, (status, response.text[:500])
    assert "detail" in response.json(), response.text[:500]


@pytest.mark.parametrize("role", ROLES)
@schema.parametrize()
@FUZZ_SETTINGS
def test_every_operation_as_every_role(case, role, fuzz_book, db):
    headers = fuzz_book.headers(role)
    APP.role = role
    with rolled_back(), server_tracebacks() as tracebacks:
        try:
            response = case.call_and_validate(headers=headers)
            if role == ANONYMOUS:
                assert_anonymous_refused(case, response)
        except BaseException as exc:
            _attach(exc, tracebacks)
            raise


# --- Stateful: sequences along the schema's OpenAPI links --------------------------------------

# The roles whose requests can produce what a link passes on (an opened position, a new
# instrument...): read-only roles and anonymous requests would only repeat the tests above.
STATEFUL_ROLES = ("trader", SUPERUSER)


@pytest.mark.parametrize("role", STATEFUL_ROLES)
def test_linked_operations(role, fuzz_book, db):
    """Scenarios of up to STATEFUL_STEPS calls following the links (open → detail → close…)."""
    headers = fuzz_book.headers(role)
    APP.role = role
    machine_class = schema.as_state_machine()
    assert machine_class.bundles, "the schema has no links to follow"

    class Workflow(machine_class):
        def setup(self) -> None:
            self._savepoint = transaction.atomic()
            self._savepoint.__enter__()
            self._tracebacks = server_tracebacks()
            self._caught = self._tracebacks.__enter__()

        def teardown(self) -> None:
            self._tracebacks.__exit__(None, None, None)
            transaction.set_rollback(True)
            self._savepoint.__exit__(None, None, None)

        def get_call_kwargs(self, case):
            return {"headers": headers}

        def call(self, case, **kwargs):
            # A step's own savepoint: a request that breaks the transaction (an IntegrityError
            # answered 409) loses its own writes, as in autocommit, not the scenario's.
            with transaction.atomic():
                return case.call(**kwargs)

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            try:
                case.validate_response(
                    response,
                    additional_checks=additional_checks,
                    headers=headers,
                    transport_kwargs=kwargs or None,
                    recorder=getattr(self, "recorder", None),
                )
            except BaseException as exc:
                _attach(exc, self._caught)
                raise

    Workflow.run(
        settings=settings(
            Workflow.TestCase.settings,
            max_examples=STATEFUL_EXAMPLES,
            stateful_step_count=STATEFUL_STEPS,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
    )
