"""Real processes for the fault tests (``test_faults.py``): a Celery worker and beat, each a
subprocess this module starts and ends by its own process id (the private Redis broker is
``tests.redis_server.RedisServer`` with persistence).

The worker loads this module (``-I ops.tests.process_worker``), which then does two things in
it, both inert unless ``PMS_FAULT_DIR`` names a directory:

- it appends a line per task it starts to ``<dir>/tasks.log`` (process id, task name, step): the
  test counts executions, and so redeliveries;
- it adds *pause points*: ``step:<step>:before`` (the step recorded running, its service not
  called yet), ``step:<step>:after`` (the service's rows committed, the step not yet recorded
  succeeded) and ``sql:<text>`` (a statement containing ``<text>`` about to run, inside its
  service's transaction). A test arms one by writing its name to ``<dir>/pause``; the first
  task to reach it claims it (a rename: one process wins), writes its process id to
  ``<dir>/paused-<slug>`` and waits there for ``<dir>/release-<slug>`` (or to be killed), for
  at most ``PAUSE_LIMIT`` seconds. A redelivered task finds the pause already claimed and runs.

The pool child is the process that pauses: SIGKILL of it is a worker lost mid-step.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

FAULT_DIR = os.environ.get("PMS_FAULT_DIR", "")
PAUSE_LIMIT = 120.0
ROOT = Path(__file__).resolve().parents[2]
PYTHON_BIN = Path(sys.executable).parent


# --- In the worker: the hooks --------------------------------------------------------------------


def slug(point: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", point).strip("_")


def pause_point(point: str) -> None:
    """Wait here when a test armed ``point`` (see the module's docstring)."""
    folder = Path(FAULT_DIR)
    armed = folder / "pause"
    try:
        if armed.read_text() != point:
            return
        claimed = folder / f"claimed-{os.getpid()}-{time.monotonic_ns()}"
        armed.rename(claimed)  # atomic: one process claims the pause
    except FileNotFoundError:
        return
    claimed.unlink()
    name = slug(point)
    _write(folder / f"paused-{name}", str(os.getpid()))
    release = folder / f"release-{name}"
    deadline = time.monotonic() + PAUSE_LIMIT
    while not release.exists() and time.monotonic() < deadline:
        time.sleep(0.02)


def _write(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".part")
    partial.write_text(text)
    partial.rename(path)


def _install() -> None:
    from celery.signals import task_prerun
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection

    from ops import pipelines

    original = pipelines.step_run

    def step_run(ticket, step, call):
        def paused_call(portfolio, day):
            pause_point(f"step:{step}:before")
            result = call(portfolio, day)
            pause_point(f"step:{step}:after")
            return result

        return original(ticket, step, paused_call)

    def sql_pause(execute, sql, params, many, context):
        armed = Path(FAULT_DIR) / "pause"
        if armed.exists():
            try:
                point = armed.read_text()
            except FileNotFoundError:
                point = ""
            if point.startswith("sql:") and point[4:] in sql:
                pause_point(point)
        return execute(sql, params, many, context)

    def on_prerun(sender=None, task=None, **kwargs):
        # The flush after each transactional test recreates the content types under new ids: a
        # worker living through several tests must not keep the old ones (the audit's foreign key).
        ContentType.objects.clear_cache()
        if sql_pause not in connection.execute_wrappers:
            connection.execute_wrappers.append(sql_pause)
        step = getattr(task, "step", "") or "-"
        with open(Path(FAULT_DIR) / "tasks.log", "a") as log:
            log.write(f"{os.getpid()} {sender.name} {step}\n")

    pipelines.step_run = step_run
    task_prerun.connect(on_prerun, weak=False)


if FAULT_DIR and os.environ.get("PMS_FAULT_HOOKS") == "1":
    _install()


# --- In the test: the processes ------------------------------------------------------------------


def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s: {what}")


def process_kill(pid: int) -> bool:
    """SIGKILL ``pid`` (a process this module started, or its pool child); False if gone."""
    try:
        os.kill(pid, signal.SIGKILL)
        return True
    except ProcessLookupError:
        return False


class Worker:
    """``celery -A pms_project worker`` (prefork, one child) in a subprocess, with the hooks."""

    def __init__(self, folder: Path, env: dict[str, str], name: str = "worker"):
        self.folder, self.env, self.name = folder, env, name
        self.process: subprocess.Popen | None = None
        self.log = folder / f"{name}.log"

    def start(self) -> None:
        self.log.write_text("")
        self.process = subprocess.Popen(
            [str(PYTHON_BIN / "celery"), "-A", "pms_project", "worker", "--pool=prefork",
             "--concurrency=1", "--prefetch-multiplier=1", "-Q", "celery", "--loglevel=INFO",
             "-I", "ops.tests.process_worker", "--without-gossip", "--without-mingle",
             "--without-heartbeat", "-n", f"{self.name}-{os.getpid()}@%h"],
            cwd=ROOT,
            env={**self.env, "PMS_FAULT_HOOKS": "1"},
            stdout=self.log.open("a"),
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_until(lambda: " ready." in self.log.read_text(), 60, f"{self.name} ready")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def children(self) -> list[int]:
        import psutil

        try:
            return [c.pid for c in psutil.Process(self.process.pid).children()]
        except psutil.NoSuchProcess:
            return []

    def kill(self) -> int:
        """SIGKILL the worker, main process and pool child at once; how many were killed."""
        pids = [self.process.pid, *self.children()]
        killed = sum(process_kill(pid) for pid in pids)
        self.process.wait(10)
        return killed

    def stop(self) -> None:
        if not self.alive():
            return
        children = self.children()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.kill()
        for pid in children:  # a child left behind by a killed main process
            process_kill(pid)


class Beat:
    """``celery -A pms_project beat`` with the DatabaseScheduler of the settings."""

    def __init__(self, folder: Path, env: dict[str, str], name: str):
        self.folder, self.env, self.name = folder, env, name
        self.log = folder / f"{name}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [str(PYTHON_BIN / "celery"), "-A", "pms_project", "beat", "--loglevel=INFO",
             "--pidfile=", "--max-interval=1"],
            cwd=ROOT,
            env=self.env,
            stdout=self.log.open("a"),
            stderr=subprocess.STDOUT,
        )  # fmt: skip

    def sent(self) -> int:
        return self.log.read_text().count("Sending due task")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                process_kill(self.process.pid)
                self.process.wait(10)


