"""An evaluation: every golden of one dataset version against each candidate, scored with the dataset's rubric.

Each golden is replayed in the dataset's own world (its world seed; a domain whose version differs from the
dataset's is refused), its truth rebuilt from that world rather than read from the record. Results stream to
`OUT/results.jsonl` as they come; started again on the same OUT, an evaluation skips every (golden, candidate)
already there, so a crash loses nothing and scores nothing twice. `OUT/evaluation.json` says what OUT holds: a
second evaluation of another dataset, version, rubric or judge into it is refused.

The goldens are scored in this process, or by worker processes (`--workers N`) or Ray actors (`--executor ray`),
each rebuilding the candidates from the evaluation's `EvaluateJob`; OUT is written by this process only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from agents.batch import BatchAnswers, BatchStats
from agents.metering import Meters, ModelMeter, ModelStats, Spend, summed_by_model
from agents.providers import Lineup
from agents.ratelimit import RateLimiter
from agents.settings import ModelSettings, RoleModels
from agents.simulated.model import SimSettings
from config import InputError
from evaluation.candidates import Baseline, CandidateSpec, model_attempt, parse_spec
from evaluation.results import Answer, EvalResult, ResultsFile, read_results
from evaluation.scores import error_text, failed_result, score
from rubrics.model import Rubric, load_rubric
from simulation.coordinator import Limits
from simulation.domains import get_domain
from simulation.domains.base import Case, World
from simulation.roles import make_roles, prepare_models
from simulation.workers import Executor, ExecutorOptions, InProcess, Remote, pool, worker_lineup
from store.dataset import Dataset, parse_ref
from store.files import atomic_write
from store.records import Attempt, Example, content_id


class EvaluateConfig(ExecutorOptions):
    dataset: str = Field(description="NAME or NAME@vN")
    agents: list[str] = Field(min_length=1)
    out: Path
    output_dir: str = "output"
    judge: str | None = Field(None, description="the critic's model spec  [default: simulated]")
    rubric: Path | None = Field(None, description="[default: the rubric the dataset version was judged with]")
    models: ModelSettings = Field(default_factory=ModelSettings)
    limit: int | None = Field(None, ge=1)
    seed: int = 0
    runtime: str = "strands"
    judge_batch: bool = Field(False, description="judge as Bedrock batch inference jobs, after every answer")
    fallback: bool = Field(True, description="judge on demand what the batch did not")

    @model_validator(mode="after")
    def _batch_here(self) -> EvaluateConfig:
        if self.judge_batch and self.pooled:
            raise InputError("--judge-batch: answers and batch jobs run here; --workers / --executor ray have no part")
        return self


@dataclass(frozen=True)
class EvaluateJob:
    """What a worker needs to score an evaluation's (golden, candidate) pairs, from the evaluation itself."""

    config: EvaluateConfig
    domain: str  # the dataset's domain, by name
    world_seed: int
    rubric: Rubric
    judge: str
    baselines: dict[str, Baseline]  # by candidate spec

    def coordinator(self, limiters: dict[str, RateLimiter]) -> Limits:
        return Limits(limiters)

    def worker(self, remote: Remote) -> Scorer:
        return Scorer(self, remote)

    def lineup_settings(self, candidate: CandidateSpec) -> tuple[ModelSettings, SimSettings]:
        """The models of a candidate's roles: the user simulator, the candidate as task model, the judge."""
        models = self.config.models.models
        task = models.task if candidate.kind == "mcp" else candidate.model
        roles_models = RoleModels(user=models.user, task=task, critic=[self.judge])
        settings = self.config.models.model_copy(update={"models": roles_models})
        return settings, SimSettings(seed=self.config.seed, defect_rate=candidate.defect_rate)

    def lineup(self, candidate: CandidateSpec, domain: Any, remote: Remote | None = None) -> Lineup:
        """A candidate's models. In a worker (`remote`), they take their rate limits from the job, which checked
        them; in the job's own process, each real model is checked with one cheap call first."""
        settings, sim = self.lineup_settings(candidate)
        if remote is None:
            return prepare_models(settings, domain, sim, self.config.runtime)  # type: ignore[arg-type]
        return worker_lineup(settings, domain, sim, self.config.runtime, remote)


