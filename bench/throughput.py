"""Throughput against the latency ideal: with every model call taking L seconds and C episodes in flight, a perfect
runner (no CPU, no scheduling cost) that draws the cases in order and starts each as a slot frees up, as `generate`
does, finishes when its busiest slot has made its episodes' calls one after another. That makespan, from each
episode's own number of calls, is the ideal: the mean alone (ceil(N / C) rounds of k * L) is out of reach whenever
a conversation makes one episode several times longer than the mean (with 3 rounds at C = 32, even a runner with
no overhead gets 0.62 of it). This measures how close `generate` comes, on the simulated models.

    python bench/throughput.py [--latency-ms 200] [--runs 1:1,8:1,32:1,64:1,64:2] [--rounds 3] [--repeat 1]

Each run is C:W, C episodes in flight over W worker processes (`generate --workers W`; 1: the run's own process).
Each episode's model calls are counted in a zero-latency run of the same seed in this process (the simulated
episodes are the same wherever they are played, so the counts hold for the measured run). A short warm-up run first
pays the process's one-off costs (lazy imports), which are not throughput. It prints, per pair, the episodes, model
calls, the ideal and measured seconds (from the moment episodes can start to the committed version: worker
processes take a few seconds to start, printed apart as start-up), their ratio, the CPU milliseconds per episode (worker
processes included, their start-up too), the part of it the simulated models spent answering (measured in the
zero-latency run: a real model spends it on its own machines) and what is left, strands' and Goldsmith's own, as a
share of the episode's model time (calls x latency); with `--repeat N` each pair is measured N times, the medians
printed and the ratios' min-max beside them (run to run, a ratio here varies by about 0.02). It exits 1 when a
(median) ratio is below the target (0.95) where one applies: while each event loop carries at most 32 episodes (beyond
that one Python process is CPU-bound: add workers), so it is a check, not only a report.
"""

from __future__ import annotations

import argparse
import contextvars
import heapq
import math
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET = 0.95


PER_LOOP = 32  # episodes in flight per event loop up to which the target applies


def cpu_seconds() -> float:
    """CPU seconds of this process and of its children that have ended (the worker processes of finished runs)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class Counted:
    """One episode's model calls, and the CPU seconds the simulated models spent answering them."""

    calls: int = 0
    model_cpu: float = 0.0


CALLS: contextvars.ContextVar[Counted | None] = contextvars.ContextVar("calls", default=None)


