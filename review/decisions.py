"""SME decisions on a dataset's examples and review-queue items.

Each decision is one small JSON file under `<dataset>/decisions/`, created once and never edited (a later
decision on the same target supersedes an earlier one). Saving one is a single atomic create through the
storage API, so a crash loses at most the decision being saved, and two reviewers never overwrite each other.
`review publish` turns the decisions not yet published into the dataset's next version.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import Field, model_validator

from config import InputError
from store.dataset import Dataset
from store.records import Strict, ToolCall, content_id

FOLDER = "decisions"
REVIEWER = r"^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,63}$"
REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")  # an example id, or a queue item's "<run_id>:<episode>"

Action = Literal["approve", "reject", "correct", "promote", "mark"]
VERDICTS: frozenset[str] = frozenset({"approve", "reject", "correct", "promote"})


class Correction(Strict):
    """What an SME changed in a golden (or in a queue item's last attempt, to promote it): only the fields given."""

    reference_answer: str | None = Field(None, min_length=1)
    finding: dict[str, Any] | None = Field(None, description="the corrected reference output (the finding)")
    expected_tool_calls: list[ToolCall] | None = None

    @model_validator(mode="after")
    def _something(self) -> Correction:
        if self.reference_answer is None and self.finding is None and self.expected_tool_calls is None:
            raise ValueError("a correction changes at least one of reference_answer, finding, expected_tool_calls")
        return self


class Decision(Strict):
    """One SME decision. `marks` is the SME's own pass/fail per judged criterion (what `calibrate` compares the
    judge with); it may come with any action, or alone (`mark`)."""

    id: str
    dataset: str
    version: int = Field(ge=1, description="the dataset version the reviewer was looking at")
    target: Literal["example", "review_item"]
    ref: str = Field(pattern=REF.pattern, description="the example id, or the queue item's '<run_id>:<episode>'")
    action: Action
    reviewer: str = Field(pattern=REVIEWER)
    at: str
    note: str = Field("", description="the reason, for a rejection (required there)")
    correction: Correction | None = None
    marks: dict[str, bool] = Field(default_factory=dict, description="criterion id → the SME's pass")

    @model_validator(mode="after")
    def _consistent(self) -> Decision:
        if self.action == "reject" and not self.note.strip():
            raise ValueError("a rejection needs a reason (note)")
        if self.action in ("correct", "promote") and self.correction is None:
            raise ValueError(f"'{self.action}' needs a correction")
        if self.action not in ("correct", "promote") and self.correction is not None:
            raise ValueError(f"'{self.action}' takes no correction")
        if self.action == "promote" and self.target != "review_item":
            raise ValueError("only a review-queue item is promoted")
        if self.target == "review_item" and self.action not in ("promote", "mark"):
            raise ValueError("a review-queue item is promoted or marked")
        if self.action == "mark" and not self.marks:
            raise ValueError("'mark' needs at least one criterion mark")
        return self


class Label(Strict):
    """One SME's pass/fail on one criterion of one example or review-queue item (from decisions or from a labels
    spreadsheet)."""

    example_id: str = Field(description="an example id, or a review-queue item's '<run_id>:<episode>'")
    criterion: str
    passed: bool
    reviewer: str


def new_decision(
    dataset: str,
    version: int,
    *,
    target: Literal["example", "review_item"],
    ref: str,
    action: Action,
    reviewer: str,
    note: str = "",
    correction: Correction | None = None,
    marks: dict[str, bool] | None = None,
) -> Decision:
    """A validated decision made now (ValueError, as pydantic's ValidationError, when it is not a valid one)."""
    at = datetime.now(UTC).isoformat(timespec="microseconds")  # orders two decisions in one second
    fields = {"dataset": dataset, "version": version, "target": target, "ref": ref, "action": action,
              "reviewer": reviewer, "at": at, "note": note, "correction": correction, "marks": marks or {}}  # fmt: skip
    identity = {**fields, "correction": correction.model_dump() if correction else None}
    return Decision(id=content_id(identity), **fields)


class DecisionLog:
    """The decisions saved beside one dataset, through its storage (a local directory or S3)."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def save(self, decision: Decision) -> None:
        """Save one decision (atomic create; saving the same decision twice keeps one)."""
        if decision.dataset != self.dataset.name:
            raise InputError(f"a decision on '{decision.dataset}' cannot be saved beside '{self.dataset.name}'")
        stamp = re.sub(r"[^0-9]", "", decision.at)[:20]
        key = self.dataset.key(FOLDER, f"{stamp}-{decision.id}.json")
        self.dataset.storage.create(key, decision.model_dump_json(indent=1).encode())

    def all(self) -> list[Decision]:
        """Every decision, oldest first (by time, then id); a file that is not a decision is an InputError."""
        decisions = []
        for name in self.dataset.storage.children(self.dataset.key(FOLDER)):
            if not name.endswith(".json"):
                continue
            key = self.dataset.key(FOLDER, name)
            try:
                decisions.append(Decision.model_validate_json(self.dataset.storage.read(key) or b""))
            except ValueError as exc:
                first = str(exc).splitlines()[0]
                raise InputError(f"{self.dataset.storage.url(key)}: not a decision ({first})") from None
        return sorted(decisions, key=lambda d: (d.at, d.id))

    def current(self, decisions: Iterable[Decision] | None = None) -> dict[tuple[str, str], Decision]:
        """(target, ref) → the latest approve/reject/correct/promote decision on it (marks alone decide nothing)."""
        latest: dict[tuple[str, str], Decision] = {}
        for decision in self.all() if decisions is None else decisions:
            if decision.action in VERDICTS:
                latest[(decision.target, decision.ref)] = decision
        return latest

    def labels(self, decisions: Iterable[Decision] | None = None) -> list[Label]:
        """Each reviewer's latest mark per (example or queue item, criterion). The queue's items matter to
        calibration: they hold the judge's failures, which accepted examples rarely do."""
        latest: dict[tuple[str, str, str], Label] = {}
        for decision in self.all() if decisions is None else decisions:
            for criterion, passed in decision.marks.items():
                key = (decision.ref, criterion, decision.reviewer)
                latest[key] = Label(
                    example_id=decision.ref, criterion=criterion, passed=passed, reviewer=decision.reviewer
                )
        return list(latest.values())