class Faults:
    """The test's side of the pause points, in the fault directory."""

    def __init__(self, folder: Path):
        self.folder = folder

    def arm(self, point: str) -> None:
        _write(self.folder / "pause", point)

    def paused(self, point: str, timeout: float = 30) -> int:
        """The process id of the task waiting at ``point``, once one is."""
        marker = self.folder / f"paused-{slug(point)}"
        wait_until(marker.exists, timeout, f"a task paused at {point}")
        return int(marker.read_text())

    def release(self, point: str) -> None:
        (self.folder / f"release-{slug(point)}").touch()  # (a slug is its own slug)

    def release_all(self) -> None:
        """Let go whatever still waits (a failed test must not leave the worker paused)."""
        for marker in self.folder.glob("paused-*"):
            self.release(marker.name.removeprefix("paused-"))

    def reset(self) -> None:
        for path in self.folder.iterdir():
            if path.name == "pause" or path.name.startswith(("paused-", "release-", "tasks.")):
                path.unlink()

    def executions(self) -> dict[str, int]:
        """How many times each task started (a task started twice was redelivered)."""
        log = self.folder / "tasks.log"
        counts: dict[str, int] = {}
        for line in log.read_text().splitlines() if log.exists() else []:
            name = line.split()[1]
            counts[name] = counts.get(name, 0) + 1
        return counts
