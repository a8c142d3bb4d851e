"""A local server process (mosquitto, influxd) that gudang starts and owns.

Used by the test fixtures, the benchmarks and ``gudang demo``: each server runs
on a free loopback port with its data in a directory of the caller's choosing,
can be stopped, killed and restarted on the same port and data (outage tests),
and never touches the system-wide service.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from pathlib import Path
from types import TracebackType

from gudang.errors import ServiceError

__all__ = ["LocalServer", "find_binary", "free_port", "with_parent_death"]

_EXTRA_PATH = ("/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free on `host` a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def with_parent_death(argv: list[str]) -> list[str]:
    """`argv` run so that it gets SIGTERM if its owner dies, even by SIGKILL.

    Children run in their own session (so a terminal Ctrl-C reaches only the
    owner, which stops them in order); this keeps them from outliving it.
    setpriv (util-linux, on every Debian) sets the death signal and then
    execs the command: no preexec_fn, which is unsafe in a process with
    threads (the tests' and the demo's have several). An owner that dies
    in the child's first moments, before setpriv has armed the signal,
    leaves it running.
    """
    setpriv = shutil.which("setpriv", path=os.pathsep.join(_EXTRA_PATH))
    if not sys.platform.startswith("linux") or setpriv is None:
        return argv
    return [setpriv, "--pdeathsig", "TERM", "--", *argv]


def find_binary(name: str, package: str) -> str:
    path = os.environ.get("PATH", "") + os.pathsep + os.pathsep.join(_EXTRA_PATH)
    found = shutil.which(name, path=path)
    if found is None:
        raise ServiceError(
            f"{name} not found; install the Debian package {package!r} "
            f"(make test and make demo do this for you)"
        )
    return found


class LocalServer(ABC):
    """Start, stop, kill and restart one server process on loopback."""

    name: str = "server"

    def __init__(self, workdir: Path, port: int | None = None, host: str = "127.0.0.1"):
        self.workdir = Path(workdir)
        self.host = host
        self.port = port or free_port(host)
        self._proc: subprocess.Popen[bytes] | None = None
        self.workdir.mkdir(parents=True, exist_ok=True)

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    @abstractmethod
    def command(self) -> list[str]:
        """Write the configuration and return the argv that runs the server."""

    @abstractmethod
    def ready(self) -> bool:
        """True once the server answers its protocol on self.port."""

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self, timeout: float = 30.0) -> None:
        if self.running:
            return
        argv = self.command()
        with open(self.log_path, "ab") as log:
            # Own session: a Ctrl-C in the terminal reaches the owner, which then
            # stops its servers in order, instead of killing them mid-write.
            self._proc = subprocess.Popen(
                with_parent_death(argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise ServiceError(f"{self.name} exited at start:\n{self._log_tail()}")
            if self.ready():
                return
            time.sleep(0.05)
        self.stop()
        raise ServiceError(
            f"{self.name} did not answer within {timeout:.0f} s:\n{self._log_tail()}"
        )

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, then SIGKILL after `timeout`; waits until the port is free."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None
        self._wait_port_free()

    def kill(self) -> None:
        """SIGKILL: a crash, for tests of what survives one."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._proc = None
        self._wait_port_free()

    def restart(self, timeout: float = 30.0) -> None:
        self.stop()
        self.start(timeout)

    def _wait_port_free(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind((self.host, self.port))
                    return
                except OSError:
                    time.sleep(0.05)

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> LocalServer:
        self.start()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
