"""Re-validation: re-judge every example of a dataset's latest version against an (edited) rubric,
without re-running the user simulator or the task agent, and commit the result as a new version.

Examples that still pass are kept with their new critique. Failing ones leave the dataset for the
review queue, or with `repair` go back through the task agent's revise loop first. A multi-turn example is
judged on its whole conversation and the state its actions left; its repair plays the conversation again from
the same opening with the critic's feedback (simulation/conversation.py), as a revision in `generate` does.

The examples are judged in this process, or by worker processes (`--workers N`) or Ray actors (`--executor ray`),
each rebuilding the judging from the job (`RevalidateJob`); the commit is this process's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from agents.batch import BatchJudge, BatchStats, Journal, JudgeRequest
from agents.critic import JudgeMode
from agents.metering import ModelStats, Spend
from agents.providers import Lineup
from agents.ratelimit import RateLimiter
from agents.settings import ModelSettings
from agents.simulated.model import SimSettings
from config import InputError, RunFailed
from rubrics.judge import JudgeVerdict
from rubrics.model import Rubric, load_rubric
from simulation.conversation import converse
from simulation.coordinator import Limits
from simulation.domains import get_domain
from simulation.domains.base import Domain
from simulation.episode import answer_fields, task_request
from simulation.roles import make_roles, new_run_id, prepare_models
from simulation.truth import WorldChecker, attempt_of, user_ending
from simulation.workers import Executor, ExecutorOptions, InProcess, Remote, pool, worker_lineup
from store.dataset import Dataset
from store.records import Attempt, Critique, Example, ReviewItem, Strict, TokenUsage, utc_now

NO_DEFECTS = SimSettings(seed=0, defect_rate=0.0)  # a simulated task model's repairs plant no defects


class RevalidateConfig(ExecutorOptions):
    dataset: str
    rubric: Path
    output_dir: str = "output"
    repair: bool = False
    max_rounds: int = Field(3, ge=1, description="revise rounds per failing example when repairing")
    models: ModelSettings = Field(default_factory=ModelSettings)
    judge_mode: JudgeMode = "together"
    run_id: str | None = None
    judge_batch: bool = Field(False, description="judge as Bedrock batch inference jobs (the first round)")
    fallback: bool = Field(True, description="judge on demand what the batch did not")

    @model_validator(mode="after")
    def _batch_here(self) -> RevalidateConfig:
        if self.judge_batch and self.pooled:
            raise InputError("--judge-batch: the batch jobs do the judging; --workers / --executor ray have no part")
        return self


class CriterionChange(Strict):
    failed: int = 0
    repaired: int = 0
    removed: int = 0


class RevalidationSummary(Strict):
    run_id: str
    dataset: str
    rubric_id: str
    rubric_version: str
    from_version: int
    version: int
    examples: int
    kept: int
    repaired: int
    removed: int
    by_criterion: dict[str, CriterionChange]
    tokens: TokenUsage
    cost_usd: float = 0.0
    wall_time_s: float
    review_file: str | None = None
    batch: BatchStats | None = Field(None, description="the batch jobs; `tokens` and `cost_usd` are on demand")


@dataclass
class Prepared:
    """A record ready to be judged: its case, its attempt and the judging context, and what getting there cost."""

    case: Any
    attempt: Attempt
    context: dict[str, Any]
    spend: Spend


@dataclass
class Outcome:
    record: Example
    status: Literal["kept", "repaired", "removed", "failed"]
    failed_criteria: list[str]
    spend: Spend
    example: Example | None = None
    review: ReviewItem | None = None
    error: str | None = None


@dataclass(frozen=True)
class RevalidateJob:
    """What a worker needs to re-judge a re-validation's examples: its settings, validated by the job itself."""

    config: RevalidateConfig
    domain: str  # the dataset's domain, by name
    world_seed: int
    rubric: Rubric
    run_id: str

    def coordinator(self, limiters: dict[str, RateLimiter]) -> Limits:
        return Limits(limiters)

    def worker(self, remote: Remote) -> Rejudge:
        domain = get_domain(self.domain)
        return Rejudge(self, domain, worker_lineup(self.config.models, domain, NO_DEFECTS, "strands", remote))


