"""The hit path of the cached GETs: a stored body answered with no SQL and no DRF dispatch.

A hit through DRF costs what the stored bytes do not: the token's and the groups' queries, the
default portfolio's, and DRF's request wrapping. Those are the same answers request after
request, so this process remembers them, and one Redis MGET checks that they still hold:

- **Who**: a token DRF authenticated, whose user passed the read permission on a cached view, is
  remembered with the ``auth`` generation read *before* that authentication. Deleting or changing
  a token, a user or a group, or a user's groups, renews the generation (signals, on commit and at
  once, as every invalidation): the next request with that token goes through DRF again, so a
  revoked token or a lost role is refused at once, never after a TTL. With the token, its user's
  portfolio grants are remembered (the ids, or None for every portfolio), and a change to any
  grant renews the same generation.
- **Which body**: the request as received (path and query string), for one scope of grants, is
  remembered with the portfolio it resolved to and the body key the view built, under the
  ``routes`` generation (renewed by any change to a portfolio: a new one changes what "the default
  portfolio" is). A hit also checks that the route's portfolio is among the token's grants: a
  restricted user is never answered a body of a portfolio the view would refuse them.
- **Whether it is current**: the body's generation tokens, as ``pms_project.cache`` checks them.

The MGET reads those five keys; when everything matches, the stored body is answered exactly as
DRF's path answers a hit (same bytes, same headers). Anything else — an unknown token or route, a
session login, a query never seen, Redis down, a stale body — goes through the view, which
authenticates, checks permissions, answers and remembers. The remembered tables are bounded.
"""

from __future__ import annotations

import functools
import re
import secrets
from typing import NamedTuple

from django.core.cache import cache as backend
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from rest_framework.views import APIView

from . import cache, metrics

AUTH_KEY = cache.generation_key(cache.AUTH, cache.ALL)
ROUTES_KEY = cache.generation_key(cache.ROUTES, cache.ALL)
MAX_REMEMBERED = 10_000  # each table is cleared when it reaches this many entries
_TOKEN = re.compile(r"Token ([0-9a-f]{40})", re.IGNORECASE)


Scope = frozenset[int] | None  # the portfolio ids a user's grants allow; None: every portfolio


class Principal(NamedTuple):
    generation: str  # the ``auth`` generation read before DRF authenticated the token
    scope: Scope


class Route(NamedTuple):
    portfolio_id: int
    body_key: str
    generation: str  # the ``routes`` generation read before the portfolio was resolved


class Attempt(NamedTuple):
    """What the hit path read, for the view to remember once it has answered."""

    token: str
    signature: str
    auth_generation: str | None
    routes_generation: str | None


_principals: dict[str, Principal] = {}  # token key → its generation and grants
_routes: dict[tuple[str, str, Scope], Route] = {}  # (namespace, request signature, scope) → route


def _remember(table: dict, key, value) -> None:
    if len(table) >= MAX_REMEMBERED:
        table.clear()
    table[key] = value


def forget() -> None:
    """Forget every remembered token and route (tests; the generations make it unnecessary)."""
    _principals.clear()
    _routes.clear()


def _token(request) -> str | None:
    match = _TOKEN.fullmatch(request.META.get("HTTP_AUTHORIZATION", ""))
    return match.group(1).lower() if match else None


def _signature(request) -> str:
    return request.path + "?" + request.META.get("QUERY_STRING", "")


def try_hit(namespace: str, request, headers: dict[str, str]):
    """The stored body's response when this request is a remembered token on a remembered route
    and the body is current; otherwise None, with what was read left on the request."""
    if request.method != "GET":
        return None
    token = _token(request)
    if token is None or cache.breaker.is_open() or not cache._pending_written():
        return None
    signature = _signature(request)
    principal = _principals.get(token)
    scope = principal.scope if principal is not None else None
    route = _routes.get((namespace, signature, scope))
    keys = [AUTH_KEY, ROUTES_KEY]
    if route is not None:
        keys += [
            cache.generation_key(namespace, cache.ALL),
            cache.generation_key(namespace, route.portfolio_id),
            route.body_key,
        ]
    found = cache._call(backend.get_many, keys)
    if found is cache.FAILED:
        return None
    auth_generation = found.get(AUTH_KEY) or _first_generation(AUTH_KEY)
    routes_generation = found.get(ROUTES_KEY) or _first_generation(ROUTES_KEY)
    request._pms_hit_attempt = Attempt(token, signature, auth_generation, routes_generation)
    if (
        route is None
        or auth_generation is None
        or principal is None
        or principal.generation != auth_generation
        or (scope is not None and route.portfolio_id not in scope)
        or route.generation != routes_generation
    ):
        return None
    stored = found.get(route.body_key)
    if stored is None or stored[0] != cache._tokens(found, namespace, route.portfolio_id):
        return None
    response = cache.json_response(stored[1], hit=True)
    metrics.cache_counted(namespace, True)
    for name, value in headers.items():
        response[name] = value
    return response


