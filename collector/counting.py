"""Warnings about what a scale cannot count, from the site file at start and
from each scale's measured noise as its edge reports it. Pure."""

from __future__ import annotations

from gudang.contract import DeviceStatus
from gudang.site import Site

__all__ = ["CountingWatch"]


class CountingWatch:
    def __init__(self, site: Site) -> None:
        self.site = site
        self._noise: dict[str, tuple[float, int]] = {}  # device -> (noise kg, samples)
        self._said: dict[str, frozenset[str]] = {}  # device -> bins last warned about

    def at_start(self) -> list[str]:
        """What the site file alone says: single pieces finer than a division."""
        return [msg for _, msg in self.site.counting_warnings()]

    def status(self, s: DeviceStatus) -> list[str]:
        """New warnings (or none) for a scale whose measured noise is reported."""
        if s.subject != "device" or s.noise_kg is None or not s.max_plateau_samples:
            return []
        # Judged on the longest average the edge makes: it averages that long
        # whenever a shorter one cannot tell a piece from noise.
        self._noise[s.id] = (s.noise_kg, s.max_plateau_samples)
        found = {
            self.site.bins[int(loc[1])].id: msg
            for loc, msg in self.site.counting_warnings({s.id: self._noise[s.id]})
            if self.site.bins[int(loc[1])].device == s.id
        }
        # Said again only when the bins concerned change, not as the noise wobbles.
        if frozenset(found) == self._said.get(s.id, frozenset()):
            return []
        self._said[s.id] = frozenset(found)
        return [found[b] for b in sorted(found)]