def count_calls() -> None:
    """Count each episode's model calls: every simulated call adds one to the counter of the episode it runs in
    (a context variable each episode sets; the tasks of its agents inherit it). With no latency a simulated call
    never waits (it computes its reply and yields its events at once), so the CPU time of the thread between its
    events is the simulated model's own: the model's share, which a real model spends on its own machines, not
    here. Bench instrumentation only."""
    import simulation.episode as episodes
    from agents.simulated.model import SimulatedModel

    stream, play = SimulatedModel.stream, episodes.run_episode

    async def counted_stream(self: SimulatedModel, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        counted = CALLS.get()
        if counted is None:
            async for event in stream(self, *args, **kwargs):
                yield event
            return
        counted.calls += 1
        timed = not self.settings.latency_ms
        events = aiter(stream(self, *args, **kwargs))
        while True:
            started = time.thread_time()
            try:
                event = await anext(events)
            except StopAsyncIteration:
                return
            finally:
                if timed:
                    counted.model_cpu += time.thread_time() - started
            yield event

    async def counted_episode(episode: Any, *args: Any, **kwargs: Any) -> Any:
        counted = Counted()
        CALLS.set(counted)
        result = await play(episode, *args, **kwargs)
        PER_EPISODE[result.case.index] = counted
        return result

    SimulatedModel.stream = counted_stream  # type: ignore[method-assign]
    episodes.run_episode = counted_episode  # type: ignore[assignment]


PER_EPISODE: dict[int, Counted] = {}


def ideal_seconds(calls: list[int], concurrency: int, latency_s: float) -> float:
    """The makespan of a runner with no overhead: episodes in order, each started on the first free of
    `concurrency` slots, each taking its calls x `latency_s`."""
    slots = [0.0] * concurrency
    for n in calls:
        heapq.heappush(slots, heapq.heappop(slots) + n * latency_s)
    return max(slots)


def run(count: int, concurrency: int, latency_ms: int, workers: int = 1) -> tuple[Any, float, float, float]:
    """(summary, wall s from the first episode's start, CPU s, start-up s: the worker processes starting) of a run."""
    from simulation.runner import Run, RunConfig

    with tempfile.TemporaryDirectory() as out:
        config = RunConfig(dataset="bench", output_dir=out, count=count, seed=1, concurrency=concurrency,
                           sim_latency_ms=latency_ms, sim_defect_rate=0.0, workers=workers)  # fmt: skip
        prepared = Run(config)
        cpu, started = cpu_seconds(), time.monotonic()
        summary = prepared.execute()
        ended = time.monotonic()
        return summary, ended - prepared.playing_since, cpu_seconds() - cpu, prepared.playing_since - started


def measure(
    concurrency: int, workers: int, rounds: int, latency_ms: int, repeat: int
) -> tuple[int, int, float, float, float, list[tuple[float, float, float]]]:
    """(episodes, model calls, ideal s, the mean's ideal s, the simulated models' CPU s per episode, and per measured
    run: measured s, CPU s per episode, start-up s) of `repeat` runs of `rounds` full rounds."""
    PER_EPISODE.clear()
    run(concurrency * rounds, concurrency, 0)  # counts each episode's calls
    counted = [PER_EPISODE[i] for i in sorted(PER_EPISODE)]
    calls = [episode.calls for episode in counted]
    model_cpu = sum(episode.model_cpu for episode in counted) / len(counted)
    runs = []
    for _ in range(repeat):
        summary, elapsed, used, startup = run(concurrency * rounds, concurrency, latency_ms, workers)
        assert len(calls) == summary.episodes, "an episode's calls were not counted"
        assert sum(calls) == summary.model_stats["simulated"].calls, "the measured run made other calls"
        runs.append((elapsed, used / summary.episodes, startup))
    ideal = ideal_seconds(calls, concurrency, latency_ms / 1000)
    mean = math.ceil(len(calls) / concurrency) * sum(calls) / len(calls) * latency_ms / 1000  # the old ideal
    return len(calls), sum(calls), ideal, mean, model_cpu, runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=int, default=200)
    parser.add_argument("--runs", default="1:1,8:1,32:1,64:1,64:2", help="C:W pairs: in flight, worker processes")
    parser.add_argument("--rounds", type=int, default=3, help="episodes per run: rounds x concurrency")
    parser.add_argument(
        "--repeat", type=int, default=1, help="measured runs per pair: the median is checked, min-max printed"
    )
    args = parser.parse_args()
    count_calls()
    run(4, 4, 0)  # warm-up
    print(f"simulated model calls of {args.latency_ms} ms; target ratio (ideal / measured) >= {TARGET}", end="")
    print(f", the median of {args.repeat} runs" if args.repeat > 1 else "")
    print("  C  W  episodes  calls  ideal s  measured s  ratio  target  (mean's ideal s, ratio)  CPU ms/episode  "
          "of it, models'  ours, % of model time  start-up s  ratios min-max")  # fmt: skip
    missed = []
    for pair in args.runs.split(","):
        concurrency, workers = (int(n) for n in pair.split(":"))
        measured = measure(concurrency, workers, args.rounds, args.latency_ms, args.repeat)
        episodes, calls, ideal, mean, model_cpu, runs = measured
        elapsed, cpu, startup = (statistics.median(values) for values in zip(*runs, strict=True))
        ratio = ideal / elapsed
        ratios = sorted(ideal / measured for measured, _, _ in runs)
        model_time = calls / episodes * args.latency_ms / 1000
        old = f"({mean:.1f}, {mean / elapsed:.2f})"
        targeted = concurrency / workers <= PER_LOOP
        spread = f"{ratios[0]:.2f}-{ratios[-1]:.2f}" if len(runs) > 1 else "-"
        ours = 100 * (cpu - model_cpu) / model_time
        print(f"{concurrency:>3} {workers:>2} {episodes:>9} {calls:>6} {ideal:>8.1f} {elapsed:>11.1f} {ratio:>6.2f} "
              f"{TARGET if targeted else '-':>7} {old:>25} {cpu * 1000:>15.1f} "
              f"{model_cpu * 1000:>14.1f} {ours:>20.2f} {startup:>11.1f} {spread:>15}")  # fmt: skip
        if targeted and ratio < TARGET:
            missed.append(f"C={concurrency} W={workers}: {ratio:.3f}")
    if missed:
        print(f"below the target {TARGET}: {', '.join(missed)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
