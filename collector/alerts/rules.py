"""Alert rules and lifecycle, pure: conditions in, transitions out.

One alert per (kind, subject). An alert is raised when, from a reading at or
below the threshold ("bad"), the value has not recovered past threshold +
hysteresis ("good") for ``dwell_ms``; it clears when it stays "good" for
``dwell_ms``. Readings wobbling around the minimum therefore raise one alert,
not many, and a short dip that recovers raises none. Lifecycle: raised -> acknowledged ->
cleared (acknowledging keeps it active; a cleared alert can be raised again
later). Times are device times for stock and scale alerts, so a replayed
stream gives the same alerts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from gudang.contract import Acknowledgement, Alert, LocalizedText
from gudang.contract.messages import MAX_ACKNOWLEDGEMENTS, AlertKind

__all__ = ["AlertBook", "Condition", "Key"]

Key = tuple[AlertKind, str]
Condition = Literal["bad", "good", "between"]


class AlertBook:
    def __init__(self, dwell_ms: int) -> None:
        self.dwell_ms = dwell_ms
        self.active: dict[Key, Alert] = {}
        self._raise: dict[Key, int] = {}  # condition bad since
        self._clear: dict[Key, int] = {}  # condition good since

    def idle(self, kind: AlertKind, subject: str) -> bool:
        """Nothing active or pending: a "good" observation would change nothing."""
        key = (kind, subject)
        return key not in self.active and key not in self._raise and key not in self._clear

    def restore(self, alerts: list[Alert]) -> None:
        for a in alerts:
            if a.state != "cleared":
                self.active[(a.kind, a.subject)] = a

    def timers(self) -> dict[str, list[tuple[str, str, int]]]:
        """The dwell timers running now (raise and clear: since when), to keep
        across a restart: without them a restart in the middle of a dwell
        raises or clears later than an uninterrupted run would."""
        return {
            "raise": [(k, s, t) for (k, s), t in sorted(self._raise.items())],
            "clear": [(k, s, t) for (k, s), t in sorted(self._clear.items())],
        }

    def restore_timers(self, timers: dict[str, list[tuple[AlertKind, str, int]]]) -> None:
        self._raise = {(k, s): t for k, s, t in timers.get("raise", [])}
        self._clear = {(k, s): t for k, s, t in timers.get("clear", []) if (k, s) in self.active}

    def observe(
        self,
        kind: AlertKind,
        subject: str,
        condition: Condition,
        ts: int,
        text: LocalizedText | Callable[[], LocalizedText],
        value: float | None = None,
        *,
        dwell_ms: int | None = None,
    ) -> Alert | None:
        """Feed the current condition; returns an alert when its state changes."""
        key = (kind, subject)
        dwell = self.dwell_ms if dwell_ms is None else dwell_ms
        if condition == "between" and key not in self.active and key in self._raise:
            condition = "bad"  # not recovered past the hysteresis: still low
        if condition == "bad":
            self._clear.pop(key, None)
            if key in self.active:
                return None
            since = self._raise.setdefault(key, ts)
            if ts - since < dwell:
                return None
            del self._raise[key]
            text = text() if callable(text) else text  # built only now: see texts.py
            alert = Alert(kind=kind, subject=subject, state="raised", raised_at=since,
                          updated_at=ts, value=value, text=text)  # fmt: skip
            self.active[key] = alert
            return alert
        self._raise.pop(key, None)
        if condition == "between" or key not in self.active:
            self._clear.pop(key, None)
            return None
        since = self._clear.setdefault(key, ts)
        if ts - since < dwell:
            return None
        del self._clear[key]
        cleared = self.active.pop(key).model_copy(
            update={"state": "cleared", "updated_at": ts, "value": value}
        )
        return cleared

    def acknowledge(
        self, kind: AlertKind, subject: str, by: str, note: str | None, ts: int
    ) -> Alert | None:
        key = (kind, subject)
        alert = self.active.get(key)
        if alert is None:
            return None
        history = [*alert.acknowledgements, Acknowledgement(by=by, note=note, ts=ts)]
        acked = alert.model_copy(
            update={"state": "acknowledged", "updated_at": max(ts, alert.updated_at),
                    "acknowledged_by": by, "note": note,
                    "acknowledgements": history[-MAX_ACKNOWLEDGEMENTS:]}
        )  # fmt: skip
        self.active[key] = acked
        return acked
