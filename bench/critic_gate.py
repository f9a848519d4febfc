"""How well the critic loop turns defective drafts into correct ground truth, per defect rate.

    python bench/critic_gate.py [--episodes 600] [--seed 3]

For each simulated defect rate it runs a batch into a temp dir and prints: accepted share, the
critique-rounds histogram, rejection reasons, and the share of accepted examples whose verdict and
evidence agree with the world's ground truth (must be 1.000). Episodes/s is printed relative to the
rate-0 batch of the same run, since these machines are noisy.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simulation.domains import get_domain  # noqa: E402
from simulation.domains.kyc.world import build_world  # noqa: E402
from simulation.runner import Run, RunConfig  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=600)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    world = build_world(1)
    base_speed = None
    print(f"{'defect':>6} {'accepted':>9} {'truthful':>9} {'speed×':>7}  rounds histogram / rejection reasons")
    for rate in (0.0, 0.3, 0.5, 1.0):
        with tempfile.TemporaryDirectory() as out:
            run = Run(
                RunConfig(count=args.episodes, seed=args.seed, output_dir=str(out), concurrency=8, sim_defect_rate=rate)
            )
            results: list = []
            summary = run.execute(results.append)
        accepted = [r.example for r in results if r.example is not None]
        truthful = sum(_agrees(world, e) for e in accepted)
        speed = summary.episodes / summary.wall_time_s
        base_speed = base_speed or speed
        reasons = Counter(reason for r in results if r.status != "accepted" for reason in r.reasons)
        print(
            f"{rate:>6.1f} {len(accepted) / summary.episodes:>9.3f} {truthful / max(len(accepted), 1):>9.3f} "
            f"{speed / base_speed:>7.2f}  {summary.rounds_histogram} {dict(reasons) or ''}"
        )


def _agrees(world, example) -> bool:
    """The accepted answer against the world's own case for its key (rebuilt from the labels, not the record)."""
    finding = example.reference_output
    truth = get_domain("kyc").case_for_key(world, example.case_key).facts
    if (finding["verdict"], finding.get("typology")) != (truth.verdict, truth.typology):
        return False
    return all(world.has_id(i) for i in finding["evidence_ids"]) and set(truth.evidence_ids) <= set(
        finding["evidence_ids"]
    )


if __name__ == "__main__":
    main()