class Rejudge:
    """Re-judges one example at a time against the rubric, the truth coming from its world (the worker of a
    re-validation, in its own process or in another)."""

    def __init__(self, job: RevalidateJob, domain: Domain, lineup: Lineup):
        self.job = job
        self.lineup = lineup
        world = domain.build_world(job.world_seed)
        self.roles = make_roles(domain, world, job.rubric, lineup, job.config.judge_mode)
        self.world_check = WorldChecker(domain, world, job.rubric)
        self._prepared: dict[str, Prepared | Outcome] = {}

    async def run(self, record: Example) -> Outcome:
        """The record's outcome; one that could not be judged (a model error) is "failed", reported by the job."""
        try:
            return await self.judge(record)
        except Exception as exc:
            return Outcome(record, "failed", [], Spend(), error=f"{type(exc).__name__}: {exc}")

    def usage(self) -> dict[str, ModelStats]:
        return self.lineup.meters.take()

    async def close(self) -> None:
        pass

    async def prepare(self, record: Example) -> Prepared | Outcome:
        """What judging a record starts from: its case rebuilt from the world and its attempt, the ending of a
        multi-turn one heard again from the user simulator (once per record, kept for the judging that follows);
        or, for a record the world contradicts, its removal."""
        if (held := self._prepared.get(record.id)) is not None:
            return held
        attempt = attempt_of(record)
        claims = self.world_check.claims(record)
        if claims.case is None or claims.claims:
            review = self._review(record, [attempt], [], ["truth"], error="; ".join(claims.problems))
            return Outcome(record, "removed", ["truth"], Spend(), review=review)
        attempt, spend = await user_ending(self.roles.user, claims.case, attempt)
        request = task_request(record.prompt, claims.case.history)
        context = {"category": record.category, "request": request, **claims.case.reference}
        self._prepared[record.id] = prepared = Prepared(claims.case, attempt, context, spend)
        return prepared

    async def judge(self, record: Example) -> Outcome:
        """Re-judge one stored example against the truth its world gives (never the record's own); repair it if
        asked and needed. A record whose claims the world contradicts is removed, not repaired. A multi-turn
        example is judged on its conversation, its ending heard again from the user simulator."""
        prepared = await self.prepare(record)
        if isinstance(prepared, Outcome):
            return prepared
        case, attempt, context, spend = prepared.case, prepared.attempt, prepared.context, prepared.spend
        critique, used = await self.roles.critic.review(attempt=attempt, **context)
        spend += used
        failed = critique.failed_criteria()
        if critique.passed:
            return Outcome(record, "kept", failed, spend, example=record.model_copy(update={"critique": critique}))
        attempts, critiques = [attempt], [critique]
        for _ in range(self.job.config.max_rounds if self.job.config.repair else 0):
            if case.scenario is not None:  # the whole conversation again, the user simulator answering
                revised, used = await converse(
                    case, record.prompt, self.roles, attempts[-1].round + 1, attempts[-1], critiques[-1].feedback
                )
            else:
                revised, used = await self.roles.task.attempt(
                    task_request(record.prompt, case.history),
                    attempts[-1].round + 1,
                    previous=attempts[-1],
                    feedback=critiques[-1].feedback,
                    unnecessary=critiques[-1].unnecessary_tools(),
                )
            spend += used
            critique, used = await self.roles.critic.review(
                attempt=revised, previous=(attempts[-1], critiques[-1]), **context
            )
            spend += used
            attempts.append(revised)
            critiques.append(critique)
            if critique.passed:
                fields = answer_fields(record.prompt, revised, case.history)
                repaired = record.model_copy(update={**fields, "critique": critique})
                return Outcome(record, "repaired", failed, spend, example=repaired)
        review = self._review(record, attempts, critiques, critiques[-1].failed_criteria())
        return Outcome(record, "removed", failed, spend, review=review)

    def _review(
        self,
        record: Example,
        attempts: list[Attempt],
        critiques: list[Critique],
        reasons: list[str],
        error: str | None = None,
    ) -> ReviewItem:
        return ReviewItem(
            dataset=self.job.config.dataset,
            run_id=self.job.run_id,
            episode=record.provenance.episode,
            case_key=record.case_key or f"example:{record.id}",
            category=record.category,
            difficulty=record.difficulty,
            status="rejected",
            reasons=reasons,
            prompt=record.prompt,
            attempts=attempts,
            critiques=critiques,
            error=error,
            created_at=utc_now(),
        )


