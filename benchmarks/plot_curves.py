"""Learning curves printed by several benchmarks/quality.py processes (each point's line, "  w32 step 500, 639 s:
SWD 73.49"), in one figure: against steps, or against minutes at the steps per minute each recipe makes on a machine
(--rate RECIPE=STEPS_PER_MINUTE, from benchmarks/throughput.py --widths), so that runs measured side by side on a busy
machine are compared at equal time on a quiet one. Also prints the curves as a Markdown table.

    python benchmarks/plot_curves.py w32.log w48.log --floor 7.90 --rate w32=100 --rate w48=55 --out curves.png
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from gan_lib.measure.viz import plot_learning_curves
from gan_lib.runs.cli import OneLineParser, run_script

POINT = re.compile(r"^\s+(\S+) step (\d+), \d+ s: SWD ([\d.]+)$")


def read_curves(logs: list[Path]) -> dict[str, list[tuple[int, float]]]:
    """recipe -> [(step, SWD)] from the point lines of quality.py's output."""
    curves: dict[str, list[tuple[int, float]]] = {}
    for log in logs:
        for line in log.read_text().splitlines():
            if match := POINT.match(line):
                curves.setdefault(match[1], []).append((int(match[2]), float(match[3])))
    return curves


def main() -> None:
    parser = OneLineParser(prog="benchmarks/plot_curves.py", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("logs", type=Path, nargs="+")
    parser.add_argument("--floor", type=float, required=True, help="the real-vs-real floor the logs print")
    parser.add_argument("--rate", action="append", default=[], metavar="RECIPE=STEPS_PER_MINUTE")
    parser.add_argument("--title", default="64 px, 981 held-out faces")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    curves = read_curves(args.logs)
    if not curves:
        parser.error("no curve points in these logs: they are the output of benchmarks/quality.py --curve-every")
    rates = {name: float(rate) for name, rate in (item.split("=", 1) for item in args.rate)}
    if rates and (missing := [name for name in curves if name not in rates]):
        parser.error(f"give a --rate for each recipe in the logs; missing: {', '.join(missing)}")
    print("| recipe | " + ("steps (minutes): SWD" if rates else "step: SWD") + " |\n|---|---|")
    for name, curve in curves.items():
        at = [f"{s} ({s / rates[name]:.0f} min)" if rates else str(s) for s, _ in curve]
        print(f"| {name} | " + " · ".join(f"{a}: {v:.2f}" for a, (_, v) in zip(at, curve)) + " |")
    if rates:
        curves = {f"{name} ({rates[name]:g} steps/min)": [(s / rates[name], v) for s, v in curve]
                  for name, curve in curves.items()}
    plot_learning_curves(curves, args.floor, args.out, title=args.title,
                         xlabel="minutes at these rates" if rates else "step")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    sys.exit(run_script(main))
