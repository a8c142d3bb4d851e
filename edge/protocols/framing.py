"""The two framings serial devices use, written once: lines, and frames that
begin with a start byte. Protocol modules subclass one and parse a single
line or frame; buffering, resynchronisation and counting live here."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Generic, TypeVar

from gudang.edge.protocols.base import DecoderStats

__all__ = ["LineDecoder", "StartByteDecoder"]

E = TypeVar("E")


class LineDecoder(ABC, Generic[E]):
    """LF-terminated lines (CR optional); a line longer than ``max_line`` is noise."""

    max_line = 64

    def __init__(self) -> None:
        self._buf = bytearray()
        self.stats = DecoderStats()

    def feed(self, data: bytes) -> None:
        self._buf += data
        if len(self._buf) > self.max_line and b"\n" not in self._buf:
            # No line end in sight: noise on the line. Keep only the tail,
            # which may be the start of the next line.
            del self._buf[: -self.max_line]
            self.stats.resyncs += 1

    def next_frame(self) -> E | None:
        while (end := self._buf.find(b"\n")) >= 0:
            raw = bytes(self._buf[:end]).rstrip(b"\r")
            del self._buf[: end + 1]
            if not raw.strip():
                continue  # blank lines are keep-alives on some devices
            if len(raw) > self.max_line:
                self.stats.bad("too long")
                continue
            event = self.parse_line(raw)
            if event is not None:
                self.stats.frames_ok += 1
                return event
        return None

    @abstractmethod
    def parse_line(self, raw: bytes) -> E | None:
        """The event a line means, or None after counting why it is bad."""


class StartByteDecoder(ABC, Generic[E]):
    """Frames that begin with ``start``; garbage before it is skipped, and a
    start byte that does not begin a valid frame is stepped over."""

    start: int

    def __init__(self) -> None:
        self._buf = bytearray()
        self.stats = DecoderStats()

    def prepare(self, data: bytes) -> bytes:
        return data

    def feed(self, data: bytes) -> None:
        self._buf += self.prepare(data)

    @abstractmethod
    def frame_size(self, buf: bytearray) -> int | None:
        """Size of the frame at the start of `buf`; None: need more bytes; 0: not a frame."""

    @abstractmethod
    def parse_frame(self, frame: bytes) -> E | None:
        """The event a whole frame means, or None after counting why it is bad."""

    def next_frame(self) -> E | None:
        while True:
            at = self._buf.find(self.start)
            if at < 0:
                if self._buf:
                    self._buf.clear()
                    self.stats.resyncs += 1
                return None
            if at > 0:
                del self._buf[:at]
                self.stats.resyncs += 1
            size = self.frame_size(self._buf)
            if size is None or len(self._buf) < (size or 1):
                return None
            event = self.parse_frame(bytes(self._buf[:size])) if size else None
            if event is None:
                del self._buf[:1]  # this start byte began no frame: look for the next
                continue
            del self._buf[:size]
            self.stats.frames_ok += 1
            return event
