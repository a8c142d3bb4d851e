"""A longer chaos run than CI's: seeded picks and puts while the collector, the
broker, the edge and InfluxDB are killed at random (gudang/chaos.py).

    .venv/bin/python bench/chaos.py --steps 300 --seed 7

Prints the faults, the time taken and the comparison with the truth; exits 1
on any lost, doubled or wrong movement, wrong final stock, or gap in seq.
"""

from __future__ import annotations

import argparse
import sys

from gudang.chaos import run_chaos


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--fault-rate", type=float, default=0.3)
    args = ap.parse_args()
    r = run_chaos(args.steps, args.seed, args.fault_rate, say=print)
    print(f"{r.steps} steps in {r.seconds:.0f} s, faults: {dict(r.faults)}")
    moves = sum(len(v) for v in r.expected.values())
    print(f"movements: {moves} expected, "
          f"{'all found exactly' if r.found == r.expected else 'MISMATCH'}")  # fmt: skip
    for b in r.expected:
        if r.found.get(b) != r.expected[b]:
            print(f"  {b}: expected {r.expected[b]}\n  {b}: found    {r.found.get(b)}")
    print(f"final stock: {'right' if r.stock_ok else f'WRONG {r.stored} vs {r.final}'}")
    print(f"seq gaps: {r.seq_gaps or 'none'}")
    sys.exit(0 if r.ok else 1)


if __name__ == "__main__":
    main()
