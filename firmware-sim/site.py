"""All simulated devices of one site, and the operations that act on them."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from gudang import logs
from gudang.errors import GudangError
from gudang.sim.devices import (
    PolledScale,
    Rdm6300Reader,
    SimDevice,
    SimReader,
    SimScale,
    StreamScale,
    UhfReader,
)
from gudang.sim.ops import (
    Corrupt,
    Drift,
    Garbage,
    MissRate,
    Op,
    Plug,
    Put,
    Refuse,
    SetLoad,
    SetQty,
    Status,
    TagEnter,
    TagLeave,
    Take,
    Unplug,
)
from gudang.sim.ports import PtyPort, SimPort, TcpPort
from gudang.sim.rfid import FieldTag
from gudang.sim.scale_model import LoadModel
from gudang.site import Bin, Device, Site

__all__ = ["SimError", "SimSite"]

log = logs.get("sim")


class SimError(GudangError):
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
        noise: float = 0.0,
        miss_rate: float = 0.05,
        seed: int = 1,
    ) -> None:
        """`noise`: load-cell noise (standard deviation) as a fraction of each
        scale's capacity, on top of the display's own flicker (0.3 division)."""
        self.site = site
        initial_qty = initial_qty or {}
        self._bins = {b.id: b for b in site.bins}
        self.devices: dict[str, SimDevice] = {}
        for i, dev in enumerate(site.devices):
            port = port_for(dev)
            if dev.kind == "rfid":
                cls = Rdm6300Reader if dev.protocol == "rdm6300" else UhfReader
                self.devices[dev.id] = cls(dev.id, port, miss_rate, seed + i)
                continue
            bins = site.bins_of(dev.id)
            load = sum(self._gross(b, initial_qty.get(b.id)) for b in bins)
            capacity = sum(b.capacity_kg or 5000.0 for b in bins) or 5000.0
            flicker = 0.3 * dev.division_kg
            model = LoadModel(
                load,
                division=dev.division_kg,
                capacity_kg=capacity,
                settle_s=settle_s,
                noise_div=(flicker**2 + (noise * capacity) ** 2) ** 0.5 / dev.division_kg,
                seed=seed + i,
            )
            if dev.protocol == "mt-sics":
                self.devices[dev.id] = PolledScale(dev.id, port, model)
            else:
                self.devices[dev.id] = StreamScale(
                    dev.id, port, model, dev.protocol, rate_hz=rate_hz,
                    checksum=dev.checksum,
                )  # fmt: skip

    def _gross(self, b: Bin, qty: float | None) -> float:
        sku = self.site.sku(b.sku)
        if qty is None:
            qty = round(sku.reorder_point * 2.5)  # start comfortably stocked
        return b.tare_kg + qty * (sku.unit_weight_kg or 1.0)

    def device(self, device_id: str) -> SimDevice:
        try:
            return self.devices[device_id]
        except KeyError:
            raise SimError(f"unknown simulated device {device_id!r}") from None

    def scale(self, device_id: str) -> SimScale:
        dev = self.device(device_id)
        if not isinstance(dev, SimScale):
            raise SimError(f"{device_id} is not a scale")
        return dev

    def reader(self, device_id: str) -> SimReader:
        dev = self.device(device_id)
        if not isinstance(dev, SimReader):
            raise SimError(f"{device_id} is not an RFID reader")
        return dev

    def _bin(self, bin_id: str) -> Bin:
        try:
            return self._bins[bin_id]
        except KeyError:
            raise SimError(f"unknown bin {bin_id!r}") from None

    def quantity(self, bin_id: str) -> float:
        """The true quantity in a bin (one bin per device channel in this model)."""
        b = self._bin(bin_id)
        sku = self.site.sku(b.sku)
        net = self.scale(b.device).model.load_kg - b.tare_kg
        return net / (sku.unit_weight_kg or 1.0)

    def _set_qty(self, bin_id: str, qty: float) -> None:
        b = self._bin(bin_id)
        if qty < 0:
            raise SimError(f"bin {bin_id} holds {self.quantity(bin_id):g}, cannot go below 0")
        model = self.scale(b.device).model
        others = model.load_kg - self._gross(b, self.quantity(bin_id))
        model.set_load(others + self._gross(b, qty), time.monotonic())

    async def apply(self, op: Op) -> dict[str, Any]:
        """Carry out one operation; returns a small JSON-able result."""
        now = time.monotonic()
        match op:
            case SetQty():
                self._set_qty(op.bin, op.qty)
            case Take():
                self._set_qty(op.bin, self.quantity(op.bin) - op.qty)
            case Put():
                self._set_qty(op.bin, self.quantity(op.bin) + op.qty)
            case SetLoad():
                self.scale(op.device).model.set_load(op.kg, now)
            case Drift():
                self.scale(op.device).model.set_drift(op.kg_per_h, now)
            case Unplug():
                await self.device(op.device).port.close()
            case Plug():
                await self.device(op.device).port.open()
            case Garbage():
                self.device(op.device).inject_garbage(op.bytes)
            case Corrupt():
                self.device(op.device).corrupt(op.frames)
            case Refuse():
                dev = self.scale(op.device)
                if not isinstance(dev, PolledScale):
                    raise SimError(f"{op.device} does not answer commands")
                dev.responder.refuse_next += op.commands
            case TagEnter():
                tag = op.tag.upper()
                self.reader(op.device).reader.field[tag] = FieldTag(tag, op.antenna, op.rssi)
            case TagLeave():
                self.reader(op.device).reader.field.pop(op.tag.upper(), None)
            case MissRate():
                self.reader(op.device).reader.miss_rate = op.rate
            case Status():
                return self.status()
        log.info("sim_op", **op.model_dump())
        return {}

    def status(self) -> dict[str, Any]:
        devices: dict[str, Any] = {}
        for d, dev in self.devices.items():
            info: dict[str, Any] = {"plugged": dev.port.plugged, "frames_sent": dev.frames_sent}
            if isinstance(dev, SimScale):
                info["load_kg"] = dev.model.load_kg
            if isinstance(dev, SimReader):
                info["tags"] = sorted(dev.reader.field)
            devices[d] = info
        return {"bins": {b: round(self.quantity(b), 3) for b in self._bins}, "devices": devices}

    async def run(self, stop: asyncio.Event) -> None:
        await asyncio.gather(*(d.run(stop) for d in self.devices.values()))
