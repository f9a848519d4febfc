"""Wiring the three roles for a domain, its world, a rubric and the model per role."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from agents.critic import Critic, JudgeMode
from agents.providers import ModelFactory, RoleModels, model_factory
from agents.simulated.model import SimSettings
from agents.task_agent import TaskAgent
from agents.user_simulator import UserSimulator
from rubrics.model import Rubric
from simulation.domains.base import Domain, World
from simulation.episode import Roles


def new_run_id() -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


def model_factories(models: RoleModels, domain: Domain, sim: SimSettings) -> dict[str, ModelFactory]:
    """A model factory per role; an invalid model spec is an InputError (raised before anything is written)."""
    task_policy = domain.simulated_task_policy(sim.defect_rate)
    return {
        role: model_factory(getattr(models, role), role, task_policy=task_policy, sim=sim)
        for role in ("user", "task", "critic")
    }


def make_roles(
    domain: Domain, world: World, rubric: Rubric, factories: dict[str, ModelFactory], judge_mode: JudgeMode
) -> Roles:
    card = domain.card
    return Roles(
        user=UserSimulator(
            factories["user"],
            mission=card.user_simulator.mission,
            persona=card.user_simulator.persona,
            example_questions=card.user_simulator.example_questions,
        ),
        task=TaskAgent(
            factories["task"],
            mission=card.task_agent.mission,
            persona=card.task_agent.persona,
            tools=domain.tools(world),
            finding_model=domain.finding_model,
        ),
        critic=Critic(factories["critic"], rubric, world.has_id, judge_mode),
    )
