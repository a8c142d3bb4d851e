"""Device protocols: pure decoders, one module per family, registered by name.

Adding a protocol: write ``edge/protocols/<name>.py`` with a decoder that
follows ``base.ScaleDecoder`` and add one line to ``REGISTRY``.
"""

from __future__ import annotations

from collections.abc import Callable

from gudang.edge.protocols.ad_continuous import AdContinuousDecoder
from gudang.edge.protocols.base import DecoderStats, ScaleDecoder, ScaleFrame

__all__ = ["REGISTRY", "DecoderStats", "ScaleDecoder", "ScaleFrame", "decoder_for"]

REGISTRY: dict[str, Callable[[], ScaleDecoder]] = {
    "ad-continuous": AdContinuousDecoder,
}


def decoder_for(protocol: str) -> ScaleDecoder:
    try:
        return REGISTRY[protocol]()
    except KeyError:
        raise KeyError(
            f"protocol {protocol!r} has no edge driver yet (have: {', '.join(sorted(REGISTRY))})"
        ) from None
