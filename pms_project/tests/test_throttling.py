"""Login brute force and API writes are throttled, and neither throttle turns a Redis outage into
a 500 (pms_project/login_throttle.py, pms_project/throttles.py).

The outage tests start their own redis-server on a free port, point the cache at it, then kill it
(SIGKILL: down) or pause it (SIGSTOP: hung); the suite's Redis is never touched.
"""

from __future__ import annotations

import logging
import signal
import time
from datetime import date

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.test import Client
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from pms_project import cache as pcache
from pms_project.throttles import WriteRateThrottle
from portfolio.models import CashFlow
from portfolio.tests.factories import UserFactory
from tests.redis_server import RedisServer

PASSWORD = "pw-for-tests-1"  # UserFactory's
LOGINS = {"desk": "/login/", "admin": "/admin/login/"}


@pytest.fixture(autouse=True)
def clean():
    cache.clear()
    pcache.breaker.down_until = 0.0
    pcache.breaker.outage = False
    yield
    pcache.breaker.down_until = 0.0
    pcache.breaker.outage = False


@pytest.fixture
def staff(db):
    return UserFactory(username="desk-admin", is_staff=True, is_superuser=True)


def attempt(path: str, username: str, password: str = "wrong", address: str = "10.0.0.1"):
    return Client().post(
        path, {"username": username, "password": password, "next": "/"}, REMOTE_ADDR=address
    )


def limit() -> int:
    return django_settings.PMS_LOGIN_ATTEMPTS_PER_MINUTE


# --- Login ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("login", LOGINS.values(), ids=LOGINS.keys())
def test_the_sixth_attempt_for_one_user_name_from_any_address_is_refused(staff, login):
    # Given five failed logins for one user name, each from another address
    answers = [attempt(login, "desk-admin", address=f"10.0.1.{n}") for n in range(limit())]
    assert [a.status_code for a in answers] == [200] * 5
    # When a sixth comes, from yet another address and with the right password
    refused = attempt(login, "desk-admin", PASSWORD, address="10.0.2.1")
    # Then it is refused before any password is checked, with how long to wait
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert b"Too many login attempts" in refused.content
    assert "_auth_user_id" not in refused.wsgi_request.session
    # And another user name from another address still logs in
    UserFactory(username="desk-admin2", is_staff=True, is_superuser=True)
    assert attempt(login, "desk-admin2", PASSWORD, address="10.0.3.1").status_code == 302


@pytest.mark.parametrize("login", LOGINS.values(), ids=LOGINS.keys())
def test_the_sixth_attempt_from_one_address_with_any_user_name_is_refused(staff, login):
    # Given five failed logins from one address, each for another user name
    for n in range(limit()):
        assert attempt(login, f"guess{n}", address="10.0.0.9").status_code == 200
    # When the sixth comes from that address for a real user with the right password
    refused = attempt(login, "desk-admin", PASSWORD, address="10.0.0.9")
    # Then it is refused; the same user from another address is not
    assert refused.status_code == 429 and refused.has_header("Retry-After")
    assert attempt(login, "desk-admin", PASSWORD, address="10.0.0.10").status_code == 302


def test_the_two_logins_share_the_counters(staff):
    # Given three failures on the desk's login and two on the admin's for one user name
    for _ in range(3):
        attempt(LOGINS["desk"], "desk-admin", address="10.0.4.1")
    for _ in range(2):
        attempt(LOGINS["admin"], "desk-admin", address="10.0.4.2")
    # Then the next attempt on either is refused
    assert attempt(LOGINS["desk"], "desk-admin", PASSWORD, address="10.0.4.3").status_code == 429
    assert attempt(LOGINS["admin"], "desk-admin", PASSWORD, address="10.0.4.3").status_code == 429


def test_successful_logins_do_not_count(staff):
    # Given four failures, then ten successful logins for the same user from the same address
    for _ in range(limit() - 1):
        assert attempt(LOGINS["desk"], "desk-admin", address="10.0.5.1").status_code == 200
    successes = [attempt(LOGINS["desk"], "desk-admin", PASSWORD, "10.0.5.1") for _ in range(10)]
    # Then every one of them logged in; the fifth failure is still allowed, the next refused
    assert [s.status_code for s in successes] == [302] * 10
    assert attempt(LOGINS["desk"], "desk-admin", address="10.0.5.1").status_code == 200
    assert attempt(LOGINS["desk"], "desk-admin", PASSWORD, "10.0.5.1").status_code == 429


def test_the_limit_comes_from_the_setting_and_user_names_are_case_blind(staff, settings):
    settings.PMS_LOGIN_ATTEMPTS_PER_MINUTE = 2
    attempt(LOGINS["desk"], "Desk-Admin", address="10.0.6.1")
    attempt(LOGINS["desk"], "DESK-ADMIN ", address="10.0.6.2")
    assert attempt(LOGINS["desk"], "desk-admin", PASSWORD, address="10.0.6.3").status_code == 429


