"""What the CrewAI runtime costs next to strands, offline, on the same episodes.

    python bench/runtimes.py [--episodes 60] [--seed 3] [--domain kyc]

Runs the same batch (same seed, same simulated policies) on both runtimes in one process and prints, per
runtime: episodes/s relative to strands, model calls, input tokens per episode (each framework wraps the same
prompts in its own templates), whether the stored examples are identical apart from provenance, and the time
to import each runtime in a fresh interpreter (relative to strands). Needs goldsmith[crewai].
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simulation.runner import Run, RunConfig  # noqa: E402


def import_seconds(module: str) -> float:
    """Wall time of `import module` in a fresh interpreter, best of three."""
    times = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import {module}"], cwd=ROOT, check=True)
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=60)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--domain", default="kyc")
    args = parser.parse_args()
    rows, records = {}, {}
    with tempfile.TemporaryDirectory() as out:
        for runtime in ("strands", "crewai"):
            config = RunConfig(
                domain=args.domain,
                dataset=runtime,
                output_dir=out,
                count=args.episodes,
                seed=args.seed,
                runtime=runtime,
            )
            run = Run(config)
            started = time.perf_counter()
            summary = run.execute()
            rows[runtime] = (time.perf_counter() - started, summary)
            stored = run.dataset.records(run.dataset.manifest())
            records[runtime] = [r.model_dump(exclude={"provenance", "dataset"}) for r in stored]
    base_s = rows["strands"][0]
    imports = {runtime: import_seconds(f"agents.{runtime}_runtime") for runtime in rows}
    print(f"{args.episodes} episodes of {args.domain}, seed {args.seed}")
    print(f"{'runtime':<9} {'episodes/s':>11} {'model calls':>12} {'input tok/ep':>13} {'accepted':>9} {'import':>8}")
    for runtime, (seconds, summary) in rows.items():
        calls = sum(s.calls for s in summary.model_stats.values())
        print(
            f"{runtime:<9} {base_s / seconds:>10.2f}x {calls:>12} {summary.tokens.input // summary.episodes:>13,} "
            f"{summary.accepted:>9} {imports[runtime] / imports['strands']:>7.1f}x"
        )
    same = records["strands"] == records["crewai"]
    print(f"stored examples identical apart from provenance: {same} ({len(records['crewai'])} examples)")


if __name__ == "__main__":
    main()
