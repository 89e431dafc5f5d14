"""How the API answers a lost database: 503 with ``Retry-After``, not 500 (its transaction was
rolled back, and the next request reconnects). The real thing, connections terminated under load
over HTTP, is tests/reliability/test_pg_faults.py; here the handler's mapping, exception by
exception."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError

from pms_project.errors import PMSError, api_exception_handler


@pytest.mark.parametrize(
    "exc",
    [
        OperationalError("terminating connection due to administrator command"),
        OperationalError("server closed the connection unexpectedly"),
        InterfaceError("connection already closed"),
    ],
    ids=["terminated", "closed-by-server", "closed"],
)
def test_a_lost_database_connection_is_a_503_to_retry(exc):
    response = api_exception_handler(exc, {})
    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert response.data == {"detail": "the database is unavailable; retry"}


def test_other_database_errors_keep_their_answers():
    assert api_exception_handler(IntegrityError("duplicate key"), {}).status_code == 409
    assert api_exception_handler(PMSError("bad", field="date"), {}).status_code == 400
    # anything else is not the handler's: DRF re-raises it and Django answers 500
    assert api_exception_handler(DatabaseError("syntax error"), {}) is None
