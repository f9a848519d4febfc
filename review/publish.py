"""`review publish`: the SME decisions not yet published become the dataset's next version.

The next version is the latest one with the decisions applied: a rejected example leaves, a corrected one is
replaced by the corrected record (same id: an id hashes the world and the request, which a correction never
changes), a promoted review-queue item comes in as a new example built from its last attempt with the correction
applied, and an approved one stays with its review recorded. Every record a decision touched carries
`provenance.review`. A corrected or promoted record is checked against the dataset's world first
(simulation/truth.py); a correction the world contradicts stops the publish, naming the example and the
disagreement, and nothing is written. The decisions a version applied are listed in its manifest's `generation`,
so the next publish skips them. The commit is the store's compare-and-swap: when another writer committed first,
the publish starts again from the new latest version with the decisions still pending.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from config import InputError
from review.decisions import REVIEWER, Correction, Decision, DecisionLog
from store.dataset import Dataset, DatasetInfo, Manifest
from store.records import (
    RECORD_SCHEMA_VERSION,
    Example,
    Provenance,
    ReviewItem,
    SmeReview,
    TokenUsage,
    Turn,
)
from store.review import queue_items

if TYPE_CHECKING:
    from simulation.domains.base import Domain
    from simulation.truth import WorldChecker

MAX_TRIES = 20  # commits lost to other writers before giving up (each retry re-reads the latest version)
DONE = {"approve": "approved", "reject": "rejected", "correct": "corrected", "promote": "promoted"}


@dataclass
class Pending:
    """The decisions a publish would apply to `base`: each unpublished verdict, and the latest one per target."""

    base: Manifest
    decisions: list[Decision]  # every unpublished approve/reject/correct/promote, oldest first
    current: dict[tuple[str, str], Decision]  # (target, ref) → the latest of them that still applies
    stale: list[str] = field(default_factory=list)  # one line per target that no longer applies, and why
    items: dict[str, ReviewItem] = field(default_factory=dict)  # the review queue by reference, when one is decided


@dataclass
class PublishResult:
    """What a publish did: the new version (None when nothing was pending) and what went into it."""

    dataset: str
    manifest: Manifest | None
    based_on: int
    decisions: list[str] = field(default_factory=list)
    outcomes: dict[str, list[str]] = field(default_factory=dict)  # approved/rejected/corrected/promoted → ids
    stale: list[str] = field(default_factory=list)
    retries: int = 0

    @property
    def message(self) -> str:
        if self.manifest is None:
            return f"{self.dataset}@v{self.based_on}: no pending decisions, no new version"
        counts = ", ".join(f"{len(ids)} {name}" for name, ids in self.outcomes.items() if ids) or "no change"
        return (
            f"{self.dataset}@v{self.manifest.version} published from v{self.based_on}: {counts} "
            f"({len(self.decisions)} decisions, {self.manifest.records} records)"
        )


def published_decisions(dataset: Dataset) -> set[str]:
    """Ids of the decisions some review version already applied (from the manifests' `generation`)."""
    done: set[str] = set()
    for version in dataset.versions():
        manifest = dataset.read_manifest(version)
        if manifest.operation == "review":
            done.update(manifest.generation.get("decisions", []))
    return done


def pending(dataset: Dataset, base: Manifest | None = None) -> Pending:
    """The unpublished decisions on `base` (the latest version when None), and which of them still apply."""
    base = base or dataset.manifest()
    log = DecisionLog(dataset)
    done = published_decisions(dataset)
    unpublished = [d for d in log.all() if d.action in DONE and d.id not in done]
    items = queue_by_ref(dataset) if any(d.target == "review_item" for d in unpublished) else {}
    result = Pending(base, unpublished, {}, items=items)
    ids = dataset.ids(base)
    for (target, ref), decision in log.current(unpublished).items():
        if target == "example":
            problem = None if ref in ids else f"{ref}: not in {dataset.name}@v{base.version}"
        else:
            problem = item_problem(dataset, items.get(ref), ids)
            problem = problem and f"queue item {ref}: {problem}"
        if problem:
            result.stale.append(f"{problem} ({decision.action} {decision.id})")
        else:
            result.current[(target, ref)] = decision
    return result


def queue_by_ref(dataset: Dataset) -> dict[str, ReviewItem]:
    """The review queue by `<run_id>:<episode>` (an item filed twice under one reference: the later one)."""
    return {item_ref(item): item for item in queue_items(dataset)}


def item_problem(dataset: Dataset, item: ReviewItem | None, ids: set[str]) -> str | None:
    """Why a queue item cannot be promoted into a version holding `ids`, or None when it can."""
    if item is None:
        return "not in the review queue"
    if not item.attempts or not item.critiques or item.prompt is None:
        return "it has no judged attempt to promote"
    if promoted_id(dataset, item) in ids:
        return "its request is already an example of the dataset"
    return None


def item_ref(item: ReviewItem) -> str:
    """A review item's reference in decisions and URLs: `<run_id>:<episode>`."""
    return f"{item.run_id}:{item.episode}"


def promoted_id(dataset: Dataset, item: ReviewItem) -> str | None:
    """The id the item's request would have as an example (the project's id: world and normalised request)."""
    from simulation.episode import record_id

    info = dataset.info()
    if info is None or item.prompt is None:
        return None
    return record_id(info.domain, info.domain_version, info.world_seed, item.prompt)


def finding_problem(domain: Domain, finding: dict[str, Any], answer: str) -> str | None:
    """Why `finding` is not a finding of `domain` (with `answer` as its text), or None when it is one."""
    if "answer" in finding:
        return "the finding must not hold the answer: correct the reference answer in its own field"
    try:
        domain.finding_model.model_validate({**finding, "answer": answer})
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "finding"
        return f"{where}: {error['msg']}"
    return None


def publish(dataset: Dataset, reviewer: str) -> PublishResult:
    """Commit the pending decisions as the next version (see the module docstring); InputError, writing nothing,
    when a correction is contradicted by the world or is not a valid finding."""
    if not re.match(REVIEWER, reviewer):
        raise InputError(f"--reviewer: {reviewer!r} is not a reviewer name (letters, digits, space . _ @ -)")
    info = dataset.info()
    if info is None:
        raise InputError(f"no dataset '{dataset.name}' in {dataset.storage.url()}")
    checker: WorldChecker | None = None
    for retries in range(MAX_TRIES):
        todo = pending(dataset)
        base = todo.base
        if not todo.current:
            return PublishResult(dataset.name, None, base.version, stale=todo.stale, retries=retries)
        if checker is None and any(d.correction is not None for d in todo.current.values()):
            checker = world_checker(dataset, info, base)
        records, outcomes = apply(dataset, info, todo, checker)
        generation = {
            "operation": "review",
            "source_version": base.version,
            "published_by": reviewer,
            "decisions": [d.id for d in todo.decisions],
            **{name: len(ids) for name, ids in outcomes.items()},
            "stale": todo.stale,
        }
        try:
            manifest = dataset.replace(
                records,
                based_on=base,
                removed=len(outcomes["rejected"]),
                run_id=f"review-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}",
                rubric=base.rubric,
                models=base.models,
                generation=generation,
                operation="review",
            )
        except InputError:
            if dataset.versions()[-1] == base.version:
                raise
            continue  # another writer committed first: start again from its version
        return PublishResult(
            dataset.name, manifest, base.version, generation["decisions"], outcomes, todo.stale, retries
        )
    raise InputError(f"dataset '{dataset.name}' kept getting new versions; run review publish again")


def world_checker(dataset: Dataset, info: DatasetInfo, base: Manifest) -> WorldChecker:
    """A checker on the dataset's world with the rubric its latest version was judged with."""
    from rubrics.model import Rubric, load_rubric
    from simulation.domains import get_domain
    from simulation.truth import WorldChecker

    domain = get_domain(info.domain)
    if domain.version != info.domain_version:
        raise InputError(
            f"dataset '{dataset.name}' was made with {domain.name} domain version {info.domain_version}; this "
            f"Goldsmith has {domain.version}, whose world cannot check its corrections"
        )
    kept = dataset.kept_rubric(base.rubric.get("version", ""))
    if kept is not None:
        rubric = Rubric.model_validate(kept)
    else:
        rubric = load_rubric(domain.rubric_path, domain=domain.name, categories=set(domain.categories))
    return WorldChecker(domain, domain.build_world(info.world_seed), rubric)


def apply(
    dataset: Dataset, info: DatasetInfo, todo: Pending, checker: WorldChecker | None
) -> tuple[list[Example], dict[str, list[str]]]:
    """The next version's records and what happened to each decided one; InputError when the world contradicts a
    correction."""
    outcomes: dict[str, list[str]] = {name: [] for name in DONE.values()}
    records: list[Example] = []
    checked: list[tuple[Example, Decision]] = []
    for record in dataset.records(todo.base):
        decision = todo.current.get(("example", record.id))
        if decision is None:
            records.append(record)
            continue
        outcomes[DONE[decision.action]].append(record.id)
        if decision.action == "reject":
            continue
        reviewed = corrected(record, decision.correction) if decision.correction else record
        reviewed = with_review(reviewed, decision, original=changed_fields(record, reviewed))
        records.append(reviewed)
        if decision.correction is not None:
            checked.append((reviewed, decision))
    for (target, ref), decision in todo.current.items():
        if target != "review_item":
            continue
        assert checker is not None and decision.correction is not None  # a promotion always carries a correction
        record = promoted(dataset, info, todo.items[ref], decision, checker)
        records.append(record)
        checked.append((record, decision))
        outcomes["promoted"].append(record.id)
    refused = [line for record, decision in checked for line in contradictions(dataset, record, decision, checker)]
    if refused:
        raise InputError([*refused, f"{dataset.name}: nothing published; correct or reject those decisions"])
    return records, outcomes


def corrected(record: Example, correction: Correction) -> Example:
    """The record with the correction's fields; a new reference answer is also the conversation's last turn."""
    update: dict[str, Any] = {}
    if correction.reference_answer is not None:
        update["reference_answer"] = correction.reference_answer
        turns = list(record.conversation)
        if turns and turns[-1].role == "assistant":
            turns[-1] = turns[-1].model_copy(update={"content": correction.reference_answer})
        else:
            turns.append(Turn(role="assistant", content=correction.reference_answer))
        update["conversation"] = turns
    if correction.finding is not None:
        update["reference_output"] = correction.finding
    if correction.expected_tool_calls is not None:
        update["expected_tool_calls"] = correction.expected_tool_calls
    return record.model_copy(update=update)


CORRECTABLE = ("reference_answer", "reference_output", "expected_tool_calls")


def changed_fields(before: Example, after: Example) -> dict[str, Any]:
    """The correctable fields `after` changed, as they were in `before` (JSON values)."""
    old, new = before.model_dump(mode="json"), after.model_dump(mode="json")
    return {name: old[name] for name in CORRECTABLE if old[name] != new[name]}


def with_review(record: Example, decision: Decision, original: dict[str, Any], item: str | None = None) -> Example:
    """The record with `provenance.review` for `decision`; `original` keeps, per field, the value from before any
    SME changed it (an earlier review's original wins), so the newest record still shows what was generated."""
    earlier = record.provenance.review
    review = SmeReview(
        reviewer=decision.reviewer,
        decision=decision.action,
        at=decision.at,
        decision_id=decision.id,
        note=decision.note,
        marks=decision.marks,
        original={**original, **(earlier.original if earlier else {})},
        queue_item=item or (earlier.queue_item if earlier else None),
    )
    provenance = record.provenance.model_copy(update={"review": review})
    # an SME's sign-off makes a judged record's answer the SME's truth (its facts stay unstated)
    truth = "sme" if record.truth == "judged" else record.truth
    # schema 4 is schema 3 with provenance.review; a record of schema 1 or 2 keeps its version (it lacks 2's and 3's
    # fields, and its checks depend on the version it says)
    version = RECORD_SCHEMA_VERSION if record.schema_version >= 3 else record.schema_version
    return record.model_copy(update={"provenance": provenance, "schema_version": version, "truth": truth})


def promoted(
    dataset: Dataset, info: DatasetInfo, item: ReviewItem, decision: Decision, checker: WorldChecker
) -> Example:
    """A new example from a queue item's last attempt with the decision's correction, its truth from the world's
    case; InputError when the item cannot become one."""
    from simulation.episode import answer_fields, case_fields

    ref = item_ref(item)
    assert item.prompt is not None  # `pending` keeps only items with a request, an attempt and its critique
    try:
        case = checker.case_of(item)
    except LookupError as exc:
        raise InputError(f"queue item {ref}: the dataset's world has no case {item.case_key!r} ({exc})") from None
    attempt, critique = item.attempts[-1], item.critiques[-1]
    record = Example(
        id=promoted_id(dataset, item) or "",
        dataset=dataset.name,
        domain=info.domain,
        persona=checker.domain.card.user_simulator.name,
        prompt=item.prompt,
        **case_fields(case),
        **answer_fields(item.prompt, attempt),
        critique=critique,
        provenance=item_provenance(dataset, info, item),
    )
    assert decision.correction is not None
    fixed = corrected(record, decision.correction)
    return with_review(fixed, decision, original=changed_fields(record, fixed), item=ref)


def item_provenance(dataset: Dataset, info: DatasetInfo, item: ReviewItem) -> Provenance:
    """Where a queue item's attempt came from: its generate run's summary, plan and episode checkpoint; for an
    item filed by a re-validation, the provenance of the record it was; else the latest version's models."""
    summary = _json(dataset, "runs", item.run_id, "summary.json")
    if summary is None or "models" not in summary:
        earlier = _earlier_record(dataset, promoted_id(dataset, item))
        if earlier is not None:
            return earlier.provenance.model_copy(update={"review": None})
    plan = _json(dataset, "runs", item.run_id, "plan.json") or {}
    episode = _json(dataset, "runs", item.run_id, "episodes", f"{item.episode:05d}.json") or {}
    spend = episode.get("spend") or {}
    return Provenance(
        models=(summary or {}).get("models") or dataset.manifest().models,
        runtime=(plan.get("data") or {}).get("runtime", "unknown"),
        seed=(summary or {}).get("seed", 0),
        world_seed=info.world_seed,
        domain_version=info.domain_version,
        run_id=item.run_id,
        episode=item.episode,
        created_at=item.created_at,
        tokens=TokenUsage.model_validate(spend.get("tokens") or {}),
        cost_usd=spend.get("cost_usd", 0.0),
    )


def _json(dataset: Dataset, *parts: str) -> dict[str, Any] | None:
    data = dataset.storage.read(dataset.key(*parts))
    try:
        return None if data is None else json.loads(data)
    except ValueError:
        return None


def _earlier_record(dataset: Dataset, record_id: str | None) -> Example | None:
    """The newest stored record with this id in any version (a re-validation's queue items were records once)."""
    for version in reversed(dataset.versions()):
        manifest = dataset.manifest(version)
        if record_id in dataset.ids(manifest):
            return next(r for r in dataset.records(manifest) if r.id == record_id)
    return None


def contradictions(dataset: Dataset, record: Example, decision: Decision, checker: WorldChecker | None) -> list[str]:
    """What the world says against a corrected or promoted record: its claims (case, facts, expected tool calls,
    conversation, tool trace, end state), the rubric's `facts` criteria (verdict and evidence against the world's
    facts) and a finding the domain does not accept. One line each, naming the example and the decision."""
    assert checker is not None
    what = f"queue item {decision.ref}" if decision.target == "review_item" else f"example {record.id}"
    where = f"{dataset.name}: {what} ({decision.action} {decision.id} by {decision.reviewer})"
    lines = []
    if decision.correction and decision.correction.finding is not None:
        problem = finding_problem(checker.domain, decision.correction.finding, record.reference_answer)
        if problem:
            lines.append(f"{where}: the finding is not a {checker.domain.name} finding: {problem}")
    checked = checker.check(record)
    lines += [f"{where}: the world disagrees: {claim}" for claim in checked.claims]
    lines += [f"{where}: the world disagrees: {c.id}: {c.rationale}" for c in checked.criteria if c.method == "facts"]
    return lines