def test_x_forwarded_for_is_ignored_unless_trusted(staff, settings):
    """Behind no trusted proxy a client cannot pick its own address with a header."""
    client = Client()

    def from_proxy(username, forwarded):
        body = {"username": username, "password": "wrong"}
        return client.post(
            LOGINS["desk"], body, REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR=forwarded
        )

    # Given the default: five failures claiming five addresses are one address (REMOTE_ADDR)
    for n in range(limit()):
        from_proxy(f"name{n}", f"192.0.2.{n}")
    assert from_proxy("other", "192.0.2.99").status_code == 429
    # When the desk trusts its proxy, the last forwarded address (the proxy's own entry) is the
    # client's: five clients failing once each are not refused
    cache.clear()
    settings.PMS_TRUST_X_FORWARDED_FOR = True
    for n in range(limit()):
        from_proxy(f"name{n}", f"203.0.113.1, 192.0.2.{n}")
    assert from_proxy("other", "203.0.113.1, 192.0.2.50").status_code == 200
    # And one client cannot escape its counter by putting addresses of its own in front
    for n in range(limit()):
        from_proxy(f"again{n}", f"198.51.100.{n}, 192.0.2.77")
    assert from_proxy("last", "192.0.2.77").status_code == 429


def test_a_get_of_the_login_page_is_never_throttled(staff):
    for n in range(limit()):
        attempt(LOGINS["desk"], f"guess{n}", address="127.0.0.1")
    pages = [Client().get(LOGINS["desk"]).status_code for _ in range(3)]
    assert pages == [200, 200, 200]


# --- API writes ----------------------------------------------------------------------------------


def cash_flow(client, amount: int):
    body = {"date": date(2024, 1, 2).isoformat(), "amount": str(amount)}
    return client.post("/api/portfolio/cashflows/", body, format="json")


def test_writes_over_the_rate_are_429_and_write_nothing(portfolio, trader_client, settings):
    # Given a rate of three writes a minute
    settings.PMS_THROTTLE_WRITES = "3/min"
    # When a trader records four cash flows
    answers = [cash_flow(trader_client, 1000 + n) for n in range(4)]
    # Then three are written and the fourth is a 429 with Retry-After, written nowhere
    assert [a.status_code for a in answers] == [201, 201, 201, 429]
    assert 1 <= int(answers[3]["Retry-After"]) <= 60
    assert "throttled" in answers[3].json()["detail"].lower()
    assert CashFlow.objects.count() == 3
    # And reads are not throttled, nor another user's writes
    assert [trader_client.get("/api/portfolio/cashflows/").status_code for _ in range(5)] == [
        200
    ] * 5
    other = APIClient()
    other.force_authenticate(UserFactory(username="trader2", groups=["trader"]))
    assert cash_flow(other, 7).status_code == 201
    assert CashFlow.objects.count() == 4


def test_the_default_rate_lets_six_hundred_writes_a_minute_through(db):
    # The default parses to at least 600 a minute
    throttle = WriteRateThrottle()
    assert django_settings.PMS_THROTTLE_WRITES == "1200/min"
    num, duration = throttle.parse_rate(django_settings.PMS_THROTTLE_WRITES)
    assert num * 60 / duration >= 600
    # And 600 writes of one user in a burst pass the real throttle on the real Redis
    user = UserFactory(username="feed")
    request = Request(APIRequestFactory().post("/api/portfolio/cashflows/"))
    request.user = user
    allowed = [WriteRateThrottle().allow_request(request, None) for _ in range(600)]
    assert allowed.count(True) == 600
    assert len(cache.get(f"throttle_writes_{user.pk}")) == 600


# --- Redis down or hung ----------------------------------------------------------------------


@pytest.fixture
def own_redis(settings):
    """A redis-server of this test's own on a free port, the cache pointed at it."""
    with RedisServer() as server:
        settings.CACHES = {"default": {**django_settings.CACHES["default"], "LOCATION": server.url}}
        yield server


FAULTS = {"down": signal.SIGKILL, "hung": signal.SIGSTOP}


@pytest.mark.slow
@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
def test_logins_go_on_to_the_password_check_when_redis_fails(staff, own_redis, fault, caplog):
    # Given the counters on the test's own Redis: five failures refuse the sixth
    for n in range(limit()):
        attempt(LOGINS["desk"], "desk-admin", address=f"10.0.7.{n}")
    assert attempt(LOGINS["desk"], "desk-admin", PASSWORD).status_code == 429
    # When that Redis is killed or paused
    own_redis.signal(fault)
    caplog.set_level(logging.WARNING, logger="pms_project.cache")
    started = time.monotonic()
    wrong = [attempt(path, "desk-admin").status_code for path in LOGINS.values() for _ in range(5)]
    right = [attempt(path, "desk-admin", PASSWORD).status_code for path in LOGINS.values()]
    elapsed = time.monotonic() - started
    # Then the throttle fails open: every attempt reaches the password check, none is a 500,
    # the outage costs one short timeout, and it is logged once
    assert wrong == [200] * 10
    assert right == [302, 302]
    assert elapsed < 10
    warnings = [r for r in caplog.records if "cache unavailable" in r.getMessage()]
    assert len(warnings) == 1


@pytest.mark.slow
@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
def test_writes_go_through_when_redis_fails(portfolio, trader_client, own_redis, fault, caplog):
    # Given the throttle counting on the test's own Redis
    assert cash_flow(trader_client, 1).status_code == 201
    # When that Redis is killed or paused
    own_redis.signal(fault)
    caplog.set_level(logging.WARNING, logger="pms_project.cache")
    answers = [cash_flow(trader_client, 2 + n).status_code for n in range(5)]
    # Then every write is made (the throttle fails open), none is a 500, logged once
    assert answers == [201] * 5
    assert CashFlow.objects.count() == 6
    warnings = [r for r in caplog.records if "cache unavailable" in r.getMessage()]
    assert len(warnings) == 1
