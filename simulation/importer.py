"""`dataset import`: records from a JSON Lines file earn their place in a dataset as if generated here.

Every line is validated first (`file:line: field: problem`, nothing written). Then each record's truth is
re-earned against the dataset's world (simulation/truth.py: its case rebuilt from the world, facts, expected
tool calls and a conversation's scenario and expected actions compared, the tool trace replayed with its actions
on a fresh desk, the rubric's programmatic criteria run), and with `judge` the critic judges it again too (a
multi-turn record's conversation, against the case's expected end state). Records that pass are appended
unchanged, as an `import` version whose lineage says what was checked; the others go to the review queue with
their reasons, never into the dataset.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from agents.settings import ModelSettings
from agents.simulated.model import SimSettings
from config import InputError
from rubrics.model import Rubric, load_rubric
from simulation.domains import Domain, World, get_domain
from simulation.episode import task_request
from simulation.truth import Recheck, WorldChecker, attempt_of, user_ending
from store.dataset import Dataset, Manifest
from store.imports import read_records
from store.records import CriterionResult, Critique, Example, ReviewItem, utc_now


@dataclass
class Rejected:
    line: int
    record: Example
    reasons: list[str]
    problems: list[str]


@dataclass
class ImportResult:
    read: int
    manifest: Manifest | None
    skipped: list[str] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    review_file: str | None = None


def import_file(
    dataset: Dataset,
    source: str,
    *,
    rubric: Path | None = None,
    judge: bool = False,
    models: ModelSettings | None = None,
) -> ImportResult:
    """Check every record of `source` against the world (and with `judge`, the critic) and append those that
    pass to `dataset` as an `import` version."""
    lines, sha256 = read_records(source)
    # an SME's sign-off is an attestation no world can re-check: a file cannot bring one in (the record's truth is
    # re-checked below as any other's; who reviewed it in the store it came from stays there)
    lines = [(number, unstated(unreviewed(record))) for number, record in lines]
    records = [record for _, record in lines]
    worlds = {(r.domain, r.provenance.domain_version, r.provenance.world_seed) for r in records}
    if len(worlds) > 1:
        listed = ", ".join(f"{d} v{v} world seed {s}" for d, v, s in sorted(worlds))
        raise InputError(
            f"{source}: records come from more than one domain or world ({listed}); import them separately"
        )
    (domain_name, domain_version, world_seed) = worlds.pop()
    domain = get_domain(domain_name)
    if domain_version != domain.version:
        raise InputError(
            f"{source}: records were made with {domain_name} domain version {domain_version}; this Goldsmith has "
            f"{domain.version}, whose world cannot vouch for them"
        )
    info = dataset.info()
    if info is not None and (info.domain, info.domain_version, info.world_seed) != (
        domain_name,
        domain_version,
        world_seed,
    ):
        raise InputError(
            f"{source}: records of {domain_name} world seed {world_seed} cannot go into '{dataset.name}' "
            f"({info.domain} world seed {info.world_seed})"
        )
    rubric_path = rubric or domain.rubric_path
    checked_rubric = load_rubric(rubric_path, domain=domain.name, categories=set(domain.categories))
    dataset.storage.check_writable(dataset.name)
    world = domain.build_world(world_seed)
    checker = WorldChecker(domain, world, checked_rubric)
    rechecks = [checker.check(record) for record in records]
    if judge:
        rechecks = _judge(rechecks, domain, world, checked_rubric, models or ModelSettings())
    run_id = f"import-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    rejected = [
        Rejected(number, check.record, check.reasons(), check.problems)
        for (number, _), check in zip(lines, rechecks, strict=True)
        if not check.ok
    ]
    accepted = [check.record for check in rechecks if check.ok]
    result = ImportResult(read=len(records), manifest=None, rejected=rejected)
    if accepted:
        dataset.bind(
            domain=domain_name, domain_version=domain_version, world_seed=world_seed, default_world_seed=world_seed
        )
        newest = max(accepted, key=lambda r: r.provenance.created_at)
        result.manifest, result.skipped = dataset.append(
            accepted,
            run_id=run_id,
            rubric={"id": newest.critique.rubric_id, "version": newest.critique.rubric_version},
            models=newest.provenance.models,
            generation={
                "operation": "import",
                "source": source,
                "sha256": sha256,
                "records": len(records),
                "checked": {
                    "world": f"{domain_name} {domain_version} world seed {world_seed}",
                    "rubric": f"{checked_rubric.id}@{checked_rubric.version}",
                    "programmatic": True,
                    "judged": judge,
                },
                "rejected": len(rejected),
            },
            operation="import",
        )
    if rejected:
        items = [_review_item(dataset.name, run_id, r) for r in rejected]
        result.review_file = dataset.write_review(run_id, items)
    return result


def unstated(record: Example) -> Example:
    """A record whose truth an SME stated, as a judged one: a file cannot bring in an SME's facts or expected calls
    that no world can re-check, so the record comes in awaiting an SME's sign-off, its answer judged again."""
    if record.truth != "sme":
        return record
    return record.model_copy(update={"truth": "judged", "facts": None, "expected_tool_calls": None})


def unreviewed(record: Example) -> Example:
    """The record without `provenance.review`."""
    if record.provenance.review is None:
        return record
    return record.model_copy(update={"provenance": record.provenance.model_copy(update={"review": None})})


def _judge(
    rechecks: list[Recheck], domain: Domain, world: World, rubric: Rubric, models: ModelSettings
) -> list[Recheck]:
    """The critic's full review (judged criteria too) of the records that passed the world's checks."""
    from simulation.roles import make_roles, prepare_models

    lineup = prepare_models(models, domain, SimSettings(seed=0, defect_rate=0.0))
    roles = make_roles(domain, world, rubric, lineup, "together")

    async def review(check: Recheck) -> None:
        record, case = check.record, check.case
        assert case is not None
        attempt, _ = await user_ending(roles.user, case, attempt_of(record))
        critique, _ = await roles.critic.review(
            category=case.category,
            request=task_request(record.prompt, case.history),
            attempt=attempt,
            **case.reference,
        )
        if not critique.passed:
            failed = [r for r in critique.criteria if not r.passed and r.counted]
            check.criteria += failed or [_below_threshold(critique)]

    async def all_of(checks: list[Recheck]) -> None:
        await asyncio.gather(*(review(check) for check in checks))

    asyncio.run(all_of([check for check in rechecks if check.ok]))
    return rechecks


def _below_threshold(critique: Critique) -> CriterionResult:
    """A critique that failed on its total score alone, as one result."""
    return CriterionResult(
        id="below_threshold",
        method="rubric",
        weight=0,
        required=False,
        score=critique.score,
        passed=False,
        rationale=f"the weighted score {critique.score:.2f} is below the rubric's pass threshold",
    )


def _review_item(dataset: str, run_id: str, rejected: Rejected) -> ReviewItem:
    record = rejected.record
    return ReviewItem(
        dataset=dataset,
        run_id=run_id,
        episode=rejected.line,
        case_key=record.case_key or f"example:{record.id}",
        category=record.category,
        difficulty=record.difficulty,
        status="rejected",
        reasons=rejected.reasons,
        prompt=record.prompt,
        attempts=[attempt_of(record)],
        error="; ".join(rejected.problems),
        created_at=utc_now(),
    )
