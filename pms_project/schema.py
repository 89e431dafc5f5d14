"""OpenAPI postprocessing: the API's error responses and links, documented on every operation.

drf-spectacular documents what a view returns when all goes well. This hook adds, for every
operation of the schema (so a new endpoint is covered from its first commit):

- the shared ``Error`` component, the body of every 4xx answer: ``{"detail": "message"}`` for
  authentication, permission, not-found and parse errors, ``{"field": ["message", ...]}`` for bad
  input and broken desk rules (``field`` may be ``non_field_errors`` or a path such as
  ``prices[2].close``);
- the 400, 401, 403, 404, 409 and 413 responses with that body, unless the view documents its own;
- a 429 with ``Retry-After`` on every write (the write throttle);
- OpenAPI links between operations whose responses name what another operation takes (an opened
  position's id to its detail and its close), for stateful clients and the fuzzer;
- request bodies that are JSON lists only as ``application/json``: a form cannot carry a list;
- decimal request fields as a decimal string *or* a JSON number: DRF's DecimalField takes both
  (``{"price": 101.5}`` is a price), answers leave as strings only.
"""

from __future__ import annotations

import copy
from typing import Any

ERROR_COMPONENT = "Error"
ERROR_REF = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": (
        'Every 4xx answer. `{"detail": "message"}` for authentication, permission, not-found '
        'and parse errors; `{"field": ["message", ...]}` for bad input and broken desk rules, '
        "where `field` names the input at fault (`non_field_errors` when it is the request as "
        "a whole; `prices[2].close` for a row of a list body)."
    ),
    "properties": {"detail": {"type": "string", "description": "what went wrong"}},
    "additionalProperties": {
        "type": "array",
        "items": {"type": "string"},
        "minItems": 1,
        "description": "the messages about this field",
    },
    "minProperties": 1,
    "example": {"quantity": ["must not be zero"]},
}

ERROR_RESPONSES: dict[str, str] = {
    "400": "Bad input: a malformed body or parameter, or a broken desk rule; names the field.",
    "401": "No or invalid credentials (`Authorization: Token <key>` or a session).",
    "403": "The user's role does not allow this operation.",
    "404": "No such object (or no such object in the selected portfolio).",
    "409": "Conflicts with the current state or with a concurrent change; retry.",
    "413": "The request body is too large.",
}

JSON = "application/json"

# Producer operation id → status → link name → link object. Operation ids are drf-spectacular's
# (``<path with underscores>_<action>``); a link whose operations are absent is left out, so a
# renamed route drops its link rather than breaking the schema.
_POSITION_ID = "$response.body#/position/id"
LINKS: dict[str, dict[str, dict[str, dict[str, Any]]]] = {
    "portfolio_positions_open_create": {
        "201": {
            "OpenedPosition": {
                "operationId": "portfolio_positions_retrieve",
                "parameters": {"id": _POSITION_ID},
                "description": "The position the execution opened or added to.",
            },
            "CloseOpenedPosition": {
                "operationId": "portfolio_positions_close_create",
                "parameters": {"id": _POSITION_ID},
                "description": "Close (part of) the position the execution opened.",
            },
        }
    },
    "portfolio_positions_close_create": {
        "200": {
            "ClosedPosition": {
                "operationId": "portfolio_positions_retrieve",
                "parameters": {"id": _POSITION_ID},
                "description": "The position after the close.",
            },
            "CloseAgain": {
                "operationId": "portfolio_positions_close_create",
                "parameters": {"id": _POSITION_ID},
                "description": "Close what is left (a 400 once it is flat).",
            },
        }
    },
    "portfolio_positions_list": {
        "200": {
            "FirstPosition": {
                "operationId": "portfolio_positions_retrieve",
                "parameters": {"id": "$response.body#/results/0/id"},
                "description": "The first position of the page.",
            },
            "CloseFirstPosition": {
                "operationId": "portfolio_positions_close_create",
                "parameters": {"id": "$response.body#/results/0/id"},
                "description": "Close the first position of the page.",
            },
        }
    },
    "portfolio_instruments_create": {
        "201": {
            "OpenOnNewInstrument": {
                "operationId": "portfolio_positions_open_create",
                "requestBody": {"symbol": "$response.body#/symbol"},
                "description": "Trade the new instrument (a 400 until it has a close).",
            },
            "MarkNewInstrument": {
                "operationId": "portfolio_prices_update_create",
                "requestBody": {"symbol": "$response.body#/symbol"},
                "description": "Mark the new instrument intraday.",
            },
        }
    },
    "portfolio_strategies_create": {
        "201": {
            "OpenInNewStrategy": {
                "operationId": "portfolio_positions_open_create",
                "requestBody": {"strategy": "$response.body#/code"},
                "description": "Open a position in the new strategy.",
            }
        }
    },
    "trades_proposals_create": {
        "201": {
            "ApproveNewProposal": {
                "operationId": "trades_proposals_approve_create",
                "parameters": {"id": "$response.body#/id"},
                "description": "Approve the proposal (another approver than its creator).",
            },
            "ModifyApproveNewProposal": {
                "operationId": "trades_proposals_modify_approve_create",
                "parameters": {"id": "$response.body#/id"},
                "description": "Change its quantity or price and approve it.",
            },
            "RejectNewProposal": {
                "operationId": "trades_proposals_reject_create",
                "parameters": {"id": "$response.body#/id"},
                "description": "Reject the proposal with a reason.",
            },
        }
    },
    "trades_proposals_list": {
        "200": {
            "ApproveFirstProposal": {
                "operationId": "trades_proposals_approve_create",
                "parameters": {"id": "$response.body#/results/0/id"},
                "description": "Approve the first proposal of the page.",
            },
            "RejectFirstProposal": {
                "operationId": "trades_proposals_reject_create",
                "parameters": {"id": "$response.body#/results/0/id"},
                "description": "Reject the first proposal of the page.",
            },
        }
    },
    "portfolio_portfolios_create": {
        "201": {
            "NewPortfolioBook": {
                "operationId": "portfolio_book_retrieve",
                "parameters": {"query.portfolio": "$response.body#/code"},
                "description": "The (empty) book of the new portfolio.",
            },
            "NewPortfolioCashFlow": {
                "operationId": "portfolio_cashflows_create",
                "parameters": {"query.portfolio": "$response.body#/code"},
                "description": "Subscribe to the new portfolio.",
            },
        }
    },
}

HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
WRITE_METHODS = frozenset({"put", "post", "delete", "patch"})
THROTTLED = {
    "description": "Too many writes from this user (PMS_THROTTLE_WRITES); nothing was written.",
    "headers": {
        "Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}},
    },
}


def _operations(schema: dict) -> list[dict]:
    return [
        operation
        for path_item in schema.get("paths", {}).values()
        for method, operation in path_item.items()
        if method in HTTP_METHODS
    ]


def _add_error_responses(operation: dict) -> None:
    responses = operation.setdefault("responses", {})
    for code, description in ERROR_RESPONSES.items():
        if code in responses:  # the view documented it itself
            continue
        response: dict[str, Any] = {
            "description": description,
            "content": {JSON: {"schema": dict(ERROR_REF)}},
        }
        if code == "401":
            response["headers"] = {
                "WWW-Authenticate": {
                    "description": "the scheme to authenticate with (`Token`)",
                    "schema": {"type": "string"},
                }
            }
        responses[code] = response


def _add_throttled_response(schema: dict) -> None:
    """Every write may be a 429 (pms_project/throttles.py); reads are never throttled."""
    for path_item in schema.get("paths", {}).values():
        for method, operation in path_item.items():
            if method in WRITE_METHODS:
                response = {
                    **copy.deepcopy(THROTTLED),
                    "content": {JSON: {"schema": dict(ERROR_REF)}},
                }
                operation.setdefault("responses", {}).setdefault("429", response)


def _json_only_list_bodies(operation: dict) -> None:
    content = operation.get("requestBody", {}).get("content", {})
    if JSON in content and content[JSON].get("schema", {}).get("type") == "array":
        for media_type in list(content):
            if media_type != JSON:
                del content[media_type]


def _is_decimal_string(schema: dict) -> bool:
    return schema.get("type") == "string" and schema.get("format") == "decimal"


def _decimal_inputs_accept_numbers(schema: dict) -> None:
    """Widen the decimal fields of an input object schema (in place) to string or number."""
    for name, prop in list(schema.get("properties", {}).items()):
        if _is_decimal_string(prop) and not prop.get("readOnly"):
            number = {"type": "number"}
            if prop.get("nullable"):
                number["nullable"] = True
            schema["properties"][name] = {
                "oneOf": [prop, number],
                **({"description": prop["description"]} if "description" in prop else {}),
            }


def _request_components(schema: dict) -> list[dict]:
    """The object schemas requests carry: ``*Request`` components (COMPONENT_SPLIT_REQUEST)."""
    components = schema.get("components", {}).get("schemas", {})
    return [body for name, body in components.items() if name.endswith("Request")]


def _add_links(schema: dict) -> None:
    by_id = {op.get("operationId"): op for op in _operations(schema)}
    for producer_id, by_status in LINKS.items():
        producer = by_id.get(producer_id)
        if producer is None:
            continue
        for code, links in by_status.items():
            response = producer.get("responses", {}).get(code)
            if response is None:
                continue
            present = {name: link for name, link in links.items() if link["operationId"] in by_id}
            if present:
                response.setdefault("links", {}).update(copy.deepcopy(present))


# The cached GETs (pms_project.cache): their 200 body has "cached" first, and X-Cache says so.
CACHED_PATHS = frozenset(
    {
        "/api/portfolio/book/",
        "/api/risk/live/",
        "/api/attribution/",
        "/api/attribution/series/",
        "/api/briefing/latest/",
        "/api/briefing/{day}/",
    }
)
CACHED_FLAG = {
    "type": "object",
    "properties": {
        "cached": {
            "type": "boolean",
            "description": "true when served from the cache (then X-Cache is HIT)",
        }
    },
    "required": ["cached"],
}
X_CACHE = {
    "X-Cache": {
        "schema": {"type": "string", "enum": ["HIT", "MISS"]},
        "description": "HIT: served from the cache; MISS: computed now",
        "required": True,
    }
}


def _document_cache(schema: dict) -> None:
    for path in CACHED_PATHS & schema.get("paths", {}).keys():
        ok = schema["paths"][path].get("get", {}).get("responses", {}).get("200")
        if not ok:
            continue
        content = ok.get("content", {}).get(JSON)
        if content and "schema" in content:
            content["schema"] = {"allOf": [content["schema"], copy.deepcopy(CACHED_FLAG)]}
        ok.setdefault("headers", {}).update(copy.deepcopy(X_CACHE))


def postprocess_error_responses_and_links(result, generator, request, public, **kwargs):
    """drf-spectacular postprocessing hook (see the module docstring)."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components[ERROR_COMPONENT] = copy.deepcopy(ERROR_SCHEMA)
    _document_cache(result)
    for operation in _operations(result):
        _add_error_responses(operation)
        _json_only_list_bodies(operation)
    _add_throttled_response(result)
    for component in _request_components(result):
        _decimal_inputs_accept_numbers(component)
    _add_links(result)
    return result
