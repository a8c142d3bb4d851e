"""The topic filters this collector's broker session was last subscribed
with, kept in its state file.

A kept (persistent) session keeps its subscriptions across reconnects and
restarts. When what a collector subscribes to changes (a partition member
after N or the site's groups changed), the filters it no longer needs must
be removed explicitly, or the broker keeps sending their messages here as
well as to their new owner, and both would count them.
"""

from __future__ import annotations

from pathlib import Path

from gudang.sqlite import open_db

__all__ = ["SubscribedFilters"]


class SubscribedFilters:
    def __init__(self, path: Path | str) -> None:
        self._db = open_db(path, "full", "CREATE TABLE IF NOT EXISTS mqtt_filter "
                                         "(filter TEXT PRIMARY KEY);")  # fmt: skip
        self._saved = {r[0] for r in self._db.execute("SELECT filter FROM mqtt_filter")}

    @property
    def known(self) -> bool:
        """Whether a subscription was ever recorded here."""
        return bool(self._saved)

    def stale(self, current: list[str]) -> list[str]:
        """Filters the session may hold that are not in `current`."""
        return sorted(self._saved - set(current))

    def save(self, current: list[str]) -> None:
        """The session is subscribed to `current` (and nothing else) now."""
        if set(current) == self._saved:
            return
        with self._db:
            self._db.execute("BEGIN")
            self._db.execute("DELETE FROM mqtt_filter")
            self._db.executemany("INSERT INTO mqtt_filter (filter) VALUES (?)",
                                 [(f,) for f in current])  # fmt: skip
        self._saved = set(current)

    def close(self) -> None:
        self._db.close()
