"""A ``gudang <command>`` child process that its owner starts, watches and stops.

Used by ``gudang demo``, the tests and the benchmarks.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

from gudang.services.process import with_parent_death

__all__ = ["GudangProcess"]


class GudangProcess:
    """``gudang <args>`` as a child process; ``stop()`` returns its exit status."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.args = args
        self.name = args[0]
        self.log_path = log_path
        self._log: IO[bytes] = log_path.open("ab")
        self.proc = subprocess.Popen(
            with_parent_death([sys.executable, "-m", "gudang.cli", *args]),
            # Safe path: the installed gudang, never a gudang/ folder that
            # happens to be in the working directory (a source checkout's is
            # only part of the package).
            env={**env, "PYTHONSAFEPATH": "1"},
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=log_path.parent,  # anything a child writes by default lands beside its log
        )

    @property
    def running(self) -> bool:
        return self.proc.poll() is None

    def events(self) -> list[dict[str, Any]]:
        """The structured log lines written so far."""
        out = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    out.append(json.loads(line))
        return out

    def logged(self, event: str) -> bool:
        return any(e.get("event") == event for e in self.events())

    def stop(self, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log.close()

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
