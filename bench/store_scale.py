"""The dataset store's costs against the size of the dataset: do they follow the batch?

    python bench/store_scale.py            # datasets of 10k and 100k records (a few minutes)
    python bench/store_scale.py --full     # and 1M records (about an hour, several GB of disk)

Builds each dataset through the store's own API (`Dataset.append`, 1,000 synthetic but schema-valid records per
version, tests/factories.py), then measures, with a fresh `Dataset` object each time (what a new command sees):

- append of 1,000 records at each size (min / median / max of 3) and the largest ÷ 10k ratio of the medians;
- start-up: what `generate` loads before its first episode (the prompt index and the case keys it excludes);
- `dataset export --format jsonl` (a subprocess: wall time and its own peak RSS, from os.wait4);
- `dataset verify` (a subprocess: wall time, MB/s, peak RSS), next to reading and hashing every batch;
- `diff` of the first and the last version;
- `list` of a dataset of 1,000 versions (what `dataset list` does, in-process).

Prints each value next to its target; exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from store.dataset import Dataset  # noqa: E402
from store.history import diff  # noqa: E402
from store.records import Example  # noqa: E402
from tests.factories import make_example  # noqa: E402

PER_VERSION = 1_000
WORLD_KEYS = 11_000  # about the kyc world's distinct cases: what a run's exclude set is looked up against
LINEAGE = {"rubric": {"id": "bench", "version": "1"}, "models": {"task": "sim"}, "generation": {}}
CATEGORIES = ("structuring", "pep_match", "no_hit", "sanctions_false_positive", "follow_up_action")

results: list[tuple[str, str, str, bool]] = []


def report(what: str, value: str, target: str, ok: bool) -> None:
    results.append((what, value, target, ok))
    print(f"{'ok  ' if ok else 'MISS'} {what:<44} {value:>26}   target {target}", flush=True)


def record(n: int) -> Example:
    category = CATEGORIES[n % len(CATEGORIES)]
    base = make_example(f"{n:016x}", category=category, filler=300)
    prompt = f"Please review customer C-{n:07d} and account A-{n * 7 % 9_999_991:07d} for {category} this quarter"
    return base.model_copy(update={"prompt": prompt, "case_key": f"{category}:C-{n:07d}"})


def batch(start: int, size: int = PER_VERSION) -> list[Example]:
    return [record(n) for n in range(start, start + size)]


def grow(out: Path, name: str, records: int) -> int:
    """Append versions of 1,000 records until the dataset holds `records`; returns the next record number."""
    ds = Dataset(out, name)
    ds.bind(domain="kyc", domain_version="1", world_seed=1, default_world_seed=1)
    latest = ds.latest()
    start = latest.records if latest else 0
    started = time.perf_counter()
    for first in range(start, records, PER_VERSION):
        ds.append(batch(first), run_id=f"build-{first // PER_VERSION}", **LINEAGE)
        if (first // PER_VERSION) % 100 == 99:
            print(f"  {name}: {first + PER_VERSION:,} records ({time.perf_counter() - started:.0f} s)", flush=True)
    return records


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def appends(out: Path, name: str, start: int) -> tuple[list[float], int]:
    """Three appends of 1,000 new records, each by a fresh Dataset (a new command)."""
    times = []
    for _ in range(3):
        examples = batch(start)
        times.append(timed(lambda e=examples: Dataset(out, name).append(e, run_id="bench", **LINEAGE)))
        start += PER_VERSION
    return times, start


def startup(out: Path, name: str) -> float:
    """The store's part of a run's start: the latest version, its prompt index, the held case keys, one screen."""

    def load() -> None:
        ds = Dataset(out, name)
        latest = ds.latest()
        ds.check(latest)
        index = ds.prompt_index(latest)
        keys = {f"{CATEGORIES[n % len(CATEGORIES)]}:C-{n:07d}" for n in range(0, WORLD_KEYS * 50, 50)}
        ds.held_case_keys(latest, keys)
        assert index.match(record(5).prompt) is not None
        index.match("Please review customer C-9999999 and account A-0000001 for structuring this year")

    return timed(load)


def child(args: list[str]) -> tuple[float, float, int, str]:
    """Run `main.py args` in a subprocess: (wall s, peak RSS MB, exit code, stderr)."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "OTEL_SDK_DISABLED": "true", "CREWAI_DISABLE_TELEMETRY": "true"},
    )
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    return elapsed, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status), stderr


