"""Bring your own task agent (`--task-agent package.module:factory`).

The factory is called with a `TaskAgentContext` for every attempt and returns a fresh agent: a strands
`Agent`, a CrewAI `Agent` or a CrewAI `Crew`. Goldsmith drives it in the framework that built it, asks it for
the domain's finding (`structured_output_model` / `response_format`; a Crew's last task sets
`output_pydantic`, and its tasks read the request from the `{request}` input), records its tool calls from
that framework's hooks, and sends the critic's feedback back to it as the next attempt's prompt.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from agents.runtime import Instructions, Outcome, framework_of, load_runtime
from config import InputError

if TYPE_CHECKING:
    from agents.providers import RoleModel

T = TypeVar("T", bound=BaseModel)


@dataclass(frozen=True)
class TaskAgentContext:
    """What a task-agent factory is given: use any of it, or your own model, prompt and tools."""

    domain: str
    instructions: Instructions  # the domain's task agent: role, goal (mission), backstory (persona)
    tools: list[Any]  # the domain's tools (or the MCP server's) and the attempt's action tools, as strands tools
    finding_model: type[BaseModel]  # what every answer must validate against
    model: RoleModel  # the run's task model (--task-model; simulated offline)

    def strands_model(self) -> Any:
        """The run's task model as a strands model provider."""
        return self.model.build()

    def crewai_llm(self) -> Any:
        """The run's task model as a CrewAI LLM (needs goldsmith[crewai])."""
        from agents.crewai_runtime import llm_for

        return llm_for(self.model, self.finding_model)

    def crewai_tools(self) -> list[Any]:
        """The tools as CrewAI tools (needs goldsmith[crewai])."""
        from agents.crewai_runtime import crewai_tools

        return crewai_tools(self.tools)


class CustomTaskAgent:
    """A user's task agent, built by their factory for each attempt."""

    def __init__(self, target: str, context: TaskAgentContext):
        self.target = target
        self.context = context
        self.factory = load_factory(target)
        try:
            agent = self.factory(context)
        except Exception as exc:  # the user's code: report it as bad input, before anything runs
            raise InputError(f"--task-agent: {target}(context) raised {type(exc).__name__}: {exc}") from None
        self.framework = framework_of(agent)
        if self.framework is None or not _is_agent(agent):
            raise InputError(
                f"--task-agent: {target} returned {type(agent).__module__}.{type(agent).__name__}; "
                "expected a strands Agent, a CrewAI Agent or a CrewAI Crew"
            )

    async def run(self, prompt: str, output_model: type[T], actions: list[Any] = ()) -> Outcome[T]:
        """Build a fresh agent for this attempt, its context's tools with the attempt's action tools, and run it."""
        agent = self.factory(replace(self.context, tools=[*self.context.tools, *actions]))
        runtime = load_runtime(framework_of(agent) or "strands")
        return await runtime.drive(agent, prompt, output_model, self.context.model.meter)


def load_factory(target: str) -> Callable[[TaskAgentContext], Any]:
    """The callable named by `package.module:attribute`, importable from the working directory."""
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise InputError(f"--task-agent: {target!r}: expected package.module:factory")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InputError(f"--task-agent: cannot import {module_name}: {exc}") from None
    factory = getattr(module, attribute, None)
    if not callable(factory):
        raise InputError(f"--task-agent: {module_name} has no callable {attribute!r}")
    return factory


def _is_agent(agent: Any) -> bool:
    if framework_of(agent) == "strands":
        from strands import Agent

        return isinstance(agent, Agent)
    from crewai import Agent, Crew

    return isinstance(agent, Agent | Crew)
