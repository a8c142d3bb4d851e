"""RFID presence: raw reads in, ``arrived`` / ``departed`` out, per tag and antenna.

Readers repeat a tag many times a second while it stays in the field (an
RDM6300 every ~65 ms, a UHF module once per inventory round), and near steel
they miss reads and pick up strays. A tag *arrives* after ``arrive_reads``
reads within ``depart_after_s`` of each other, and *departs* when it has not
been read for ``depart_after_s``. Every read in between is suppressed as a
duplicate. RSSI is smoothed (exponential average) and reported with the event.
Pure: the caller passes the time and asks for departures with ``expire``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Presence", "PresenceEvent"]


@dataclass(frozen=True)
class PresenceEvent:
    tag: str
    antenna: int
    event: Literal["arrived", "departed"]
    rssi: float | None


@dataclass
class _Track:
    reads: int
    last_seen: float
    rssi: float | None
    present: bool = False


class Presence:
    def __init__(self, arrive_reads: int = 2, depart_after_s: float = 0.5) -> None:
        if arrive_reads < 1 or depart_after_s <= 0:
            raise ValueError("arrive_reads must be >= 1 and depart_after_s > 0")
        self.arrive_reads = arrive_reads
        self.depart_after_s = depart_after_s
        self._tracks: dict[tuple[str, int], _Track] = {}
        self.duplicates = 0

    def read(self, tag: str, antenna: int, rssi: float | None, now: float) -> PresenceEvent | None:
        key = (tag, antenna)
        track = self._tracks.get(key)
        if track is None or (not track.present and now - track.last_seen > self.depart_after_s):
            track = self._tracks[key] = _Track(0, now, rssi)
        track.reads += 1
        track.last_seen = now
        if rssi is not None:
            track.rssi = rssi if track.rssi is None else 0.7 * track.rssi + 0.3 * rssi
        if not track.present and track.reads >= self.arrive_reads:
            track.present = True
            return PresenceEvent(tag, antenna, "arrived", _round(track.rssi))
        if track.present:
            self.duplicates += 1
        return None

    def expire(self, now: float) -> list[PresenceEvent]:
        """Departures of tags not read for depart_after_s; forgets stale candidates."""
        gone: list[PresenceEvent] = []
        for key, track in list(self._tracks.items()):
            if now - track.last_seen > self.depart_after_s:
                del self._tracks[key]
                if track.present:
                    gone.append(PresenceEvent(key[0], key[1], "departed", _round(track.rssi)))
        return gone

    @property
    def present(self) -> list[tuple[str, int]]:
        return [k for k, t in self._tracks.items() if t.present]


def _round(rssi: float | None) -> float | None:
    return None if rssi is None else round(rssi, 1)
