"""Fixtures of the attribution tests (see fixtures_attribution for the book).

Marking twelve days costs about a second, so each test module builds the marked book once, in a
transaction of its own that is rolled back after the module; every test runs in a nested
transaction (pytest-django's ``db``) rolled back after it, so what one test writes (a late trade,
a re-mark, an attribution run) never reaches another.
"""

from __future__ import annotations

import pytest
from django.core.cache import cache

from portfolio.models import Portfolio
from portfolio.tests.factories import PortfolioFactory
from portfolio.tests.fixtures import module_data

from .fixtures_attribution import book_build, market_build


@pytest.fixture(scope="module")
def _module_book(django_db_setup, django_db_blocker):
    """MACRO1 (the book with its flows, marked every day), built once per module."""
    with module_data(django_db_blocker):
        market_build()
        yield book_build(PortfolioFactory(code="MACRO1"), flows=True).pk


@pytest.fixture
def marked(db, _module_book) -> Portfolio:
    """MACRO1: the book with its subscription and redemption, marked every day. The cache
    starts empty: no answer cached by another test (another book under the same code) serves."""
    cache.clear()
    return Portfolio.objects.get(pk=_module_book)


@pytest.fixture
def portfolio(marked) -> Portfolio:
    """The shared fixtures' ``portfolio`` is the marked MACRO1 here."""
    return marked


@pytest.fixture
def twins(marked) -> tuple[Portfolio, Portfolio]:
    """MACRO1 with the flows and MACRO2 with the same trades and no flow, both marked."""
    return marked, book_build(PortfolioFactory(code="MACRO2"), flows=False)