def read_and_hash(out: Path, name: str) -> tuple[float, int]:
    """Reading and hashing every batch file: the least a verify must do. (seconds, bytes)."""
    files = sorted((out / name / "batches").glob("*.jsonl"))
    size = 0

    def run() -> None:
        nonlocal size
        for path in files:
            data = path.read_bytes()
            size += len(data)
            hashlib.sha256(data).hexdigest()

    return timed(run), size


def measure(out: Path, name: str, records: int, start: int, small_median: float | None) -> tuple[float, int]:
    print(f"-- {name}: {records:,} records", flush=True)
    times, start = appends(out, name, start)
    median = statistics.median(times)
    spread = f"{min(times):.2f}/{median:.2f}/{max(times):.2f} s"
    report(f"append 1k at {records:,} (min/median/max)", spread, "median <= 1 s", median <= 1)
    if small_median is not None:
        ratio = median / small_median
        report(f"append ratio {records:,} / 10k", f"{ratio:.2f}", "<= 1.5", ratio <= 1.5)
    took = statistics.median(startup(out, name) for _ in range(3))
    report(f"start-up at {records:,} (prompt index + case keys)", f"{took:.2f} s", "<= 1 s", took <= 1)
    if records < 100_000:
        return median, start
    exported = out / f"{name}.jsonl"
    wall, rss, code, err = child(
        ["dataset", "export", name, "--format", "jsonl", "--out", str(exported)] + ["--output-dir", str(out)]
    )
    lines = sum(1 for _ in exported.open("rb")) if code == 0 else 0
    report(f"export jsonl at {records:,}: wall", f"{wall:.1f} s ({lines:,} lines)", "(reported)", code == 0)
    report(f"export jsonl at {records:,}: peak RSS", f"{rss:.0f} MB", "<= 300 MB", code == 0 and rss <= 300)
    if code:
        print(err, file=sys.stderr)
    exported.unlink(missing_ok=True)
    floor, size = read_and_hash(out, name)
    wall, rss, code, err = child(["dataset", "verify", name, "--output-dir", str(out)])
    rate = size / wall / 1e6
    report(
        f"verify at {records:,}",
        f"{wall:.1f} s, {rate:.0f} MB/s",
        f">= read+hash speed ({size / floor / 1e6:.0f} MB/s)",
        code == 0 and wall <= floor,
    )
    report(f"verify at {records:,}: peak RSS", f"{rss:.0f} MB", "<= 300 MB", code == 0 and rss <= 300)
    if code:
        print(err, file=sys.stderr)
    last = Dataset(out, name).latest()
    assert last is not None
    changes: list = []
    took = timed(lambda: changes.append(diff(Dataset(out, name), 1, last.version)))
    added = len(changes[0].added)
    report(f"diff v1..v{last.version} at {records:,}", f"{took:.2f} s ({added:,} added)", "<= 5 s", took <= 5)
    return median, start


def list_versions(out: Path, versions: int = 1_000) -> None:
    ds = Dataset(out, "many")
    ds.bind(domain="kyc", domain_version="1", world_seed=1, default_world_seed=1)
    for n in range(versions):
        ds.append([record(50_000_000 + n)], run_id=f"v{n}", **LINEAGE)

    def listing() -> None:  # what `dataset list` does for one dataset
        data = Dataset(out, "many")
        manifests = [data.manifest(v) for v in data.versions()]
        assert len(manifests) == versions and manifests[-1].records == versions

    took = timed(listing)
    report(f"list of {versions:,} versions", f"{took:.2f} s", "<= 0.5 s", took <= 0.5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="also a dataset of 1M records")
    parser.add_argument("--dir", type=Path, help="where to build the datasets (default: a temp dir, removed)")
    args = parser.parse_args()
    sizes = [10_000, 100_000] + ([1_000_000] if args.full else [])
    with tempfile.TemporaryDirectory(dir=args.dir) as temp:
        out = Path(temp)
        small_median = None
        for size in sizes:
            name = f"d{size // 1000}k"
            started = time.perf_counter()
            start = grow(out, name, size)
            print(f"built {name} in {time.perf_counter() - started:.0f} s", flush=True)
            median, _ = measure(out, name, size, start, small_median)
            small_median = small_median or median
        list_versions(out)
    missed = [r for r in results if not r[3]]
    print(
        f"{len(results) - len(missed)} of {len(results)} targets met" + (f"; missed: {len(missed)}" if missed else "")
    )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
