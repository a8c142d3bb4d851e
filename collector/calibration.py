"""Calibration that takes effect without a restart: bin tares and SKU unit
weights set from a sampled stable reading, and SKU thresholds and order
quantities set by request; kept on disk, applied from then on.

The site file holds the values at install time; these overrides, owned by the
collector alone, win over them until the site file is edited.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from gudang.contract.messages import SKU_SETTINGS
from gudang.errors import GudangError
from gudang.site import Site, Sku
from gudang.sqlite import open_db

__all__ = ["Calibration", "CalibrationError"]

MIN_SAMPLE = 10  # pieces: fewer make a poor unit weight (weighing practice)


class CalibrationError(GudangError, ValueError):
    """The calibration can not be done now (no stable reading, bad sample...)."""


class Calibration:
    def __init__(self, site: Site, path: Path | str) -> None:
        self.site = site
        self.tares = {b.id: b.tare_kg for b in site.bins}
        self.skus: dict[str, Sku] = {s.id: s for s in site.skus}
        self._db = open_db(
            path,
            "full",
            "CREATE TABLE IF NOT EXISTS calibration (what TEXT NOT NULL, id TEXT NOT NULL,"
            " value REAL NOT NULL, PRIMARY KEY (what, id));"
            "CREATE TABLE IF NOT EXISTS sku_change (sku TEXT PRIMARY KEY, at INTEGER NOT NULL,"
            " by TEXT NOT NULL);",
        )
        self.changed: dict[str, tuple[int, str]] = {}  # SKU -> (when, by) of the last change
        for what, key, value in self._db.execute("SELECT what, id, value FROM calibration"):
            if what == "tare" and key in self.tares:
                self.tares[key] = value
            elif what == "unit_weight" and key in self.skus:
                self.skus[key] = self.skus[key].model_copy(update={"unit_weight_kg": value})
            elif what in SKU_SETTINGS and key in self.skus:
                self.skus[key] = self.skus[key].model_copy(update={what: value})
        for sku_id, at, by in self._db.execute("SELECT sku, at, by FROM sku_change"):
            self.changed[sku_id] = (at, by)

    def _save(self, what: str, key: str, value: float) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO calibration (what, id, value) VALUES (?, ?, ?)",
            (what, key, value),
        )

    def set_tare(self, bin_id: str, gross_kg: float | None) -> tuple[float, float]:
        """The current gross load becomes the tare; returns (new, previous)."""
        if gross_kg is None:
            raise CalibrationError("no stable gross reading of this bin yet")
        if gross_kg < 0:
            raise CalibrationError(f"the scale shows {gross_kg:g} kg: zero it first")
        previous = self.tares[bin_id]
        self.tares[bin_id] = round(gross_kg, 6)
        self._save("tare", bin_id, self.tares[bin_id])
        return self.tares[bin_id], previous

    def set_unit_weight(
        self, sku_id: str, net_kg: float | None, pieces: int | None
    ) -> tuple[float, float | None]:
        """net / pieces becomes the SKU's unit weight; returns (new, previous)."""
        sku = self.skus[sku_id]
        if sku.unit == "kg":
            raise CalibrationError("the SKU is counted in kg: it has no unit weight")
        if pieces is None or pieces < MIN_SAMPLE:
            raise CalibrationError(f"count at least {MIN_SAMPLE} pieces into the bin for a sample")
        if net_kg is None or net_kg <= 0:
            raise CalibrationError("no stable net weight in the bin")
        value = round(net_kg / pieces, 6)
        previous = sku.unit_weight_kg
        self.skus[sku_id] = sku.model_copy(update={"unit_weight_kg": value})
        self._save("unit_weight", sku_id, value)
        return value, previous

    def set_settings(self, sku_id: str, changes: dict[str, float], at: int, by: str) -> Sku:
        """New thresholds / order quantities for a SKU, checked as the site file
        would check them (e.g. reorder_point >= minimum); returns the new SKU."""
        if sku_id not in self.skus:
            raise CalibrationError(f"unknown SKU {sku_id!r}")
        if not changes:
            raise CalibrationError("nothing to change")
        try:
            new = Sku.model_validate({**self.skus[sku_id].model_dump(), **changes})
        except ValidationError as exc:
            raise CalibrationError("; ".join(e["msg"] for e in exc.errors())) from exc
        with self._db:
            self._db.execute("BEGIN")
            for what, value in changes.items():
                self._save(what, sku_id, value)
            self._db.execute("INSERT OR REPLACE INTO sku_change VALUES (?, ?, ?)", (sku_id, at, by))
        self.skus[sku_id] = new
        self.changed[sku_id] = (at, by)
        return new

    def close(self) -> None:
        self._db.close()
