"""The OpenAPI schema: generated without a warning (a warning is a wrong schema, e.g. two
serializers of one name, one silently documented as the other), and the cached GETs documented
with their ``cached`` flag and ``X-Cache`` header."""

from __future__ import annotations

import json

from django.core.management import call_command

from pms_project.schema import CACHED_PATHS


def test_the_schema_generates_without_warnings(tmp_path):
    out = tmp_path / "schema.json"
    # --fail-on-warn: drf-spectacular exits non-zero on any warning
    call_command("spectacular", "--fail-on-warn", "--format", "openapi-json", "--file", str(out))
    schema = json.loads(out.read_text())
    for path in CACHED_PATHS:
        ok = schema["paths"][path]["get"]["responses"]["200"]
        assert ok["headers"]["X-Cache"]["schema"]["enum"] == ["HIT", "MISS"], path
        flag = ok["content"]["application/json"]["schema"]["allOf"][1]
        assert flag["required"] == ["cached"], path
    # the two "generate" requests are documented as themselves
    pack = schema["paths"]["/api/briefing/generate/"]["post"]["requestBody"]
    ref = pack["content"]["application/json"]["schema"]["$ref"]
    assert ref.endswith("/PackGenerateRequest")
    # every write documents the throttle's 429 with Retry-After; no read does
    operations = [(m, op) for item in schema["paths"].values() for m, op in item.items()]
    writes = [op for m, op in operations if m in {"post", "put", "patch", "delete"}]
    reads = [op for m, op in operations if m == "get"]
    assert writes and all("Retry-After" in op["responses"]["429"]["headers"] for op in writes)
    assert not any("429" in op["responses"] for op in reads)
