"""Throughput against the latency ideal: with every model call taking L seconds, C episodes in flight and k calls per
episode, a perfect runner finishes N episodes in ceil(N / C) rounds of k * L seconds (the episodes' calls are
sequential, the episodes parallel; k is the run's mean, and conversations make some episodes several times longer,
so use enough rounds for the mean to hold). This measures how close `generate` comes, on the simulated models.

    python bench/throughput.py [--latency-ms 200] [--concurrency 1,8,32,64] [--rounds 3]

It prints, per concurrency, the episodes, model calls, the ideal and measured seconds, their ratio and the CPU
seconds per episode, and exits 1 when a ratio is below the target (0.95), so it is a check, not only a report.
"""

from __future__ import annotations

import argparse
import math
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET = 0.95


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(concurrency: int, rounds: int, latency_ms: int) -> tuple[int, int, float, float, float]:
    """(episodes, model calls, ideal s, measured s, CPU s per episode) of one run of `rounds` full rounds."""
    from simulation.runner import Run, RunConfig

    count = concurrency * rounds
    with tempfile.TemporaryDirectory() as out:
        config = RunConfig(dataset="bench", output_dir=out, count=count, seed=1, concurrency=concurrency,
                           sim_latency_ms=latency_ms, sim_defect_rate=0.0)  # fmt: skip
        run = Run(config)
        cpu, started = cpu_seconds(), time.perf_counter()
        summary = run.execute()
        elapsed, used = time.perf_counter() - started, cpu_seconds() - cpu
    calls = sum(stats.calls for stats in summary.model_stats.values())
    per_episode = calls / summary.episodes  # each episode's calls are sequential
    ideal = math.ceil(summary.episodes / concurrency) * per_episode * latency_ms / 1000
    return summary.episodes, calls, ideal, elapsed, used / summary.episodes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=int, default=200)
    parser.add_argument("--concurrency", default="1,8,32,64")
    parser.add_argument("--rounds", type=int, default=3, help="episodes per run: rounds x concurrency")
    args = parser.parse_args()
    print(f"simulated model calls of {args.latency_ms} ms; target ratio (ideal / measured) >= {TARGET}")
    print("  C  episodes  calls  ideal s  measured s  ratio  CPU ms/episode  CPU % of model time")
    missed = []
    for concurrency in (int(c) for c in args.concurrency.split(",")):
        episodes, calls, ideal, elapsed, cpu = measure(concurrency, args.rounds, args.latency_ms)
        ratio = ideal / elapsed
        model_time = calls / episodes * args.latency_ms / 1000
        print(f"{concurrency:>3} {episodes:>9} {calls:>6} {ideal:>8.1f} {elapsed:>11.1f} {ratio:>6.2f} "
              f"{cpu * 1000:>15.0f} {100 * cpu / model_time:>20.1f}")  # fmt: skip
        if ratio < TARGET:
            missed.append(f"C={concurrency}: {ratio:.2f}")
    if missed:
        print(f"below the target {TARGET}: {', '.join(missed)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
