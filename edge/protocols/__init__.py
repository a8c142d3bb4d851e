"""Device protocols: pure decoders and encoders, one module per family.

Adding a protocol: write ``edge/protocols/<name>.py`` with a decoder that
follows ``base.Decoder`` and add one line to ``REGISTRY`` (see docs/edge.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from gudang.edge.protocols.ad_continuous import AdContinuousDecoder
from gudang.edge.protocols.base import (
    Decoder,
    DecoderStats,
    Event,
    Reply,
    ScaleFrame,
    TagRead,
)
from gudang.edge.protocols.mt_sics import MtSicsDecoder
from gudang.edge.protocols.rdm6300 import Rdm6300Decoder
from gudang.edge.protocols.toledo import ToledoDecoder
from gudang.edge.protocols.uhf_m100 import UhfM100Decoder

from gudang.site import Device

__all__ = [
    "REGISTRY",
    "Decoder",
    "DecoderStats",
    "Event",
    "ProtocolSpec",
    "Reply",
    "ScaleFrame",
    "TagRead",
    "decoder_for",
]


@dataclass(frozen=True)
class ProtocolSpec:
    kind: Literal["scale", "rfid"]
    talk: Literal["stream", "polled"]  # unsolicited output, or request/response
    decoder: Callable[[Device], Decoder]  # built with the device's settings


REGISTRY: dict[str, ProtocolSpec] = {
    "ad-continuous": ProtocolSpec("scale", "stream", lambda d: AdContinuousDecoder()),
    "toledo-continuous": ProtocolSpec("scale", "stream", lambda d: ToledoDecoder(d.checksum)),
    "mt-sics": ProtocolSpec("scale", "polled", lambda d: MtSicsDecoder()),
    "rdm6300": ProtocolSpec("rfid", "stream", lambda d: Rdm6300Decoder()),
    "uhf-m100": ProtocolSpec("rfid", "polled", lambda d: UhfM100Decoder()),
}


def decoder_for(protocol: str, device: Device | None = None) -> Decoder:
    try:
        spec = REGISTRY[protocol]
    except KeyError:
        raise KeyError(
            f"protocol {protocol!r} has no edge driver (have: {', '.join(sorted(REGISTRY))})"
        ) from None
    return spec.decoder(device or Device(id="x", protocol=protocol, port="/dev/null"))  # type: ignore[arg-type]
