"""Flat memory: the peak RSS of a `generate` run of 10,000 accepted episodes against one of 1,000, each in a fresh
process (simulated models, no latency), so a run's memory must not grow with its episodes. The run is what
`generate` does (simulation.runner.Run: draw, play, checkpoint, commit one version, write the summary).

    python bench/memory.py            # 1,000 vs 10,000 episodes (about 10 minutes on 2 cores)
    python bench/memory.py --small    # 200 vs 2,000, a quick check

It prints, per run, the episodes, how many were accepted, the wall time and the peak RSS, then the ratio of the
two peaks, and exits 1 when the ratio is above the target (1.05), so it is a check, not only a report.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET = 1.05


def child(count: int, concurrency: int) -> None:
    """Run `count` episodes in this process; print what happened and the peak RSS as one JSON line."""
    from simulation.runner import Run, RunConfig

    with tempfile.TemporaryDirectory() as out:
        config = RunConfig(dataset="bench", output_dir=out, count=count, seed=1, concurrency=concurrency,
                           sim_latency_ms=0, sim_defect_rate=0.3)  # fmt: skip
        started = time.perf_counter()
        summary = Run(config).execute()
        elapsed = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"episodes": summary.episodes, "accepted": summary.accepted, "added": summary.added,
                      "seconds": elapsed, "peak_mib": peak_kib / 1024}))  # fmt: skip


def measure(count: int, concurrency: int) -> dict:
    """One run of `count` episodes in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(count), "--concurrency", str(concurrency)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if done.returncode != 0:
        sys.exit(f"the run of {count} episodes failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="200 vs 2,000 episodes instead of 1,000 vs 10,000")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.concurrency)
        return
    small, large = (200, 2000) if args.small else (1000, 10000)
    print(f"peak RSS of a run, {small:,} vs {large:,} episodes (fresh processes, concurrency {args.concurrency}); "
          f"target ratio <= {TARGET}")  # fmt: skip
    print("  episodes  accepted  added  seconds  peak RSS MiB")
    peaks = []
    for count in (small, large):
        run = measure(count, args.concurrency)
        peaks.append(run["peak_mib"])
        print(f"{run['episodes']:>10,} {run['accepted']:>9,} {run['added']:>6,} {run['seconds']:>8.0f} "
              f"{run['peak_mib']:>13.1f}")  # fmt: skip
    ratio = peaks[1] / peaks[0]
    print(f"ratio {ratio:.3f} (target <= {TARGET})")
    if ratio > TARGET:
        print(f"above the target {TARGET}")
        sys.exit(1)


if __name__ == "__main__":
    main()
