"""Smoke of the embedded default: the README's main command path on SQLite + local memory.

Runs ``make demo-data`` (migrate + seed_demo, which marks the demo to market) against a SQLite
file in a temporary folder, with no DATABASE_URL / REDIS_URL / broker in the environment, then
serves it with runserver and reads the book through the API with a token.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def _embedded_env(db_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "CELERY_BROKER_URL"}}
    env["DATABASE_URL"] = db_url
    env["DJANGO_SETTINGS_MODULE"] = "pms_project.settings"
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, token: str | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Token {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def test_readme_main_command_path_on_sqlite(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    env = _embedded_env(db_url)
    # given the README's set-up step on the embedded default
    seeded = subprocess.run(
        ["make", "--no-print-directory", "demo-data", f"DEMO_DATABASE_URL={db_url}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert seeded.returncode == 0, seeded.stdout[-3000:] + seeded.stderr[-3000:]
    assert (tmp_path / "db.sqlite3").exists()
    assert re.search(r"password", seeded.stdout, re.IGNORECASE), seeded.stdout[-2000:]

    token_run = subprocess.run(
        [sys.executable, "manage.py", "drf_create_token", "demo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    token = re.search(r"([0-9a-f]{40})", token_run.stdout).group(1)

    # when it is served
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if _get(f"{base}/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        # then anonymous requests are refused and the demo book answers with a token
        assert _get(f"{base}/api/portfolio/book/")[0] == 401
        status, book = _get(f"{base}/api/portfolio/book/", token)
        assert status == 200, book
        assert book["portfolio"] == "MACRO1"
        assert float(book["nav"]) > 0
        assert len(book["positions"]) >= 3
        assert {p["asset_class"] for p in book["positions"]} >= {"FX", "RATES", "EQUITY"}
        status, nav = _get(f"{base}/api/portfolio/nav/?limit=5000", token)
        assert status == 200
        assert nav["count"] >= 200  # about a year of marked business days
    finally:
        server.terminate()
        server.wait(timeout=10)
