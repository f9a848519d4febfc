"""Reading a dataset's review queue: `<name>/review/<run>.jsonl`, one ReviewItem a line, through the storage
API (a local directory or S3)."""

from __future__ import annotations

from config import InputError
from store.dataset import Dataset
from store.records import ReviewItem

SUFFIX = ".jsonl"


def queue_runs(dataset: Dataset) -> list[str]:
    """The runs that filed review items in `dataset`, in name order (run ids start with a timestamp)."""
    return [n.removesuffix(SUFFIX) for n in dataset.storage.children(dataset.key("review")) if n.endswith(SUFFIX)]


def queue_items(dataset: Dataset, run: str | None = None) -> list[ReviewItem]:
    """The review items of every run (or of `run`), run by run, in the order they were filed."""
    runs = queue_runs(dataset)
    if run is not None:
        if run not in runs:
            known = ", ".join(runs) if runs else "none"
            raise InputError(f"--run: no review items of run {run!r} in {dataset.where}; runs with items: {known}")
        runs = [run]
    items = []
    for name in runs:
        key = dataset.key("review", name + SUFFIX)
        data = dataset.storage.read(key) or b""
        for number, line in enumerate(data.decode().splitlines(), 1):
            if not line.strip():
                continue
            try:
                items.append(ReviewItem.model_validate_json(line))
            except ValueError as exc:
                first = str(exc).splitlines()[0]
                raise InputError(f"{dataset.storage.url(key)}:{number}: not a review item ({first})") from None
    return items
