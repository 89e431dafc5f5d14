"""scripts/ensure_services.sh on a machine without Redis installed.

The README promises that `make test` works on a fresh machine with neither Redis nor a
PostgreSQL server (the embedded PostgreSQL covers the database, ``PMS_PG_OPTIONAL=1``). Redis
has no embedded substitute, so the script installs it with apt-get. Uninstalling Redis here to
prove it is not an option, so the script runs with a PATH that holds only the tools it needs —
no ``redis-server``, no ``redis-cli`` — and an ``apt-get`` that records its arguments and
"installs" the machine's real ``redis-server`` into that PATH. The script must then start that
Redis on a free port, wait for it to answer PONG, and exit 0; the test talks to the Redis it
started, then shuts it down.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
import redis

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "ensure_services.sh"
# What the script runs besides bash builtins (pg_isready keeps PostgreSQL's check as it is).
TOOLS = ("bash", "env", "seq", "sleep", "mkdir", "dirname", "id", "ls", "cat", "pg_isready")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fake_path(tmp_path: Path, *, apt_get: bool) -> tuple[Path, Path]:
    """A bin folder with the script's tools, without Redis; optionally a recording apt-get."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in TOOLS:
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    log = tmp_path / "apt-get.log"
    if apt_get:
        real = shutil.which("redis-server")
        ln = shutil.which("ln")
        assert real and ln, "the suite needs Redis installed (the fake apt-get links the real one)"
        script = bin_dir / "apt-get"
        script.write_text(
            "#!/bin/sh\n"
            f'echo "DEBIAN_FRONTEND=$DEBIAN_FRONTEND $*" >> "{log}"\n'
            f'case " $* " in *" install "*) {ln} -sf "{real}" "{bin_dir}/redis-server";; esac\n'
        )
        script.chmod(0o755)
    return bin_dir, log


def run_script(bin_dir: Path, tmp_path: Path, port: int) -> subprocess.CompletedProcess:
    env = {
        "PATH": str(bin_dir),
        "HOME": str(tmp_path),
        "PMS_PG_OPTIONAL": "1",
        "PMS_REDIS_PORT": str(port),
        "PMS_REDIS_DIR": str(tmp_path / "redis"),
        "PMS_SERVICES_WAIT": "15",
    }
    return subprocess.run(
        ["/bin/bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="the non-root path goes through sudo")
def test_missing_redis_is_installed_with_apt_get_then_started(tmp_path):
    bin_dir, log = fake_path(tmp_path, apt_get=True)
    port = free_port()
    result = run_script(bin_dir, tmp_path, port)
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=2)
    try:
        assert result.returncode == 0, result.stderr
        assert "installing it: " in result.stdout and "apt-get install -y redis-server" in (
            result.stdout
        )
        calls = log.read_text().splitlines()
        assert calls == [
            "DEBIAN_FRONTEND=noninteractive update -q",
            "DEBIAN_FRONTEND=noninteractive install -y -q redis-server",
        ]
        assert "ensure_services: starting Redis" in result.stdout
        assert client.ping() is True
        assert client.config_get("dir")["dir"] == str(tmp_path / "redis")
    finally:
        try:
            client.shutdown(nosave=True)
        except redis.ConnectionError:
            pass  # shutdown closes the connection it was sent on (or nothing was started)


def test_missing_redis_without_apt_get_fails_naming_what_to_install(tmp_path):
    bin_dir, log = fake_path(tmp_path, apt_get=False)
    result = run_script(bin_dir, tmp_path, free_port())
    assert result.returncode == 1
    assert "redis-server is not installed" in result.stderr
    assert "install Redis 7" in result.stderr
    assert "after 15 s" not in result.stderr  # nothing was started, so nothing was waited for
    assert not log.exists()
