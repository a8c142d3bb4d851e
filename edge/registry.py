"""Protocol name -> driver: the one place a new device family is registered.

Adding a protocol is one module in ``edge/protocols/`` (a pure decoder), one
line here, and its name in ``gudang.site.model`` (``Protocol`` and
``PROTOCOLS``, the site file's names for every component; a test checks that
they agree with this table); see docs/edge.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gudang.contract.vocab import DeviceKind
from gudang.edge.devices.base import DeviceSession, EdgeContext
from gudang.edge.devices.rfid import Rdm6300Session, UhfM100Session
from gudang.edge.devices.scale import MtSicsSession, StreamScaleSession
from gudang.edge.protocols import (
    AdContinuousDecoder,
    Decoder,
    MtSicsDecoder,
    Rdm6300Decoder,
    ToledoDecoder,
    UhfM100Decoder,
)
from gudang.site import Device

__all__ = ["DRIVERS", "Driver", "decoder_for", "session_for"]


@dataclass(frozen=True)
class Driver:
    kind: DeviceKind
    decoder: Callable[[Device], Decoder]  # built with the device's settings
    session: type[DeviceSession]  # how the edge talks to it: listens, or polls


DRIVERS: dict[str, Driver] = {
    "ad-continuous": Driver("scale", lambda d: AdContinuousDecoder(), StreamScaleSession),
    "toledo-continuous": Driver("scale", lambda d: ToledoDecoder(d.checksum), StreamScaleSession),
    "mt-sics": Driver("scale", lambda d: MtSicsDecoder(), MtSicsSession),
    "rdm6300": Driver("rfid", lambda d: Rdm6300Decoder(), Rdm6300Session),
    "uhf-m100": Driver("rfid", lambda d: UhfM100Decoder(), UhfM100Session),
}


def _driver(protocol: str) -> Driver:
    try:
        return DRIVERS[protocol]
    except KeyError:
        have = ", ".join(sorted(DRIVERS))
        raise KeyError(f"protocol {protocol!r} has no edge driver (have: {have})") from None


def decoder_for(device: Device) -> Decoder:
    return _driver(device.protocol).decoder(device)


def session_for(device: Device, ctx: EdgeContext) -> DeviceSession:
    return _driver(device.protocol).session(device, ctx, decoder_for(device))