def _first_generation(key: str) -> str | None:
    """A generation Redis does not have yet (a new or flushed Redis): set now, before the view
    authenticates, so that a change committed after it renews it. None when another request set
    it first (its value is unknown here: nothing is remembered this time)."""
    token = secrets.token_hex(8)
    return token if cache._call(backend.add, key, token, None) is True else None


def remember(namespace: str, request, portfolio_id: int, body_key: str, scope: Scope) -> None:
    """After the view answered a cached GET (authenticated, permitted, 200): remember the token
    with its grants (``scope``) and the route, under the generations the hit path read before
    the view ran."""
    attempt: Attempt | None = getattr(request, "_pms_hit_attempt", None)
    if attempt is None or attempt.auth_generation is None or attempt.routes_generation is None:
        return  # not a token request, or Redis had no generation yet: never remember under None
    _remember(_principals, attempt.token, Principal(attempt.auth_generation, scope))
    _remember(
        _routes,
        (namespace, attempt.signature, scope),
        Route(portfolio_id, body_key, attempt.routes_generation),
    )


def fast_hits(namespace: str, view_class, view):
    """``view`` (an ``as_view()`` function) with the hit path in front of it."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        response = try_hit(namespace, request, view_class.hit_headers())
        return response if response is not None else view(request, *args, **kwargs)

    return wrapped


# --- What renews the generations ------------------------------------------------------------------


def _renew_auth(sender, **kwargs) -> None:
    if kwargs.get("update_fields") == frozenset({"last_login"}):
        return  # a login: nobody's rights changed
    cache.invalidate((cache.AUTH,))


def _renew_auth_on_groups(sender, action, **kwargs) -> None:
    if action in ("post_add", "post_remove", "post_clear"):
        cache.invalidate((cache.AUTH,))


def connect_auth_invalidation(*grant_models) -> None:
    """Any change to a token, a user, a group or a user's groups — or a row of ``grant_models``
    (the portfolio grants) — renews the ``auth`` generation: every remembered token is checked by
    DRF again on its next request."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db.models.signals import m2m_changed, post_delete, post_save
    from rest_framework.authtoken.models import Token

    user = get_user_model()
    for model in (Token, user, Group, *grant_models):
        name = model.__name__.lower()
        post_save.connect(_renew_auth, sender=model, dispatch_uid=f"pms_auth_{name}_saved")
        post_delete.connect(_renew_auth, sender=model, dispatch_uid=f"pms_auth_{name}_deleted")
    m2m_changed.connect(
        _renew_auth_on_groups, sender=user.groups.through, dispatch_uid="pms_auth_user_groups"
    )


class CachedView(APIView):
    """A DRF view whose GET answers from the cache: ``cache_namespace`` names its namespace, and
    the handler returns ``self.cached_response(portfolio_id, params, compute)`` after resolving
    the portfolio and validating the parameters. ``as_view()`` puts the hit path in front."""

    cache_namespace: str = ""
    _hit_headers: dict[str, str] | None = None

    @classmethod
    def as_view(cls, **initkwargs):
        if cls.cache_namespace not in cache.NAMESPACES:
            raise ImproperlyConfigured(f"{cls.__name__}.cache_namespace: not a cache namespace")
        return fast_hits(cls.cache_namespace, cls, super().as_view(**initkwargs))

    @classmethod
    def hit_headers(cls) -> dict[str, str]:
        """The headers DRF adds to every response of this view (``Allow``, maybe ``Vary``)."""
        if cls.__dict__.get("_hit_headers") is None:
            view = cls()
            view.setup(None)  # as Django's as_view does: HEAD answered by GET
            cls._hit_headers = dict(view.default_response_headers)
        return cls._hit_headers

    def cached_response(self, portfolio_id: int, params: dict, compute) -> HttpResponse:
        from portfolio.selectors import granted_portfolio_ids

        namespace = self.cache_namespace
        response = cache.cached_response(namespace, portfolio_id, params, compute)
        remember(
            namespace,
            self.request._request,
            portfolio_id,
            cache.body_key(namespace, portfolio_id, params),
            granted_portfolio_ids(self.request.user),
        )
        return response
