"""What alerts say, in Bahasa Indonesia and English.

Every function here returns a thunk: the text is only built when an alert
actually changes state, not for each of the thousands of readings that only
confirm a condition (the collector's hot path).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date
from typing import ParamSpec

from gudang.contract import LocalizedText
from gudang.site import Rounding, Sku

P = ParamSpec("P")
Text = Callable[[], LocalizedText]


def _lazy(build: Callable[P, LocalizedText]) -> Callable[P, Text]:
    @functools.wraps(build)
    def thunk(*args: P.args, **kwargs: P.kwargs) -> Text:
        return functools.partial(build, *args, **kwargs)

    return thunk


__all__ = [
    "Text",
    "anomaly",
    "clock_ahead",
    "low_stock",
    "offline",
    "reorder_point",
    "scale_fault",
    "stockout_projected",
]


def _q(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


@_lazy
def low_stock(sku: Sku, qty: float, r: Rounding) -> LocalizedText:
    """`qty` rounded by `r` (whole pieces, the scale's resolution), in the
    SKU's own unit names ("lembar", "sheets")."""
    u = sku.display_unit
    return LocalizedText(
        id=f"Stok {sku.name} menipis: {r.text(qty)} {u.id} (minimum {r.text(sku.minimum)})",
        en=f"Low stock of {sku.name}: {r.text(qty)} {u.en} (minimum {r.text(sku.minimum)})",
    )


@_lazy
def reorder_point(sku: Sku, qty: float, r: Rounding) -> LocalizedText:
    u = sku.display_unit
    order = r.text(sku.reorder_quantity)
    return LocalizedText(
        id=f"{sku.name} mencapai titik pesan ulang: {r.text(qty)} {u.id}; pesan {order} {u.id}",
        en=f"{sku.name} at its reorder point: {r.text(qty)} {u.en}; order {order} {u.en}",
    )


@_lazy
def stockout_projected(
    sku: Sku, cover_days: float | None, stockout: date | None, lead_days: float
) -> LocalizedText:
    """The shelf empties before an order placed now could arrive (None: no
    projection any more, e.g. too little history after a change)."""
    if cover_days is None or stockout is None:
        return LocalizedText(
            id=f"Tidak ada lagi perkiraan habis untuk {sku.name}",
            en=f"No stock-out projected for {sku.name} any more",
        )
    return LocalizedText(
        id=f"{sku.name} diperkirakan habis {stockout:%d/%m/%Y} (cukup {_q(cover_days)} hari "
        f"kerja), sebelum pesanan baru bisa datang ({_q(lead_days)} hari kerja): pesan sekarang",
        en=f"{sku.name} projected to run out on {stockout:%d %b %Y} ({_q(cover_days)} working "
        f"days left), before a new order could arrive ({_q(lead_days)} working days): order "
        "now",
    )


@_lazy
def offline(device_id: str, reason: str) -> LocalizedText:
    return LocalizedText(
        id=f"Perangkat {device_id} tidak terhubung ({reason})",
        en=f"Device {device_id} is offline ({reason})",
    )


@_lazy
def scale_fault(device_id: str, state: str, stuck_s: float | None = None) -> LocalizedText:
    if stuck_s is not None:
        hours = _q(stuck_s / 3600)
        return LocalizedText(
            id=f"Timbangan {device_id} bermasalah: angka tidak berubah selama {hours} jam",
            en=f"Scale {device_id} fault: value unchanged for {hours} h",
        )
    word = {"overload": "kelebihan beban", "underload": "di bawah nol"}.get(state, state)
    return LocalizedText(
        id=f"Timbangan {device_id} bermasalah: {word}", en=f"Scale {device_id} fault: {state}"
    )


@_lazy
def anomaly(bin_id: str, sku: Sku, off_by: float | None, count: int) -> LocalizedText:
    """`count` movements at the bin were not whole pieces; the count is now
    `off_by` pieces from a whole number (None: whole, but they keep coming)."""
    u = sku.display_unit
    off_id = f", stok selisih {off_by:+.2f} {u.id}" if off_by is not None else ""
    off_en = f", the count is off by {off_by:+.2f} {u.en}" if off_by is not None else ""
    return LocalizedText(
        id=f"Perubahan tidak wajar di rak {bin_id} ({sku.name}): {count} perubahan bukan "
        f"jumlah utuh{off_id}. Periksa timbangan (getaran/noise) dan berat satuan",
        en=f"Unusual changes at bin {bin_id} ({sku.name}): {count} not whole pieces{off_en}. "
        "Check the scale (noise) and the unit weight",
    )


def _span(seconds: float) -> tuple[str, str]:
    """A duration as people say it: (Bahasa Indonesia, English)."""
    units = ((86_400, "hari", "days"), (3600, "jam", "h"), (60, "menit", "min"))
    for size, id_word, en_word in units:
        if seconds >= size:
            return f"{_q(seconds / size)} {id_word}", f"{_q(seconds / size)} {en_word}"
    return f"{_q(seconds)} detik", f"{_q(seconds)} s"


@_lazy
def clock_ahead(device_id: str, edge_id: str, ahead_s: float) -> LocalizedText:
    id_span, en_span = _span(ahead_s)
    return LocalizedText(
        id=f"Jam {edge_id} maju {id_span}: data {device_id} ditolak. Periksa NTP di {edge_id}",
        en=f"{edge_id}'s clock is {en_span} ahead: {device_id}'s data is refused. "
        f"Check NTP on {edge_id}",
    )