class Revalidation:
    """A prepared re-validation of a dataset's latest version; no model has been called yet."""

    def __init__(self, config: RevalidateConfig):
        self.config = config
        self.dataset = Dataset(config.output_dir, config.dataset)
        info = self.dataset.info()
        if info is None:
            raise InputError(f"no dataset '{config.dataset}' in {config.output_dir}")
        self.source = self.dataset.manifest()
        domain = get_domain(info.domain)
        self.rubric = load_rubric(config.rubric, domain=domain.name, categories=set(domain.categories))
        self.dataset.storage.check_writable(self.dataset.name)  # a read-only store fails now, before any paid call
        self.lineup = prepare_models(config.models, domain, NO_DEFECTS)
        self.run_id = config.run_id or new_run_id()
        self.job = RevalidateJob(config, domain.name, info.world_seed, self.rubric, self.run_id)
        self.rejudge = Rejudge(self.job, domain, self.lineup)
        self.roles = self.rejudge.roles
        self._records: list[Example] | None = None
        if config.judge_batch:
            bad = [spec for spec in config.models.models.critic if not spec.startswith("bedrock:")]
            if bad:
                raise InputError(f"--judge-batch: batch inference is Bedrock's; the critic is {', '.join(bad)}")

    def executor(self) -> Executor:
        """Where the examples are judged: this process, worker processes or Ray actors, sharing the rate limits."""
        if not self.config.pooled:
            return InProcess(self.rejudge)
        return pool(self.config, self.job, self.lineup.meters)

    async def _all(self, records: list[Example], on_result: Callable[[Outcome], None]) -> list[Outcome]:
        gate = asyncio.Semaphore(self.config.concurrency)

        async def one(record: Example) -> Outcome:
            async with gate:
                outcome = await executor.run(record)  # failed ones are reported below; nothing is committed
            on_result(outcome)
            return outcome

        async with self.executor() as executor:
            return list(await asyncio.gather(*(one(r) for r in records)))

    async def _requests(self, records: list[Example]) -> list[JudgeRequest]:
        """Every first-round judge request of the records (for a batch), nothing judged yet."""
        requests: list[JudgeRequest] = []
        for record in records:
            prepared = await self.rejudge.prepare(record)
            if isinstance(prepared, Prepared):
                requests += self.roles.critic.requests(attempt=prepared.attempt, **prepared.context)
        return requests

    def judge_in_batch(self, on_progress: Callable[[int, int], None] = lambda done, total: None) -> BatchStats:
        """Submit the first-round judge requests as Bedrock batch jobs (or pick up this run's jobs), wait for
        them, and hand their verdicts to the critic; what the batch did not judge is judged on demand."""
        records = self.records()
        batch = BatchJudge.from_settings(
            self.config.models,
            JudgeVerdict,
            run_id=self.run_id,
            journal=Journal(self.dataset.storage, self.dataset.key("runs", self.run_id, "batch-jobs.json")),
            fallback=self.config.fallback,
            on_progress=on_progress,
        )
        answers = batch.run(asyncio.run(self._requests(records)))
        self.roles.critic.batch = answers
        return answers.stats

    def records(self) -> list[Example]:
        """The examples of the version being re-validated (read once)."""
        if self._records is None:
            self._records = list(self.dataset.records(self.source))
        return self._records

    def execute(self, on_result: Callable[[Outcome], None] = lambda o: None) -> RevalidationSummary:
        """Re-judge everything (with `judge_batch`, the batch first, unless `judge_in_batch` ran already), then
        commit one new version (or nothing, if any example could not be judged)."""
        started = time.monotonic()
        records = self.records()
        if self.config.judge_batch and self.roles.critic.batch is None:
            self.judge_in_batch()
        batch = self.roles.critic.batch.stats if self.roles.critic.batch else None
        outcomes = asyncio.run(self._all(records, on_result))
        errors = [o for o in outcomes if o.status == "failed"]
        if errors:
            raise RunFailed(
                f"{len(errors)} of {len(outcomes)} examples could not be judged (first: {errors[0].error}); "
                "nothing was written"
            )
        removed = [o for o in outcomes if o.status == "removed"]
        self.dataset.keep_rubric(self.rubric.version, self.rubric.snapshot())
        manifest = self.dataset.replace(
            [o.example for o in outcomes if o.example is not None],
            based_on=self.source,
            removed=len(removed),
            run_id=self.run_id,
            rubric={"id": self.rubric.id, "version": self.rubric.version},
            models=self.config.models.models.as_record(),
            generation={
                "operation": "revalidate",
                "source_version": self.source.version,
                "repair": self.config.repair,
                "max_rounds": self.config.max_rounds,
                "judge_mode": self.config.judge_mode,
                **({"judge_batch": True} if self.config.judge_batch else {}),
            },
        )
        review = self.dataset.write_review(self.run_id, [o.review for o in removed if o.review])
        by_criterion: dict[str, CriterionChange] = {}
        spend = Spend()
        for outcome in outcomes:
            spend += outcome.spend
            for criterion in outcome.failed_criteria:
                change = by_criterion.setdefault(criterion, CriterionChange())
                change.failed += 1
                change.repaired += outcome.status == "repaired"
                change.removed += outcome.status == "removed"
        summary = RevalidationSummary(
            run_id=self.run_id,
            dataset=self.dataset.name,
            rubric_id=self.rubric.id,
            rubric_version=self.rubric.version,
            from_version=self.source.version,
            version=manifest.version,
            examples=len(outcomes),
            kept=sum(o.status == "kept" for o in outcomes),
            repaired=sum(o.status == "repaired" for o in outcomes),
            removed=len(removed),
            by_criterion=dict(sorted(by_criterion.items())),
            tokens=spend.tokens,
            cost_usd=round(spend.cost_usd, 6),
            wall_time_s=round(time.monotonic() - started, 2),
            review_file=str(review) if review else None,
            batch=batch,
        )
        self.dataset.write_run(self.run_id, summary.model_dump(mode="json"))
        return summary
