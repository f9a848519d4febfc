"""The batch runner: validates everything up front, schedules episodes with bounded concurrency, then
commits the accepted examples as one new dataset version and files the rest in the review queue."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import Field

from agents.critic import JudgeMode
from agents.settings import ModelSettings
from agents.simulated.model import SimSettings
from rubrics.model import load_rubric
from simulation.domains import get_domain
from simulation.episode import EpisodeResult, EpisodeSettings, run_episode
from simulation.roles import make_roles, new_run_id, prepare_models
from simulation.summary import RunSummary, summarise
from store.dataset import Dataset
from store.records import Strict

DEFAULT_WORLD_SEED = 1
RUBRICS_DIR = Path(__file__).resolve().parent.parent / "rubrics"


class RunConfig(Strict):
    """Everything a generation run needs; the CLI fills it, code and tests may build it directly."""

    domain: str = "kyc"
    dataset: str | None = None
    output_dir: str = "output"
    count: int = Field(20, ge=1)
    seed: int | None = None
    world_seed: int | None = None
    max_rounds: int = Field(3, ge=1)
    concurrency: int = Field(4, ge=1)
    rubric: Path | None = None
    models: ModelSettings = Field(default_factory=ModelSettings)
    sim_defect_rate: float = Field(0.3, ge=0, le=1)
    sim_latency_ms: int = Field(0, ge=0)
    judge_mode: JudgeMode = "together"
    run_id: str | None = None


class Run:
    """A prepared run: inputs validated, dataset bound, agents wired; no model has been called yet."""

    def __init__(self, config: RunConfig):
        self.config = config
        self.domain = get_domain(config.domain)
        rubric_path = config.rubric or RUBRICS_DIR / f"{config.domain}.yaml"
        self.rubric = load_rubric(rubric_path, domain=self.domain.name, categories=set(self.domain.categories))
        self.seed = config.seed if config.seed is not None else secrets.randbelow(2**31)
        self.run_id = config.run_id or new_run_id()
        sim = SimSettings(seed=self.seed, defect_rate=config.sim_defect_rate, latency_ms=config.sim_latency_ms)
        self.lineup = prepare_models(config.models, self.domain, sim)
        self.dataset = Dataset(config.output_dir, config.dataset or config.domain)
        info = self.dataset.bind(
            domain=self.domain.name,
            domain_version=self.domain.version,
            world_seed=config.world_seed,
            default_world_seed=DEFAULT_WORLD_SEED,
        )
        self.world = self.domain.build_world(info.world_seed)
        self.cases = self.domain.draw_cases(self.world, self.seed, config.count)
        self.roles = make_roles(self.domain, self.world, self.rubric, self.lineup, config.judge_mode)
        self.settings = EpisodeSettings(
            dataset=self.dataset.name,
            domain=self.domain.name,
            domain_version=self.domain.version,
            world_seed=info.world_seed,
            seed=self.seed,
            run_id=self.run_id,
            persona=self.domain.card.user_simulator.name,
            models=config.models.models.as_record(),
            max_rounds=config.max_rounds,
        )

    @property
    def budget_reached(self) -> bool:
        budget = self.config.models.budget_usd
        return budget is not None and self.lineup.meters.cost_usd() >= budget

    async def episodes(self, on_result: Callable[[EpisodeResult], None]) -> None:
        """Play every case, at most `concurrency` at a time, reporting each outcome as it lands. Once the
        budget is reached no new episode starts; those in flight finish."""
        gate = asyncio.Semaphore(self.config.concurrency)

        async def one(case):
            async with gate:
                if self.budget_reached:
                    return
                result = await run_episode(case, self.roles, self.settings)
            on_result(result)

        await asyncio.gather(*(one(case) for case in self.cases))

    def execute(self, on_result: Callable[[EpisodeResult], None] = lambda r: None) -> RunSummary:
        """Run all episodes, commit the accepted ones as a new version, file the review queue, save the summary."""
        started = time.monotonic()
        finished: list[EpisodeResult] = []

        def collect(result: EpisodeResult) -> None:
            finished.append(result)
            on_result(result)

        interrupted = False
        try:
            asyncio.run(self.episodes(collect))
        except KeyboardInterrupt:  # Ctrl-C: keep every finished episode, commit them below
            interrupted = True
        results = sorted(finished, key=lambda r: r.case.index)
        examples = [r.example for r in results if r.example is not None]
        generation = {
            "count": self.config.count,
            "seed": self.seed,
            "max_rounds": self.config.max_rounds,
            "concurrency": self.config.concurrency,
            "sim_defect_rate": self.config.sim_defect_rate,
            "sim_latency_ms": self.config.sim_latency_ms,
            "judge_mode": self.config.judge_mode,
            "inference": {role: i.model_dump(exclude_none=True) for role, i in self.config.models.inference.items()},
        }
        manifest, duplicates = (
            self.dataset.append(
                examples,
                run_id=self.run_id,
                rubric={"id": self.rubric.id, "version": self.rubric.version},
                models=self.settings.models,
                generation=generation,
            )
            if examples
            else (None, [])
        )
        review = self.dataset.write_review(
            self.run_id, [r.review_item(self.settings) for r in results if r.status != "accepted"]
        )
        summary = summarise(
            results,
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
            review_file=str(review) if review else None,
            planned=self.config.count,
            interrupted=interrupted,
            budget_usd=self.config.models.budget_usd,
            stopped_by_budget=self.budget_reached and len(results) < self.config.count,
            model_stats=self.lineup.meters.stats(),
        )
        self.dataset.write_run(self.run_id, summary.model_dump(mode="json"))
        return summary
