"""Agent runtimes: the framework that realises a role as an agent (strands, the default, or CrewAI).

A role (user simulator, task agent, critic) hands its runtime the same things whichever framework runs it:
`Instructions` written from the domain and rubric files, a prompt, the pydantic model its answer must
validate against and, for the task agent, tools. It gets back an `Outcome`: the validated answer, the tool
calls the framework executed (recorded from the framework's own hooks) and what the model calls cost.

Each runtime module is imported only when chosen, so a strands run never imports CrewAI.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar

from pydantic import BaseModel

from config import InputError

if TYPE_CHECKING:
    from agents.metering import ModelMeter, Spend
    from agents.providers import RoleModel
    from store.records import ToolTraceEntry

T = TypeVar("T", bound=BaseModel)
RuntimeName = Literal["strands", "crewai"]
RUNTIMES: dict[str, str] = {"strands": "agents.strands_runtime", "crewai": "agents.crewai_runtime"}


@dataclass(frozen=True)
class Instructions:
    """Who an agent is: a CrewAI role / goal / backstory, or (joined) a strands system prompt."""

    role: str
    goal: str
    backstory: str

    @property
    def system_prompt(self) -> str:
        return f"{self.goal.strip()}\n\n{self.backstory.strip()}"


@dataclass
class Outcome(Generic[T]):
    """One agent invocation: its validated answer, the tool calls it made, what it cost."""

    output: T
    tool_trace: list[ToolTraceEntry]
    spend: Spend


class Runtime(Protocol):
    """What every runtime module provides."""

    name: str

    async def run(
        self,
        model: RoleModel,
        instructions: Instructions,
        prompt: str,
        output_model: type[T],
        tools: Sequence[Any] = (),
        *,
        tools_in_memory: bool = False,
    ) -> Outcome[T]:
        """A fresh agent for `instructions` on `model`'s LLM, run on `prompt` to an `output_model`.
        `tools_in_memory`: the tools only work on memory (never block or wait), so a runtime may run them one
        after another rather than concurrently."""
        ...

    async def drive(self, agent: Any, prompt: str, output_model: type[T], meter: ModelMeter) -> Outcome[T]:
        """Run an agent built elsewhere (a bring-your-own task agent) on `prompt` to an `output_model`."""
        ...


def load_runtime(name: str, **options: Any) -> Runtime:
    """The runtime called `name`, its module imported now; a framework that is not installed is bad input."""
    try:
        module = importlib.import_module(RUNTIMES[name])
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] != name:
            raise
        raise InputError(f"--runtime {name}: {name} is not installed; pip install 'goldsmith[{name}]'") from None
    return module.runtime(**options)


def framework_of(agent: Any) -> RuntimeName | None:
    """Which framework `agent` belongs to, read from the modules of its classes (so nothing is imported to
    ask)."""
    roots = (cls.__module__.split(".")[0] for cls in type(agent).__mro__)
    return next((root for root in roots if root in RUNTIMES), None)  # type: ignore[return-value]