class Scorer:
    """Scores (golden, candidate) pairs: each candidate's roles built on first use (an MCP candidate's server open
    until `close`), each in its own lineup so a candidate's calls and cost are its own, all taking their permits
    from one rate limiter per model (`--rpm` / `--tpm` are per model, whichever candidate calls it). `remote`: a
    worker's."""

    def __init__(self, job: EvaluateJob, remote: Remote | None = None, world: World | None = None):
        self.job = job
        self.remote = remote
        self.domain = get_domain(job.domain)
        self.world = world or self.domain.build_world(job.world_seed)
        self.roles_of: dict[str, Any] = {}
        self.task_meters: dict[str, ModelMeter] = {}  # each candidate's task model, by the candidate's spec
        self.limiters: dict[str, RateLimiter] = {}  # by model spec: the first lineup's, for every lineup
        self.resources = contextlib.ExitStack()
        self.answered: dict[tuple[str, str], Answer] = {}  # with judge_batch: the answers, before their judging
        self.batch: BatchAnswers | None = None

    def roles(self, candidate: CandidateSpec) -> Any:
        """The user simulator, the candidate as task agent and the critic (the judge)."""
        if (roles := self.roles_of.get(candidate.spec)) is None:
            tools = None
            if candidate.kind == "mcp":
                from agents.mcp_tools import McpTools

                tools = self.resources.enter_context(McpTools(candidate.mcp_server, candidate.mcp_url))
            lineup = self.job.lineup(candidate, self.domain, self.remote)
            for spec, meter in lineup.meters.items():
                meter.limiter = self.limiters.setdefault(spec, meter.limiter)
            self.task_meters[candidate.spec] = lineup.task.meter
            roles = make_roles(self.domain, self.world, self.job.rubric, lineup, "together", tools=tools,
                               task_agent=candidate.factory)  # fmt: skip
            roles.critic.batch = self.batch
            self.roles_of[candidate.spec] = roles
        return roles

    async def attempt(self, golden: Example, case: Case, candidate: CandidateSpec) -> tuple[Attempt, Spend]:
        """The candidate's answer to the golden (a baseline's made-up one, or a model's own) and what it cost."""
        from simulation.truth import user_ending

        roles = self.roles(candidate)
        if (baseline := self.job.baselines.get(candidate.spec)) is not None:
            attempt, spend = baseline.attempt(golden, case), Spend()
            if candidate.baseline == "reference" or attempt.conversation:
                attempt, spend = await user_ending(roles.user, case, attempt)
            return attempt, spend
        return await model_attempt(roles, golden, case)

    async def evaluate(self, golden: Example, case: Case, candidate: CandidateSpec) -> EvalResult:
        self.roles(candidate)  # an MCP server that cannot be used stops the evaluation: it is no golden's failure
        started = time.perf_counter()
        spend = Spend()
        kept = self.answered.get((golden.id, candidate.spec))
        if kept is not None and kept.attempt is None:  # answered (with an error) before the batch
            spend = Spend(kept.tokens, kept.cost_usd)
            return failed_result(golden, case, candidate.spec, self.job.judge, kept.latency_s, kept.error or "", spend)
        try:
            if kept is not None:  # answered before the batch judged it
                attempt, spend, latency = kept.attempt, Spend(kept.tokens, kept.cost_usd), kept.latency_s
            else:
                attempt, spend = await self.attempt(golden, case, candidate)
                latency = time.perf_counter() - started
        except Exception as exc:  # one candidate failing one golden is a failed golden, not a failed evaluation
            exc = getattr(exc, "original_exception", None) or exc
            return failed_result(
                golden, case, candidate.spec, self.job.judge, time.perf_counter() - started, exc, spend
            )
        return await score(
            golden, case, attempt, self.roles(candidate).critic, candidate.spec, self.job.judge, latency, spend
        )

    def judge_with(self, batch: BatchAnswers) -> None:
        """Hand the batch's verdicts to every candidate's critic."""
        self.batch = batch
        for roles in self.roles_of.values():
            roles.critic.batch = batch

    async def run(self, item: tuple[Example, Case, CandidateSpec]) -> EvalResult:
        golden, case, candidate = item
        return await self.evaluate(golden, case, candidate)

    def usage(self) -> dict[str, ModelStats]:
        """The candidates' task models' usage since the last report, by model spec."""
        taken = Meters(self.task_meters).take()
        return summed_by_model((self.task_meters[candidate].spec, stats) for candidate, stats in taken.items())

    async def close(self) -> None:
        self.resources.close()


