"""Crash-resume trials: kill `generate` with SIGKILL at random moments, resume it, and check that nothing
was lost or duplicated.

Each trial starts a run of N episodes (with simulated latency, so it takes a while), kills it with
SIGKILL at random moments `--kills` times, resuming it with the same --run-id each time, then resumes it to
the end and checks:
  - every episode is accounted for exactly once: accepted (in the dataset) or rejected/failed (in the
    review queue), never both, never neither;
  - the dataset holds exactly the accepted examples, no id twice in any version;
  - `dataset verify` passes.

    python bench/crash_resume.py                 # 5 trials × 3 kills of a 200-episode run
    python bench/crash_resume.py --trials 1 --episodes 40 --kills 2
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def generate(out: Path, run_id: str, episodes: int, latency_ms: int, seed: int) -> list[str]:
    return [
        sys.executable,
        str(ROOT / "main.py"),
        "generate",
        "--output-dir",
        str(out),
        "--run-id",
        run_id,
        "--count",
        str(episodes),
        "--seed",
        str(seed),
        "--sim-latency-ms",
        str(latency_ms),
    ]


def kill_at(command: list[str], after_s: float) -> tuple[int, str]:
    """Start `command`, SIGKILL it after `after_s` seconds (unless it finished); its exit code and stderr."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT, text=True)
    try:
        _, stderr = process.communicate(timeout=after_s)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        _, stderr = process.communicate()
    return process.returncode, stderr


def account(out: Path, run_id: str, episodes: int) -> list[str]:
    """Problems with what the run left behind; empty when every episode is accounted for exactly once."""
    from store.dataset import Dataset
    from store.history import verify

    problems = []
    dataset = Dataset(out, "kyc")
    checkpoints = {}
    for path in (out / "kyc" / "runs" / run_id / "episodes").glob("*.json"):
        state = json.loads(path.read_text())
        checkpoints[state["case"]["index"]] = state
    unfinished = sorted(i for i, s in checkpoints.items() if s["status"] == "in_progress")
    if len(checkpoints) != episodes or unfinished:
        problems.append(f"{len(checkpoints)} of {episodes} episodes checkpointed, unfinished: {unfinished[:5]}")
    accepted = {s["example"]["id"]: i for i, s in checkpoints.items() if s["status"] == "accepted"}
    manifest = dataset.latest()
    stored = Counter(record_id for record_id, _ in dataset.index(manifest)) if manifest else Counter()
    if twice := [i for i, n in stored.items() if n > 1]:
        problems.append(f"ids stored twice: {twice[:5]}")
    if set(stored) != set(accepted):
        problems.append(f"dataset holds {len(stored)} ids, the run accepted {len(accepted)}")
    review_file = out / "kyc" / "review" / f"{run_id}.jsonl"
    reviewed = (
        Counter(json.loads(line)["episode"] for line in review_file.read_text().splitlines())
        if (review_file.exists())
        else Counter()
    )
    if twice := [i for i, n in reviewed.items() if n > 1]:
        problems.append(f"episodes in the review queue twice: {twice[:5]}")
    in_both = set(reviewed) & set(accepted.values())
    everyone = set(reviewed) | set(accepted.values())
    if in_both or everyone != set(range(episodes)):
        problems.append(f"accepted and reviewed overlap {sorted(in_both)[:5]}, {episodes - len(everyone)} missing")
    versions, verify_problems = verify(dataset) if manifest else (0, [])
    problems += verify_problems
    return problems


def trial(n: int, *, episodes: int, kills: int, latency_ms: int, seed: int, rng: random.Random) -> dict:
    with tempfile.TemporaryDirectory(prefix="goldsmith-crash-") as tmp:
        out, run_id = Path(tmp) / "output", f"crash-{n}"
        command = generate(out, run_id, episodes, latency_ms, seed + n)
        started = time.monotonic()
        killed_at, exits, problems = [], [], []
        for _ in range(kills):
            moment = round(rng.uniform(1.5, 8.0), 2)  # python start-up takes ~1.5 s; runs take ~10-20 s
            code, stderr = kill_at(command, moment)
            exits.append(code)
            killed_at.append(moment)
            if code not in (0, -signal.SIGKILL):
                problems.append(f"exit {code}: {stderr.strip()[-300:]}")
        final = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
        problems += account(out, run_id, episodes) if final.returncode == 0 else [final.stderr[-500:]]
        versions = len(list((out / "kyc" / "versions").glob("v*.json")))
        return {
            "trial": n,
            "killed_at_s": killed_at,
            "killed": sum(code == -signal.SIGKILL for code in exits),
            "finished_before_kill": sum(code == 0 for code in exits),
            "versions": versions,
            "wall_s": round(time.monotonic() - started, 1),
            "problems": problems,
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--kills", type=int, default=3, help="SIGKILLs per trial before the final resume")
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    rng = random.Random(args.seed)
    failed = 0
    print(f"{args.trials} trials: {args.episodes} episodes, {args.kills} SIGKILLs each, then resume to the end")
    for n in range(1, args.trials + 1):
        result = trial(n, episodes=args.episodes, kills=args.kills, latency_ms=args.latency_ms, seed=args.seed, rng=rng)
        failed += bool(result["problems"])
        verdict = "OK: every episode accounted for once, no duplicate ids, verify passes"
        print(
            f"trial {n}: SIGKILL at {result['killed_at_s']} s ({result['killed']} killed mid-run, "
            f"{result['finished_before_kill']} finished first), "
            f"{result['versions']} version(s), {result['wall_s']} s: "
            + (verdict if not result["problems"] else "FAILED: " + "; ".join(result["problems"]))
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
