"""The batch runner: validates everything up front, schedules episodes with bounded concurrency and
checkpoints each one after every stage, then commits the accepted examples as one new dataset version
and files the rest in the review queue.

A run is resumable: its plan and checkpoints live beside the dataset (store/journal.py). Running again
with the same run id skips finished episodes, continues interrupted ones from their last stage, and
commits every accepted example exactly once, however often the run was killed.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import secrets
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from itertools import islice
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from agents.critic import JudgeMode
from agents.mcp_tools import McpTools
from agents.providers import Lineup
from agents.runtime import RuntimeName
from agents.settings import ModelSettings
from agents.simulated.model import SimSettings
from config import InputError, RunFailed
from rubrics.model import Rubric, load_rubric
from simulation.domains import Case, get_domain
from simulation.domains.base import Domain, World
from simulation.episode import Episode, EpisodeSettings, Roles, example_id
from simulation.plan import MAX_COUNT, new_plan, resume
from simulation.roles import make_roles, new_run_id, prepare_models
from simulation.seeds import seed_cases
from simulation.summary import RunSummary, Tally
from simulation.workers import EpisodeJob, Executor, ExecutorOptions, Local, pool
from store.dataset import Checked, CheckedRecords, Dataset, environment
from store.dedup import PromptIndex
from store.journal import RunJournal, RunLease
from store.records import Example
from store.streams import Spool

DEFAULT_WORLD_SEED = 1


class RunConfig(ExecutorOptions):
    """Everything a generation run needs; the CLI fills it, code and tests may build it directly."""

    domain: str = "kyc"
    dataset: str | None = None
    output_dir: str = "output"
    count: int = Field(20, ge=1, le=MAX_COUNT)
    seed: int | None = None
    world_seed: int | None = None
    max_rounds: int = Field(3, ge=1)
    rubric: Path | None = None
    base_version: int | None = Field(
        None, ge=0, description="the dataset version whose cases the run leaves out; set when the run starts"
    )
    models: ModelSettings = Field(default_factory=ModelSettings)
    sim_defect_rate: float = Field(0.3, ge=0, le=1)
    sim_latency_ms: int = Field(0, ge=0)
    sim_malformed_rate: float = Field(0, ge=0, le=1)
    sim_throttle_rate: float = Field(0, ge=0, le=1)
    judge_mode: JudgeMode = "together"
    runtime: RuntimeName = "strands"
    cases: Path | None = Field(None, description="a cases file of real requests (simulation/seeds.py)")
    paraphrase: bool = False  # the user simulator rewords each seed request instead of sending it as written
    task_agent: str | None = None  # package.module:factory
    mcp_server: str | None = None  # "command args", over stdio
    mcp_url: str | None = None  # streamable HTTP
    run_id: str | None = None

    @model_validator(mode="after")
    def _compatible(self) -> RunConfig:
        if self.cases is not None and not Path(self.cases).is_file():
            raise InputError(f"--cases {self.cases}: no such file")
        if self.paraphrase and self.cases is None:
            raise InputError("--paraphrase: rewords the requests of a cases file; give --cases FILE too")
        if self.mcp_server and self.mcp_url:
            raise InputError("--mcp-server / --mcp-url: give one or the other")
        if self.runtime == "crewai":
            limits = [self.models.default_limit, *self.models.limits.values()]
            if any(limit.rpm or limit.tpm for limit in limits):
                raise InputError(
                    "--rpm / --tpm (or goldsmith.yaml limits): client-side rate limits apply on the strands runtime "
                    "only; on crewai, CrewAI retries throttled calls itself"
                )
            for name in ("sim_malformed_rate", "sim_throttle_rate"):
                if getattr(self, name):
                    raise InputError(
                        f"--{name.replace('_', '-')}: simulated only on the strands runtime (the simulated CrewAI "
                        "LLM leaves validation retries and throttling to CrewAI)"
                    )
        return self


def sim_settings(config: RunConfig, seed: int) -> SimSettings:
    """The simulated models' knobs for a run with seed `seed`."""
    return SimSettings(
        seed=seed,
        defect_rate=config.sim_defect_rate,
        latency_ms=config.sim_latency_ms,
        malformed_rate=config.sim_malformed_rate,
        throttle_rate=config.sim_throttle_rate,
    )


