"""The demo's month of history: it ends where the simulator starts, moves
forward in device time, and gives every SKU a forecast."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

from gudang.demo_history import month_of_picks
from gudang.replenishment import Pick, forecast
from gudang.site import load_site

EXAMPLE = Path(__file__).parents[2] / "examples" / "material-center.yaml"


def test_a_month_that_ends_where_the_simulator_starts() -> None:
    site = load_site(EXAMPLE)
    now = int(time.time() * 1000)
    start = {"A1": 24.0, "B1": 140.0, "C1": 75.0}
    readings = month_of_picks(site, start, now)
    assert month_of_picks(site, start, now) == readings  # the same every run
    for b in site.bins:
        sku = site.sku(b.sku)
        mine = [r for r in readings if (r.device, r.channel) == (b.device, b.channel)]
        assert len(mine) > 10, b.id
        assert all(a.ts < z.ts < now for a, z in itertools.pairwise(mine)), b.id
        per = sku.unit_weight_kg or 1.0
        levels = [(r.ts, (r.gross_kg - b.tare_kg) / per) for r in mine]
        end = start.get(b.id, round(sku.reorder_point * 2.5))
        assert abs(levels[-1][1] - end) < 1e-6, b.id
        assert min(q for _, q in levels) >= 0, b.id
        picks = [Pick(t, q1 - q0, "pick" if q1 < q0 else "put")
                 for (_, q0), (t, q1) in itertools.pairwise(levels)]  # fmt: skip
        f = forecast(picks, end, now_ms=now, first_seen_ms=levels[0][0],
                     calendar=site.calendar, policy=site.policy(sku))  # fmt: skip
        assert not f.insufficient_history and f.days_of_cover, (b.id, f)
