"""Wiring the three roles for a domain, its world, a rubric and the models in the lineup."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from agents.critic import Critic, JudgeMode
from agents.preflight import preflight
from agents.providers import Lineup, build_lineup
from agents.settings import ModelSettings
from agents.simulated.model import SimSettings
from agents.task_agent import TaskAgent
from agents.user_simulator import UserSimulator
from rubrics.model import Rubric
from simulation.domains.base import Domain, World
from simulation.episode import Roles


def new_run_id() -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


def prepare_models(settings: ModelSettings, domain: Domain, sim: SimSettings) -> Lineup:
    """The models for every role, each real one checked with one cheap call; any problem is an InputError
    raised before anything is written or any episode starts."""
    lineup = build_lineup(settings, sim=sim, task_policy=domain.simulated_task_policy(sim.defect_rate))
    preflight(lineup)
    return lineup


def make_roles(domain: Domain, world: World, rubric: Rubric, lineup: Lineup, judge_mode: JudgeMode) -> Roles:
    card = domain.card
    return Roles(
        user=UserSimulator(
            lineup.user,
            mission=card.user_simulator.mission,
            persona=card.user_simulator.persona,
            example_questions=card.user_simulator.example_questions,
        ),
        task=TaskAgent(
            lineup.task,
            mission=card.task_agent.mission,
            persona=card.task_agent.persona,
            tools=domain.tools(world),
            finding_model=domain.finding_model,
        ),
        critic=Critic(lineup.critic, rubric, world.has_id, judge_mode),
    )
