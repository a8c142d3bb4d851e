"""All simulated devices of one site, and the operations that act on them."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from gudang.sim.ops import (
    Corrupt,
    Garbage,
    Op,
    Plug,
    Put,
    SetLoad,
    SetQty,
    Status,
    Take,
    Unplug,
)
from gudang.sim.ports import PtyPort, SimPort, TcpPort
from gudang.sim.scale import SimScale
from gudang.sim.scale_model import LoadModel

from gudang import logs
from gudang.site import Bin, Device, Site

__all__ = ["SimError", "SimSite"]

log = logs.get("sim")


class SimError(Exception):
    """An operation that cannot be applied (unknown bin, not enough stock...)."""


def port_for(device: Device) -> SimPort:
    if device.port.startswith("socket://"):
        host, _, port = device.port.removeprefix("socket://").rpartition(":")
        return TcpPort(host, int(port))
    return PtyPort(Path(device.port))


class SimSite:
    def __init__(
        self,
        site: Site,
        initial_qty: dict[str, float] | None = None,
        *,
        rate_hz: float = 10.0,
        settle_s: float = 1.5,
        seed: int = 1,
    ) -> None:
        self.site = site
        initial_qty = initial_qty or {}
        self.scales: dict[str, SimScale] = {}
        for i, dev in enumerate(d for d in site.devices if d.kind == "scale"):
            if dev.protocol != "ad-continuous":
                log.warning("sim_protocol_missing", device=dev.id, protocol=dev.protocol)
                continue
            bins = site.bins_of(dev.id)
            load = sum(self._gross(b, initial_qty.get(b.id)) for b in bins)
            capacity = sum(b.capacity_kg or 5000.0 for b in bins) or 5000.0
            model = LoadModel(
                load,
                division=dev.division_kg,
                capacity_kg=capacity,
                settle_s=settle_s,
                seed=seed + i,
            )
            self.scales[dev.id] = SimScale(dev.id, model, port_for(dev), rate_hz)
        self._bins = {b.id: b for b in site.bins}

    def _gross(self, b: Bin, qty: float | None) -> float:
        sku = self.site.sku(b.sku)
        if qty is None:
            qty = round(sku.reorder_point * 2.5)  # start comfortably stocked
        return b.tare_kg + qty * (sku.unit_weight_kg or 1.0)

    def _scale_of(self, device_id: str) -> SimScale:
        try:
            return self.scales[device_id]
        except KeyError:
            raise SimError(f"unknown simulated device {device_id!r}") from None

    def _bin(self, bin_id: str) -> Bin:
        try:
            return self._bins[bin_id]
        except KeyError:
            raise SimError(f"unknown bin {bin_id!r}") from None

    def quantity(self, bin_id: str) -> float:
        """The true quantity in a bin (one bin per device channel 0 in this model)."""
        b = self._bin(bin_id)
        sku = self.site.sku(b.sku)
        net = self._scale_of(b.device).model.load_kg - b.tare_kg
        return net / (sku.unit_weight_kg or 1.0)

    def _set_qty(self, bin_id: str, qty: float) -> None:
        b = self._bin(bin_id)
        if qty < 0:
            raise SimError(f"bin {bin_id} holds {self.quantity(bin_id):g}, cannot go below 0")
        scale = self._scale_of(b.device)
        others = scale.model.load_kg - self._gross(b, self.quantity(bin_id))
        scale.model.set_load(others + self._gross(b, qty), time.monotonic())

    async def apply(self, op: Op) -> dict[str, Any]:
        """Carry out one operation; returns a small JSON-able result."""
        match op:
            case SetQty():
                self._set_qty(op.bin, op.qty)
            case Take():
                self._set_qty(op.bin, self.quantity(op.bin) - op.qty)
            case Put():
                self._set_qty(op.bin, self.quantity(op.bin) + op.qty)
            case SetLoad():
                self._scale_of(op.device).model.set_load(op.kg, time.monotonic())
            case Unplug():
                await self._scale_of(op.device).port.close()
            case Plug():
                await self._scale_of(op.device).port.open()
            case Garbage():
                self._scale_of(op.device).inject_garbage(op.bytes)
            case Corrupt():
                self._scale_of(op.device).corrupt_next(op.frames)
            case Status():
                return {
                    "bins": {b: round(self.quantity(b), 3) for b in self._bins},
                    "devices": {
                        d: {"load_kg": s.model.load_kg, "plugged": s.port.plugged}
                        for d, s in self.scales.items()
                    },
                }
        log.info("sim_op", **op.model_dump())
        return {}

    async def run(self, stop: asyncio.Event) -> None:
        tasks = [asyncio.create_task(s.run(stop)) for s in self.scales.values()]
        await asyncio.gather(*tasks)
