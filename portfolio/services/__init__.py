"""Writes to the book. Each public function is one atomic transaction and validates first, so a
rejected request writes nothing.

- ``base``: validation shared by the API and the commands, lookups, the portfolio lock
- ``ledger``: ``execution_record``, ``position_open``, ``position_close``
- ``market``: ``instruments_upsert``, ``prices_load``, ``price_update_intraday``,
  ``cash_flow_record``
- ``mtm``: ``mark_to_market``, ``mark_to_market_range``
- ``price_csv``: ``prices_load_csv`` (a CSV file of closes through ``prices_load``: the
  ``import_prices`` command and the ingest)
- ``ingest``: ``ingest_drop_folder`` (every complete CSV file of the price drop folder)
- ``grants``: ``grants_add``, ``grants_revoke`` (per-portfolio access) and their lookups

Callers use ``portfolio.services.<name>``; the submodules are an internal layout.
"""

from .base import (
    MONEY_LIMIT,
    NOTIONAL_LIMIT,
    PRICE_LIMIT,
    QTY_LIMIT,
    business_date_range,
    instrument_by_symbol,
    portfolio_lock,
    strategy_by_code,
    validate_business_date,
    validate_nonzero,
    validate_positive,
)
from .grants import grant_portfolios, grant_user, grants_add, grants_revoke
from .ingest import IngestReport, ingest_drop_folder
from .ledger import execution_record, position_close, position_open
from .market import (
    InstrumentRow,
    PriceRow,
    cash_flow_record,
    instruments_upsert,
    price_update_intraday,
    prices_load,
)
from .mtm import mark_to_market, mark_to_market_range
from .price_csv import PricesLoaded, prices_load_csv

__all__ = [
    "MONEY_LIMIT",
    "NOTIONAL_LIMIT",
    "PRICE_LIMIT",
    "QTY_LIMIT",
    "IngestReport",
    "InstrumentRow",
    "PriceRow",
    "PricesLoaded",
    "business_date_range",
    "cash_flow_record",
    "execution_record",
    "grant_portfolios",
    "grant_user",
    "grants_add",
    "grants_revoke",
    "ingest_drop_folder",
    "instrument_by_symbol",
    "instruments_upsert",
    "mark_to_market",
    "mark_to_market_range",
    "portfolio_lock",
    "position_close",
    "position_open",
    "price_update_intraday",
    "prices_load",
    "prices_load_csv",
    "strategy_by_code",
    "validate_business_date",
    "validate_nonzero",
    "validate_positive",
]
