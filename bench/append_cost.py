"""Appending a batch costs O(batch) writes, whatever the size of the dataset.

    python bench/append_cost.py

Grows a dataset to 20,000 records in batches, then appends one 50-record batch and prints the bytes
that append wrote (batch file + manifest) against the dataset's size, and the append's time relative
to appending the same batch to a 50-record dataset, measured in this run.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from store.dataset import Dataset  # noqa: E402
from tests.factories import make_example  # noqa: E402


def example(n: int):
    return make_example(f"{n:016x}", filler=400)


def timed_append(ds: Dataset, start: int, size: int) -> tuple[float, int]:
    before = sum(p.stat().st_size for p in Path(ds.where).rglob("*") if p.is_file())
    started = time.perf_counter()
    ds.append([example(n) for n in range(start, start + size)], run_id="b", rubric={}, models={}, generation={})
    elapsed = time.perf_counter() - started
    after = sum(p.stat().st_size for p in Path(ds.where).rglob("*") if p.is_file())
    return elapsed, after - before


def main() -> None:
    with tempfile.TemporaryDirectory() as out:
        small = Dataset(out, "small")
        small.bind(domain="kyc", domain_version="1", world_seed=1, default_world_seed=1)
        timed_append(small, 0, 50)
        small_time, small_bytes = timed_append(small, 50, 50)
        big = Dataset(out, "big")
        big.bind(domain="kyc", domain_version="1", world_seed=1, default_world_seed=1)
        for start in range(0, 20_000, 2_000):
            big.append(
                [example(n) for n in range(start, start + 2_000)], run_id="b", rubric={}, models={}, generation={}
            )
        big_time, big_bytes = timed_append(big, 20_000, 50)
        size = sum(p.stat().st_size for p in (Path(big.where) / "batches").glob("*.jsonl"))
    print(f"dataset of 50 records:     append of 50 wrote {small_bytes:>9,} bytes")
    print(f"dataset of 20,000 records: append of 50 wrote {big_bytes:>9,} bytes (dataset is {size:,} bytes)")
    print(f"bytes written, big/small: {big_bytes / small_bytes:.2f}  (O(batch) writes: close to 1)")
    print(
        f"append time, big/small:   {big_time / small_time:.1f}  (the id check looks the new ids up in the "
        "dataset's record index, store/index.py)"
    )


if __name__ == "__main__":
    main()
