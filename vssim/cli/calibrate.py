"""`vssim calibrate LOG [options]`: the one subcommand that is not a Hydra run (DESIGN.md §11).
A log, a few options, a folder out: argparse is enough, and a log's path is not a config."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from vssim.errors import VssimError
from vssim.formatting import number


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vssim calibrate", description=(
        "Fit a stream to a board export or an event log, and measure how close it comes to the cases "
        "it was not fitted on (docs/calibration.md)."))
    p.add_argument("log", help="the log: .xes/.xes.gz, or a CSV with --format")
    p.add_argument("--format", choices=["board", "transitions", "events"], help="the CSV's layout")
    p.add_argument("--tz", help="the time zone of dates without an offset (an IANA name or UTC)")
    p.add_argument("--map", action="append", default=[], metavar="KEY=COLUMN",
                   help="a column mapping entry (repeatable; docs/data.md lists the keys)")
    p.add_argument("--activities", metavar="PREFIX", help="keep only activities whose name starts so (BPIC 2012: W_)")
    p.add_argument("--train", type=float, default=0.8, help="share of the cases to fit on (default 0.8)")
    p.add_argument("--replications", type=int, default=10, help="simulated logs of the held-out period (10)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--bootstrap", type=int, default=0, help="resampled fits for input uncertainty (0: none)")
    p.add_argument("--out", type=Path, help="the folder to write (default outputs/calibrate/LOGNAME)")
    return p


def main(argv: list[str]) -> int:
    from vssim.studies.calibrate import calibrate

    args = parser().parse_args(argv)
    mapping = {}
    for item in args.map:
        key, sep, value = item.partition("=")
        if not sep or not key:
            print(f"vssim calibrate: error: --map: must be KEY=COLUMN, got {item!r}", file=sys.stderr)
            return 2
        mapping[key.strip()] = value.strip()
    stem = Path(args.log).name.split(".")[0]
    out = args.out or Path("outputs") / "calibrate" / stem
    prefix = args.activities
    t0 = time.perf_counter()
    try:
        cal = calibrate(args.log, train=args.train, replications=args.replications, seed=args.seed,
                        activities=(lambda a: a.startswith(prefix)) if prefix else None, format=args.format,
                        mapping=mapping or None, tz=args.tz, bootstrap=args.bootstrap, progress=True)
        cal.save(out)
    except VssimError as e:
        print(f"vssim calibrate: error: {e}", file=sys.stderr)
        return 2
    except FileNotFoundError as e:
        print(f"vssim calibrate: error: {e.filename}: no such file", file=sys.stderr)
        return 2
    f = cal.fidelity
    print(f"calibrated on {cal.n_train:,} cases, held out {cal.n_test:,}: cycle-time distance "
          f"{number(f['cycle_time']['mean'])} h, 3-gram {number(f['ngram_3']['mean'])} "
          f"({time.perf_counter() - t0:.0f} s)")
    print(f"open {out / 'report.md'}")
    return 0