def build_roles(
    config: RunConfig, domain: Domain, world: World, rubric: Rubric, lineup: Lineup, resources: ExitStack
) -> Roles:
    """The three roles, the task agent with the MCP server's tools (held open by `resources`) or replaced by the
    user's own."""
    tools = None
    if config.mcp_server or config.mcp_url:
        tools = resources.enter_context(McpTools(config.mcp_server, config.mcp_url))
    return make_roles(domain, world, rubric, lineup, config.judge_mode, tools=tools, task_agent=config.task_agent)


def prompt_index(dataset: Dataset, screened: list[tuple[str, str]]) -> PromptIndex:
    """The prompts a new request must not repeat: the dataset's latest version's (read lazily from its index), and
    the `(key, prompt)` requests the run screened in before it was resumed."""
    index = dataset.prompt_index(dataset.latest())
    for key, prompt in screened:
        index.add(key, prompt)
    return index


class Run:
    """A prepared run: inputs validated, dataset bound, agents wired; no model has been called yet.

    `explicit` names the options the user gave (the CLI knows), checked against the plan when resuming."""

    def __init__(self, config: RunConfig, explicit: set[str] = frozenset()):
        self.run_id = config.run_id or new_run_id()
        self.domain_source = config.domain  # for worker processes: a pack's directory is imported from there too
        # the invocation's --domain may be a pack directory; from here on the run knows the pack by its name only,
        # so a plan (data in the output location) never names a path to import code from
        config = config.model_copy(update={"domain": get_domain(config.domain, paths=True).name})
        self.dataset = Dataset(config.output_dir, config.dataset or config.domain)
        self.journal = RunJournal(self.dataset, self.run_id)
        self.lease = RunLease(self.dataset, self.run_id)
        if holder := self.lease.holder():  # checked again when taken; here, before any model is called
            raise InputError(f"run {self.run_id} is being run by {holder}; wait for it to finish, or stop it first")
        plan = self.journal.plan()
        self.resumed = plan is not None
        if plan is not None:
            config = resume(self.journal.where, self.run_id, plan, config, explicit)
        self.config = config
        self.domain = get_domain(config.domain)
        rubric_path = config.rubric or self.domain.rubric_path
        self.rubric = load_rubric(rubric_path, domain=self.domain.name, categories=set(self.domain.categories))
        rubric_sha256 = hashlib.sha256(Path(rubric_path).read_bytes()).hexdigest()
        if plan is not None and plan.get("rubric_sha256") != rubric_sha256:
            raise InputError(
                f"{rubric_path}: not the rubric run {self.run_id} started with (changed, or another file); a "
                "resumed run judges with the rubric it started with (give that --rubric, or start a new run)"
            )
        self.seed = config.seed if config.seed is not None else secrets.randbelow(2**31)
        sim = sim_settings(config, self.seed)
        self.dataset.storage.check_writable(self.dataset.name)  # a read-only store fails now, before any paid call
        self.lineup = prepare_models(config.models, self.domain, sim, config.runtime)
        known = self.dataset.info()
        world_seed = known.world_seed if known else config.world_seed
        self.world = self.domain.build_world(DEFAULT_WORLD_SEED if world_seed is None else world_seed)
        self.seeds: list[Case] | None = None  # a seeded run's cases, from the cases file the invocation names
        if config.cases is not None:
            self.seeds, self.seeds_sha256 = seed_cases(
                config.cases, self.domain, self.world, paraphrase=config.paraphrase
            )
            if not self.resumed and "count" not in explicit:
                config = self.config = config.model_copy(update={"count": min(len(self.seeds), MAX_COUNT)})
        self.resources = ExitStack()  # held open until the run ends: an MCP server
        try:
            self.roles = build_roles(config, self.domain, self.world, self.rubric, self.lineup, self.resources)
            self._start(config, rubric_sha256)
        except BaseException:
            self.close()
            raise
        self.playing_since: float | None = None  # when the first episode could start (workers ready)
        self.draining = False  # Ctrl-C once: no new episodes, finish those in flight, commit
        self.world_exhausted = False  # the draw ended before `count`: no distinct case left for this dataset

    def _start(self, config: RunConfig, rubric_sha256: str) -> None:
        """Bind the dataset (the first write), save the run's plan, load its checkpoints."""
        info = self.dataset.bind(
            domain=self.domain.name,
            domain_version=self.domain.version,
            world_seed=config.world_seed,
            default_world_seed=DEFAULT_WORLD_SEED,
        )
        assert info.world_seed == self.world.world_seed
        self.lease.acquire()
        environment()  # where the version is made, taken now rather than between the last episode and the commit
        if config.base_version is None:  # a new run: it draws cases the dataset does not hold yet
            latest = self.dataset.latest()
            config = self.config = config.model_copy(update={"base_version": latest.version if latest else 0})
        base = self.dataset.manifest(config.base_version) if config.base_version else None
        self.case_keys = self.domain.case_keys(self.world)  # by category
        drawable = set().union(*self.case_keys.values(), (c.key for c in self.seeds or ()))
        self.exclude = self.dataset.held_case_keys(base, drawable)  # index lookups, not the whole dataset
        models = config.models.models.as_record()
        if config.task_agent:
            models["task_agent"] = config.task_agent
        self.settings = EpisodeSettings(
            dataset=self.dataset.name,
            domain=self.domain.name,
            domain_version=self.domain.version,
            world_seed=info.world_seed,
            seed=self.seed,
            run_id=self.run_id,
            persona=self.domain.card.user_simulator.name,
            models=models,
            max_rounds=config.max_rounds,
            runtime=config.runtime,
        )
        self.journal.start(new_plan(self.run_id, config.model_copy(update={"seed": self.seed}), rubric_sha256))
        self.checkpoints = self.journal.load(Episode)
        drawn = self.cases(max(self.checkpoints, default=-1) + 1)
        for case in drawn:  # a checkpoint's case is data: it must be the case the run draws, to the last fact
            episode = self.checkpoints.get(case.index)
            if episode is not None and episode.case != case:
                raise InputError(f"run {self.run_id}: checkpoint of episode {case.index} does not match the run's plan")
        if self.checkpoints and max(self.checkpoints) >= config.count:
            raise InputError(f"run {self.run_id}: has checkpoints beyond its {config.count} episodes")
        # what the run keeps of a finished episode is what its commit needs: the checkpoints hold the rest
        self.outcomes = Outcomes(
            self.settings,
            Tally(
                category_mix=None if self.seeds is not None else self.domain.card.category_mix,
                adversarial={c for c, kind in self.domain.categories.items() if kind == "adversarial"},
                action_names=self.domain.action_names,
            ),
        )
        self.resumed_episodes = len(self.checkpoints)
        self.screened_before = [  # requests earlier attempts screened in, for this run's prompt index
            (example_id(self.settings, e.prompt), e.prompt)
            for e in self.checkpoints.values()
            if e.prompt is not None and e.reasons[:1] not in (["duplicate"], ["near_duplicate"])
        ]
        for index in sorted(self.checkpoints):
            if self.checkpoints[index].finished:
                self.outcomes.add(self.checkpoints.pop(index))
        self.finished_before = Counter(self.outcomes.tally.statuses)  # by status

    def cases(self, count: int | None = None) -> Iterator[Case]:
        """The run's cases, drawn one at a time as the run goes (a long run starts at once); a seeded run's, in
        the cases file's order, leaving out those the dataset holds."""
        if self.seeds is not None:
            fresh = (c for c in self.seeds if c.key not in self.exclude)
            cases = (c.model_copy(update={"index": i}) for i, c in enumerate(fresh))
        else:
            cases = self.domain.iter_cases(self.world, self.seed, self.exclude)
        return islice(cases, self.config.count if count is None else count)

    def seeded(self, examples: Iterable[Example]) -> dict[str, Any]:
        """A seeded run's lineage for its version: the cases file, and how many examples await an SME's sign-off
        (`examples` are read only for a seeded run, once)."""
        if self.config.cases is None:
            return {}
        truth: Counter[str] = Counter()
        unreviewed = 0
        for example in examples:
            truth[example.truth] += 1
            unreviewed += example.needs_sign_off
        return {
            "cases": {
                "file": Path(self.config.cases).name,
                "sha256": self.seeds_sha256,
                "paraphrase": self.config.paraphrase,
                "truth": dict(truth),
                "unreviewed": unreviewed,
            }
        }

    def close(self) -> None:
        """Stop what the run holds open (an MCP server) and give up its lease."""
        try:
            self.resources.close()
        finally:
            self.lease.release()

    def cases_left(self) -> dict[str, int]:
        """Per category, the distinct cases of the world that the dataset does not hold yet."""
        keys = self.case_keys
        held = self.dataset.held_case_keys(self.dataset.latest(), set().union(*keys.values()))
        return {category: len(keys.get(category, set()) - held) for category in sorted(self.domain.categories)}

    @property
    def budget_reached(self) -> bool:
        budget = self.config.models.budget_usd
        return budget is not None and self.lineup.meters.cost_usd() >= budget

    def executor(self) -> Executor:
        """Where the episodes are played: this process, `workers` processes, or Ray actors; all share one
        coordinator (screening in case order, rate limits) and add their usage to this run's meters."""
        job = EpisodeJob(self.config, self.domain_source, self.settings, self.rubric, self.screened_before)
        if self.config.pooled:
            return pool(self.config, job, self.lineup.meters)
        return Local(self.roles, self.settings, self.journal, job.coordinator(self.lineup.meters.limiters()))

    async def episodes(self, on_result: Callable[[Episode], None]) -> None:
        """Play the run's unfinished episodes, drawing each case as a slot frees up (at most `concurrency` in
        flight), checkpointing every stage and reporting each outcome as it lands. No new episode starts once the
        run is draining (Ctrl-C, SIGTERM) or the budget is reached; those in flight finish. A second Ctrl-C
        cancels them (their checkpoints stay)."""
        gate = asyncio.Semaphore(self.config.concurrency)
        loop = asyncio.get_running_loop()
        live: set[asyncio.Task] = set()

        async def one(episode: Episode) -> None:
            try:
                result = await executor.run(episode)
            finally:
                executor.release(episode.case.index)  # failed before screening: don't hold up the next
                gate.release()
            on_result(result)

        def interrupt() -> None:
            if self.draining:
                for task in list(live):
                    task.cancel()
            self.draining = True

        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, interrupt)
        drawn = 0
        try:
            async with self.executor() as executor:  # on leaving: every checkpoint written
                self.playing_since = time.monotonic()  # workers started: what follows is throughput
                for case in self.cases():
                    drawn += 1
                    if case.index in self.outcomes:  # finished before this process started
                        executor.release(case.index)
                        continue
                    episode = self.checkpoints.pop(case.index, None) or Episode(case=case)
                    if episode.prompt is not None:
                        executor.release(case.index)
                    await gate.acquire()
                    if self.draining or self.budget_reached:
                        gate.release()
                        break
                    task = asyncio.create_task(one(episode))
                    live.add(task)
                    task.add_done_callback(live.discard)
                    await asyncio.sleep(0)  # the episode starts now, not after the next case is drawn
                await asyncio.gather(*list(live))
            self.world_exhausted = drawn < self.config.count and not (self.draining or self.budget_reached)
            self.world_exhausted &= self.seeds is None  # a seeded run plays its file's requests, however many
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)

    def execute(self, on_result: Callable[[Episode], None] = lambda r: None) -> RunSummary:
        """Run the episodes not finished yet, commit the accepted ones not committed yet as a new version,
        file the review queue, save the summary."""
        started = time.monotonic()

        def collect(result: Episode) -> None:
            self.outcomes.add(result)  # what the commit needs; the episode itself is not kept
            on_result(result)

        # What exists now (the world, the agents, imported code) lives as long as the run: frozen, the garbage
        # collector stops walking it at every full collection (hundreds of ms each, stalling every episode)
        freezing = gc.get_freeze_count() == 0  # not when someone else froze objects: their unfreeze is theirs
        if freezing:
            gc.freeze()
        try:
            try:
                asyncio.run(self.episodes(collect))
            except asyncio.CancelledError:
                raise RunFailed(
                    f"stopped: {len(self.outcomes)} of {self.config.count} episodes finished, nothing committed; "
                    f"resume with --run-id {self.run_id}"
                ) from None
            finally:
                self.resources.close()
            return self._commit(started)
        finally:
            if freezing:
                gc.unfreeze()
            self.outcomes.close()
            self.lease.release()

    def _commit(self, started: float) -> RunSummary:
        """Commit the accepted examples not committed yet, file the review queue, save the summary."""
        if not self.lease.held():
            raise RunFailed(
                f"run {self.run_id} was taken over by another process while this one ran (its lease expired); "
                "nothing was committed by this process"
            )
        outcomes = self.outcomes
        committed = self.dataset.committed_by(self.run_id)

        def uncommitted() -> Iterator[Checked]:
            """The accepted examples not committed yet, in case order."""
            return (record for record in outcomes.examples if record.id not in committed)

        pending = sum(1 for _ in uncommitted()) if committed else len(outcomes.examples)
        generation = {
            "count": self.config.count,
            "seed": self.seed,
            "max_rounds": self.config.max_rounds,
            "concurrency": self.config.concurrency,
            "sim_defect_rate": self.config.sim_defect_rate,
            "sim_latency_ms": self.config.sim_latency_ms,
            "judge_mode": self.config.judge_mode,
            "inference": {role: i.model_dump(exclude_none=True) for role, i in self.config.models.inference.items()},
            **self.seeded(Example.model_validate_json(record.line) for record in uncommitted()),
        }
        self.dataset.keep_rubric(self.rubric.version, self.rubric.snapshot())
        manifest, duplicates = (
            self.dataset.append(
                (record.line for record in uncommitted()) if committed else outcomes.examples,  # lines: checked again
                run_id=self.run_id,
                rubric={"id": self.rubric.id, "version": self.rubric.version},
                models=self.settings.models,
                generation=generation,
            )
            if pending
            else (None, [])
        )
        review = self.dataset.write_review(self.run_id, outcomes.review.items())
        tally = outcomes.tally
        summary = tally.summary(
            added=manifest.added if manifest else 0,
            duplicates=len(duplicates),
            wall_time_s=time.monotonic() - started,
            run_id=self.run_id,
            dataset=self.dataset.name,
            domain=self.domain.name,
            version=manifest.version if manifest else None,
            seed=self.seed,
            world_seed=self.settings.world_seed,
            models=self.settings.models,
            review_file=review,
            planned=self.config.count,
            resumed=self.resumed_episodes,
            committed_before=len(committed),
            interrupted=self.draining,
            world_exhausted=self.world_exhausted,
            cases_left={} if self.seeds is not None else self.cases_left(),
            output_dir=self.config.output_dir,
            budget_usd=self.config.models.budget_usd,
            stopped_by_budget=self.budget_reached and tally.episodes < self.config.count,
            model_stats=self.lineup.meters.stats(),
        )
        self.dataset.write_run(self.run_id, summary.model_dump(mode="json"))
        return summary


class Outcomes:
    """What a run keeps of each finished episode for its commit, once the episode is dropped: the accepted
    example's JSON line, the review item's (an episode that produced no example), and the summary's tally."""

    def __init__(self, settings: EpisodeSettings, tally: Tally):
        self.settings = settings
        self.tally = tally
        self.examples = CheckedRecords()  # each checked as it lands: the commit only writes
        self.review = Spool()
        self.finished: set[int] = set()  # episode indices

    def __len__(self) -> int:
        return len(self.finished)

    def __contains__(self, index: int) -> bool:
        return index in self.finished

    def add(self, episode: Episode) -> None:
        """Take what the commit needs from a finished episode."""
        index = episode.case.index
        if index in self.finished:  # an episode finishes once; a second report of it changes nothing
            return
        self.finished.add(index)
        self.tally.add(episode)
        if episode.example is not None:
            self.examples.put(index, episode.example)
        if episode.status != "accepted":
            self.review.put(index, episode.review_item(self.settings).model_dump_json().encode())

    def close(self) -> None:
        self.examples.close()
        self.review.close()
