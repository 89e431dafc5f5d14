"""A redis-server of a test's own, to pause, kill and restart: the machine's Redis is shared by
every suite on it (other checkouts, CI) and is never paused or stopped by a test."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from pathlib import Path

from bench.http_load import free_port


class RedisServer:
    """A redis-server of the test's own on a free port, to stop, pause and restart: the machine's
    Redis is shared and never touched.

    Without ``persist_in`` it keeps nothing on disk. With a folder it keeps an append-only file
    there, fsynced at every write: killed (SIGKILL) and started again on the same port, it has
    its keys back, as a production broker with persistence does."""

    def __init__(self, persist_in: Path | None = None) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.folder = persist_in
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        if self.folder is None:
            command += ["--appendonly", "no"]
            output = subprocess.DEVNULL
        else:
            command += ["--dir", str(self.folder), "--appendonly", "yes", "--appendfsync", "always"]
            output = (self.folder / "redis.log").open("a")
        self.process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.ping():
                return
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def ping(self) -> bool:
        with contextlib.suppress(Exception):
            return bool(self.client(timeout=0.5).ping())
        return False

    def client(self, timeout: float = 1.0):
        import redis

        return redis.Redis(port=self.port, socket_timeout=timeout, socket_connect_timeout=timeout)

    def pause(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def signal(self, number: int) -> None:
        assert self.process is not None
        self.process.send_signal(number)

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)  # a stopped process still dies, but be sure
            self.process.kill()
            self.process.wait(10)
            self.process = None

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()  # returns None: an exception (a failed assertion) in the block propagates
