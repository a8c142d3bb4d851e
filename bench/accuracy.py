"""Counting accuracy at several load-cell noise levels (gudang/accuracy.py).

    .venv/bin/python bench/accuracy.py --minutes 60 --seeds 3

A seeded day on the simulator in virtual time (37 bins, 6 scale classes,
picks and restocks with motion, drift, half bars cut on one faulty bin, quiet
bins), run at noise x1, x2 and x4 of 0.05 % of capacity. Prints, per level,
the median over the seeds of: exact %, spurious movements, anomaly alerts,
scale-fault alerts and readings per quiet bin per minute; then, per scale
class, the noise the edge learned and the smallest unit weight it counts
reliably (one piece within the 0.3 count tolerance clears Z = 4 standard
errors of the difference of two plateau means of the longest average the
edge makes, 8 s at 10 samples a second).
"""

from __future__ import annotations

import argparse
import statistics
import time

from rich.console import Console
from rich.table import Table

from gudang import logs
from gudang.accuracy import CLASSES, AccuracyResult, run_day

BASE = 0.0005  # 0.05 % of capacity: the field trial's base noise


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    ap.add_argument("--minutes", type=float, default=60.0, help="Virtual minutes per day.")
    ap.add_argument("--seeds", type=int, default=3, help="Days per noise level (median).")
    ap.add_argument("--factors", default="1,2,4", help="Noise levels, in x 0.05 %% of capacity.")
    args = ap.parse_args()
    logs.configure(level="warning")  # the day's device_state lines are not the figures
    console = Console()
    factors = [float(f) for f in args.factors.split(",")]
    runs: dict[float, list[AccuracyResult]] = {}
    for f in factors:
        for seed in range(1, args.seeds + 1):
            started = time.perf_counter()
            r = run_day(noise=BASE * f, minutes=args.minutes, seed=seed)
            runs.setdefault(f, []).append(r)
            console.print(f"noise x{f:g} seed {seed}: {r.summary()} "
                          f"({time.perf_counter() - started:.0f} s)", highlight=False)  # fmt: skip
            for line in (r.wrong + r.missed + r.spurious)[:5]:
                console.print(f"  {line}", highlight=False)

    def med(values: list[float]) -> float:
        return statistics.median(values)

    table = Table(title=f"Counting accuracy, {args.minutes:g} virtual minutes, "
                  f"median of {args.seeds} seeds")  # fmt: skip
    for col in ("noise (of capacity)", "true movements", "exact", "spurious",
                "anomaly alerts: faulty bin / others", "fault alerts",
                "readings / quiet bin / min"):  # fmt: skip
        table.add_column(col, justify="right")
    for f, rs in runs.items():
        table.add_row(
            f"x{f:g} ({BASE * f * 100:g} %)",
            f"{med([r.true_movements for r in rs]):.0f}",
            f"{med([r.exact_pct for r in rs]):.2f} %",
            f"{med([len(r.spurious) for r in rs]):.0f}",
            f"{med([r.summary()['anomaly_alerts_faulty_bin'] for r in rs]):.0f} / "
            f"{med([r.summary()['anomaly_alerts_other_bins'] for r in rs]):.0f}",
            f"{med([r.fault_alerts for r in rs]):.0f}",
            f"{med([r.quiet_readings_per_min for r in rs]):.2f}",
        )
    console.print(table)
    units = Table(title="Smallest unit weight counted reliably (kg a piece)")
    units.add_column("scale class")
    units.add_column("division", justify="right")
    for f in runs:
        units.add_column(f"x{f:g}: noise / smallest", justify="right")
    for cls in CLASSES:
        cells = [cls.name, f"{cls.division_kg:g} kg"]
        for rs in runs.values():
            noise = [r.noise_by_class[cls.name] for r in rs if cls.name in r.noise_by_class]
            unit = [r.smallest_unit_by_class[cls.name] for r in rs
                    if cls.name in r.smallest_unit_by_class]  # fmt: skip
            cells.append(f"{med(noise):.2f} / {med(unit):.1f}" if noise else "-")
        units.add_row(*cells)
    console.print(units)
    console.print("Classes' goods: " + ", ".join(
        f"{c.name} {c.unit_weight_kg:g} kg" for c in CLASSES))  # fmt: skip


if __name__ == "__main__":
    main()
