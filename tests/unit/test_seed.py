"""Reading bin levels back from the collector's spool (pure)."""

from __future__ import annotations

from gudang.collector.points import bin_stock_line, reading_line
from gudang.collector.seed import spooled_levels
from gudang.collector.stock import bin_levels
from gudang.contract import WeightReading
from gudang.influx import series_key
from gudang.site import parse_site

SITE = parse_site("""\
site: {id: s1, name: Test}
devices: [{id: scale-1, protocol: ad-continuous, port: /dev/ttyUSB0}]
skus:
  - {id: RB, name: Rebar, unit: pcs, unit_weight_kg: 7.4, minimum: 5, reorder_point: 10, reorder_quantity: 50}
bins: [{id: C1, rack: C, device: scale-1, sku: RB, tare_kg: 60}]
""")  # fmt: skip


T0 = 1_764_000_000_000


def _lines(site_id: str, ts: int, kg: float, noise: float | None = None) -> list[str]:
    r = WeightReading(device_id="scale-1", boot_id="b", seq=ts, ts=T0 + ts, weight=kg, unit="kg",
                      stable=True, reason="change", samples=16, noise=noise)  # fmt: skip
    (level,) = bin_levels(SITE, r, se_kg=None if noise is None else noise / 4)
    stock = series_key("bin_stock", {"site": site_id, "bin": "C1", "rack": "C", "sku": "RB"})
    reading = series_key("reading", {"site": site_id, "device": "scale-1", "channel": "0"})
    return [reading_line(reading, r), bin_stock_line(stock, level)]


def test_levels_come_back_in_time_order_per_bin() -> None:
    bodies = [
        "\n".join(_lines("s1", 3000, 134.0) + _lines("s1", 1000, 208.0)).encode(),
        "\n".join(_lines("s1", 2000, 171.0, 0.8) + _lines("other", 2500, 1.0)).encode(),
        b"bin_stock,bin=C1,site=s1 garbage\nnot line protocol at all\n",
    ]
    levels = spooled_levels(bodies, "s1")
    assert list(levels) == ["C1"]
    assert [(ts - T0, round(kg, 6), se) for ts, kg, se in levels["C1"]] == [
        (1000, 148.0, None), (2000, 111.0, 0.2), (3000, 74.0, None)
    ]  # fmt: skip
