"""Wiring the three roles for a domain, its world, a rubric and the models in the lineup."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from agents.critic import Critic, JudgeMode
from agents.preflight import preflight
from agents.providers import Lineup, build_lineup
from agents.runtime import RuntimeName
from agents.settings import ModelSettings
from agents.simulated.model import SimSettings
from agents.task_agent import TaskAgent, task_instructions
from agents.user_simulator import UserSimulator
from rubrics.methods import vocabulary_of
from rubrics.model import Rubric
from simulation.domains.base import Domain, World
from simulation.episode import Roles


def new_run_id() -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


def prepare_models(
    settings: ModelSettings, domain: Domain, sim: SimSettings, runtime: RuntimeName = "strands"
) -> Lineup:
    """The models for every role in `runtime`, each real one checked with one cheap call; any problem is an
    InputError raised before anything is written or any episode starts."""
    lineup = build_lineup(settings, sim=sim, task_policy=domain.simulated_task_policy(sim.defect_rate), runtime=runtime)
    preflight(lineup)
    return lineup


def make_roles(
    domain: Domain,
    world: World,
    rubric: Rubric,
    lineup: Lineup,
    judge_mode: JudgeMode,
    *,
    tools: list[Any] | None = None,
    task_agent: str | None = None,
) -> Roles:
    """The user simulator, task agent and critic. `tools` replaces the domain's own (e.g. an MCP server's);
    `task_agent` (package.module:factory) puts the user's own agent in the task agent's place."""
    card = domain.card
    inline = tools is None and domain.inline_tools  # an MCP server's tools may block: they keep their thread
    tools = domain.tools(world) if tools is None else tools
    instructions = task_instructions(domain.name, card.task_agent, domain.finding_model)
    custom = None
    if task_agent is not None:
        from agents.custom_task_agent import CustomTaskAgent, TaskAgentContext

        context = TaskAgentContext(domain.name, instructions, tools, domain.finding_model, lineup.task)
        custom = CustomTaskAgent(task_agent, context)
    return Roles(
        user=UserSimulator(lineup.user, card.user_simulator),
        task=TaskAgent(
            lineup.task,
            instructions,
            tools=tools,
            finding_model=domain.finding_model,
            custom=custom,
            desk=lambda: domain.action_desk(world),
            inline_tools=inline,
        ),
        critic=Critic(
            lineup.critic,
            rubric,
            world.has_id,
            judge_mode,
            vocabulary_of(domain.finding_model),
            action_names=domain.action_names,
            owner_of=world.owner_of,
        ),
    )
