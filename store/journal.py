"""A run's durable progress, kept beside its dataset so that a killed run can be resumed:

    <name>/runs/<run>/plan.json              what the run is (its resolved settings); written once
    <name>/runs/<run>/episodes/00042.json    the latest checkpoint of episode 42, replaced after each stage

Each checkpoint is written whole and atomically (store/storage.py), so after a crash every episode's file
is its last completed stage, never a torn one.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from config import InputError
from store.dataset import Dataset

M = TypeVar("M", bound=BaseModel)


class RunJournal:
    def __init__(self, dataset: Dataset, run_id: str):
        if not run_id or "/" in run_id or run_id.startswith("."):
            raise InputError(f"--run-id: invalid run id {run_id!r}")
        self.dataset = dataset
        self.run_id = run_id

    def _key(self, *parts: str) -> str:
        return self.dataset.key("runs", self.run_id, *parts)

    def plan(self) -> dict[str, Any] | None:
        """The plan the run was started with, or None for a new run."""
        data = self.dataset.storage.read(self._key("plan.json"))
        return None if data is None else json.loads(data)

    def start(self, plan: dict[str, Any]) -> dict[str, Any]:
        """Record the plan of a new run; if the run already has one (it is being resumed), that one."""
        if self.dataset.storage.create(self._key("plan.json"), json.dumps(plan, indent=2).encode()):
            return plan
        stored = self.plan()
        assert stored is not None
        return stored

    def save(self, index: int, state: BaseModel) -> None:
        self.dataset.storage.write(self._key("episodes", f"{index:05d}.json"), state.model_dump_json().encode())

    def load(self, model: type[M]) -> dict[int, M]:
        """Every episode's latest checkpoint, by episode index."""
        states: dict[int, M] = {}
        for name in self.dataset.storage.children(self._key("episodes")):
            if not (name.endswith(".json") and name[:-5].isdigit()):
                continue
            data = self.dataset.storage.read(self._key("episodes", name))
            try:
                states[int(name[:-5])] = model.model_validate_json(data or b"")
            except ValidationError as error:
                where = self.dataset.storage.url(self._key("episodes", name))
                raise InputError(
                    f"{where}: not a checkpoint this Goldsmith can resume ({error.errors()[0]['msg']})"
                ) from None
        return states
