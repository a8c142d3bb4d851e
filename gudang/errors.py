"""The one root error and the small tree under it.

    GudangError
    ├── ConfigError            a site file or setting is invalid (carries every problem)
    ├── ProtocolError
    │   ├── RemoteProtocolError   the device sent bytes that break its protocol
    │   └── LocalProtocolError    we were asked to encode something the protocol cannot say
    ├── TransportError         a serial port or socket could not be opened or was lost
    ├── StorageError           InfluxDB refused, failed or was unreachable
    └── ServiceError           a local server process (mosquitto, influxd) failed to start

Foreign exceptions are wrapped at the boundary with ``raise ... from exc``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ConfigError",
    "ConfigProblem",
    "DatabaseNotFound",
    "GudangError",
    "LocalProtocolError",
    "ProtocolError",
    "RemoteProtocolError",
    "ServiceError",
    "StorageError",
    "TransportError",
]


class GudangError(Exception):
    """Root of every error gudang raises on purpose."""


@dataclass(frozen=True)
class ConfigProblem:
    """One problem in a configuration file: where it is and what is wrong."""

    path: str  # dotted field path, e.g. "bins[3].sku"
    message: str
    line: int | None = None  # 1-based line in the file, when known

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{where}{self.path or '<root>'}: {self.message}"


class ConfigError(GudangError):
    """Raised when a site file or setting is invalid; lists every problem found."""

    def __init__(self, source: str, problems: list[ConfigProblem]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s)\n{lines}")


class ProtocolError(GudangError):
    """Raised when bytes and a device protocol disagree."""


class RemoteProtocolError(ProtocolError):
    """The device sent a frame that breaks its protocol (bad checksum, bad field)."""


class LocalProtocolError(ProtocolError):
    """We asked to encode a command the protocol cannot express."""


class TransportError(GudangError):
    """A serial port or socket could not be opened, or was lost."""


class StorageError(GudangError):
    """InfluxDB refused a request, failed, or could not be reached."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = True):
        super().__init__(message)
        self.status = status
        self.retryable = retryable


class DatabaseNotFound(StorageError):
    """The database does not exist yet: nothing has been written (an answer,
    not a failure, for a reader)."""


class ServiceError(GudangError):
    """A local server process (mosquitto, influxd) failed to start or answer."""