class Evaluation:
    """A prepared evaluation: goldens loaded, candidates parsed, what OUT already holds read; no model called."""

    def __init__(self, config: EvaluateConfig):
        self.config = config
        name, version = parse_ref(config.dataset)
        self.store = Dataset(config.output_dir, name)
        info = self.store.info()
        if info is None:
            raise InputError(f"no dataset '{name}' in {config.output_dir}")
        self.manifest = self.store.manifest(version)
        self.domain = get_domain(self.manifest.domain)
        if self.manifest.domain_version != self.domain.version:
            raise InputError(
                f"{name}@v{self.manifest.version}: made with {self.domain.name} domain version "
                f"{self.manifest.domain_version}; this Goldsmith has {self.domain.version}, whose world differs"
            )
        self.rubric = self._rubric()
        # a candidate is measured against stated truth: goldens whose facts or expected calls nobody stated (judged
        # seed examples, awaiting an SME) are left out, and counted
        goldens = list(self.store.records(self.manifest))
        self.goldens = [g for g in goldens if g.facts is not None and g.expected_tool_calls is not None][: config.limit]
        self.unstated = sum(g.facts is None or g.expected_tool_calls is None for g in goldens)
        self.candidates = [parse_spec(spec) for spec in dict.fromkeys(config.agents)]
        self.judge = config.judge or config.models.models.critic[0]
        baselines = {
            c.spec: Baseline(c, self.domain.finding_model, self.goldens) for c in self.candidates if c.baseline
        }
        self.job = EvaluateJob(config, self.domain.name, self.manifest.world_seed, self.rubric, self.judge, baselines)
        from simulation.truth import WorldChecker

        self.world = self.domain.build_world(self.manifest.world_seed)
        self.checker = WorldChecker(self.domain, self.world, self.rubric)
        self.meta = {
            "dataset": name,
            "version": self.manifest.version,
            "domain": self.domain.name,
            "world_seed": self.manifest.world_seed,
            "rubric": {"id": self.rubric.id, "version": self.rubric.version},
            "judge": self.judge,
            "runtime": config.runtime,
        }
        self._check_out()
        self.done = {r.key for r in read_results(self.results_path)}
        # with judge_batch: every pending answer first, kept here, then their judging as one batch
        self.answered: dict[tuple[str, str], Answer] = {}
        self.batch: BatchAnswers | None = None
        self.task_meters: dict[str, ModelMeter] = {}  # the candidates' task models (see `executor`)
        if config.judge_batch and not self.judge.startswith("bedrock:"):
            raise InputError(f"--judge-batch: batch inference is Bedrock's; the judge is {self.judge}")

    @property
    def results_path(self) -> Path:
        return self.config.out / "results.jsonl"

    def _rubric(self) -> Rubric:
        """The rubric the dataset version was judged with (kept beside the dataset), unless one is given."""
        if self.config.rubric is not None:
            return load_rubric(self.config.rubric, domain=self.domain.name, categories=set(self.domain.categories))
        kept = self.store.kept_rubric(self.manifest.rubric["version"])
        if kept is None:
            return load_rubric(self.domain.rubric_path, domain=self.domain.name,
                               categories=set(self.domain.categories))  # fmt: skip
        return Rubric.model_validate(kept)

    def _check_out(self) -> None:
        """OUT holds this evaluation or nothing yet; its description is written before any result."""
        described = self.config.out / "evaluation.json"
        if described.exists():
            held = json.loads(described.read_text(encoding="utf-8"))
            if {k: held.get(k) for k in self.meta} != self.meta:
                raise InputError(
                    f"{self.config.out}: holds an evaluation of {held.get('dataset')}@v{held.get('version')} "
                    f"(rubric {held.get('rubric', {}).get('version')}, judge {held.get('judge')}); give another --out"
                )
            self.meta["candidates"] = list(dict.fromkeys([*held.get("candidates", []), *self.specs]))
        else:
            self.meta["candidates"] = self.specs
        self.config.out.mkdir(parents=True, exist_ok=True)
        atomic_write(described, json.dumps(self.meta, indent=1).encode())

    @property
    def specs(self) -> list[str]:
        return [c.spec for c in self.candidates]

    @property
    def pending(self) -> int:
        return sum((g.id, c.spec) not in self.done for g in self.goldens for c in self.candidates)

    @property
    def answers_path(self) -> Path:
        return self.config.out / "answers.jsonl"

    def answer_all(self, on_answer: Callable[[bool], None] = lambda ok: None) -> None:
        """Every pending (golden, candidate) answered, nothing judged yet (for `judge_in_batch`). Each answer is
        kept in OUT/answers.jsonl as it comes, so an evaluation killed before its batch returned asks no candidate
        again: started again, it reads them back and submits the same requests (the same jobs)."""
        kept = read_results(self.answers_path, Answer)
        self.answered = {a.key: a for a in kept if a.key not in self.done}
        answers = ResultsFile(self.answers_path)
        scorer = Scorer(self.job, world=self.world)  # the answers' only: no judging yet

        async def answer(golden: Example, case: Case, candidate: CandidateSpec) -> None:
            started, spend = time.perf_counter(), Spend()
            try:
                attempt, spend = await scorer.attempt(golden, case, candidate)
                error = None
            except Exception as exc:  # scored as a failed golden, as on demand
                attempt, error = None, error_text(getattr(exc, "original_exception", None) or exc)
            latency = time.perf_counter() - started
            made = Answer(golden_id=golden.id, candidate=candidate.spec, attempt=attempt, error=error,
                          tokens=spend.tokens, cost_usd=spend.cost_usd, latency_s=latency)  # fmt: skip
            answers.append(made)
            self.answered[made.key] = made
            on_answer(error is None)

        try:
            asyncio.run(self._each_pending(self.done | set(self.answered), answer))
        finally:
            answers.close()
            asyncio.run(scorer.close())

    def judge_in_batch(self, on_progress: Callable[[int, int], None] = lambda done, total: None) -> BatchStats:
        """The kept answers' judge requests as Bedrock batch jobs (or the jobs this OUT submitted before), their
        verdicts handed to every candidate's critic; what the batch did not judge is judged on demand."""
        from agents.batch import BatchJudge, Journal
        from rubrics.judge import JudgeVerdict
        from store.storage import LocalStorage

        scorer = Scorer(self.job, world=self.world)
        critic = scorer.roles(self.candidates[0]).critic
        asyncio.run(scorer.close())
        requests = []
        goldens = {g.id: g for g in self.goldens}
        for answer in self.answered.values():
            if answer.attempt is None:
                continue
            golden = goldens[answer.golden_id]
            case = self._case(golden)
            requests += critic.requests(category=case.category, request=golden.prompt, attempt=answer.attempt,
                                        **case.reference)  # fmt: skip
        batch = BatchJudge.from_settings(
            self.config.models,
            JudgeVerdict,
            run_id="eval-" + content_id(self.meta["dataset"], self.meta["version"], self.meta["rubric"], self.judge),
            journal=Journal(LocalStorage(self.config.out), "batch-jobs.json"),
            fallback=self.config.fallback,
            on_progress=on_progress,
        )
        self.batch = batch.run(requests)
        return self.batch.stats

    def model_stats(self) -> dict[str, ModelStats]:
        """Calls, tokens and how structured output was obtained, per task model (candidates on one model summed;
        the time waited on its rate limiter, which they share, counted once)."""
        meters = list(self.task_meters.values())
        total = summed_by_model((meter.spec, meter.stats) for meter in meters)
        waited = {meter.spec: meter.snapshot().rate_limit_wait_s for meter in meters}
        return {spec: stats.model_copy(update={"rate_limit_wait_s": waited[spec]}) for spec, stats in total.items()}

    def executor(self) -> Executor:
        """Where the goldens are scored: a scorer in this process, or worker processes or Ray actors sharing the
        rate limits (each real model checked here first)."""
        if not self.config.pooled:
            scorer = Scorer(self.job, world=self.world)
            scorer.answered = self.answered
            if self.batch is not None:
                scorer.judge_with(self.batch)
            self.task_meters = scorer.task_meters
            return InProcess(scorer)
        lineups = [self.job.lineup(c, self.domain) for c in self.candidates]
        meters = Meters({spec: meter for lineup in reversed(lineups) for spec, meter in lineup.meters.items()})
        self.task_meters = {lineup.task.spec: meters[lineup.task.spec] for lineup in lineups}
        return pool(self.config, self.job, meters)

    def execute(self, on_result: Callable[[EvalResult], None] = lambda _: None) -> list[EvalResult]:
        """Score every pending (golden, candidate), appending each result as it comes; every result of OUT."""
        results = ResultsFile(self.results_path)
        try:
            asyncio.run(self._run(results, on_result))
        finally:
            results.close()
        return [r for r in read_results(self.results_path) if r.candidate in self.meta["candidates"]]

    async def _run(self, results: ResultsFile, on_result: Callable[[EvalResult], None]) -> None:
        async def scored(golden: Example, case: Case, candidate: CandidateSpec) -> None:
            result = await executor.run((golden, case, candidate))
            results.append(result)
            self.done.add(result.key)
            on_result(result)

        async with self.executor() as executor:
            await self._each_pending(set(self.done), scored)

    async def _each_pending(self, skip: set[tuple[str, str]], work: Callable[..., Awaitable[None]]) -> None:
        """`work(golden, case, candidate)` for every (golden, candidate) not in `skip`, candidate by candidate, at
        most `concurrency` at once."""
        cases = {g.id: self._case(g) for g in self.goldens}
        gate = asyncio.Semaphore(self.config.concurrency)

        async def one(golden: Example, candidate: CandidateSpec) -> None:
            async with gate:
                await work(golden, cases[golden.id], candidate)

        pending = [(g, c) for c in self.candidates for g in self.goldens if (g.id, c.spec) not in skip]
        await asyncio.gather(*(one(g, c) for g, c in pending))

    def _case(self, golden: Example):
        """The golden's case, rebuilt from the world (its truth is the world's, never the record's)."""
        case, missing = self.checker.case(golden)
        if case is None:
            raise InputError(f"{self.store.name}@v{self.manifest.version}: golden {golden.id}: {missing}")
        return case
