"""Device protocols: pure decoders and encoders, one module per family (no I/O).

Drivers (which decoder and session serve which protocol name) are registered
in ``gudang.edge.registry``.
"""

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

__all__ = [
    "AdContinuousDecoder",
    "Decoder",
    "DecoderStats",
    "Event",
    "MtSicsDecoder",
    "Rdm6300Decoder",
    "Reply",
    "ScaleFrame",
    "TagRead",
    "ToledoDecoder",
    "UhfM100Decoder",
]
