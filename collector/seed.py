"""Each bin's levels in the collector's own spool, read back at start-up. Pure.

The spool holds line protocol that InfluxDB has not taken yet; its
``bin_stock`` lines are bin levels the collector already counted. After a
restart, the next reading of a bin must be measured from the newest of them,
not from the older level InfluxDB still has (that would count a change twice).
"""

from __future__ import annotations

from collections.abc import Iterable

from gudang.influx.schema import BIN_STOCK

__all__ = ["Level", "spooled_levels"]

_PREFIX = f"{BIN_STOCK},".encode()


Level = tuple[int, float, float | None]  # time ms, net kg, its standard error


def spooled_levels(bodies: Iterable[bytes], site_id: str) -> dict[str, list[Level]]:
    """bin -> its (time ms, net kg, standard error) levels in the spool, oldest first.

    The lines are the collector's own (identifiers need no escaping, see
    points.py); anything else is skipped, never guessed at.
    """
    found: dict[str, dict[int, tuple[float, float | None]]] = {}
    for body in bodies:
        for raw in body.splitlines():
            if not raw.startswith(_PREFIX):
                continue
            try:
                series, fields, ts = raw.decode().rsplit(" ", 2)
                tags = dict(part.split("=", 1) for part in series.split(",")[1:])
                values = dict(part.split("=", 1) for part in fields.split(","))
                if tags.get("site") != site_id or "bin" not in tags:
                    continue
                se = float(values["se_kg"]) if "se_kg" in values else None
                found.setdefault(tags["bin"], {})[int(ts)] = (float(values["net_kg"]), se)
            except (ValueError, KeyError):
                continue
    return {
        b: [(ts, kg, se) for ts, (kg, se) in sorted(levels.items())] for b, levels in found.items()
    }
