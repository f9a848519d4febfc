"""Model providers by spec prefix. A spec names the model behind one role: `simulated` today; issue #4
adds `bedrock:<model-id>` and `openai:<model>` here, and nothing else changes.

A provider returns a factory, because each agent run gets its own model instance.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import Field

from agents.simulated.model import SimSettings
from config import InputError
from store.records import Strict

Role = Literal["user", "task", "critic"]
ModelFactory = Callable[[], Any]


class RoleModels(Strict):
    """Which model plays each role."""

    user: str = Field("simulated", description="user simulator")
    task: str = Field("simulated", description="task agent")
    critic: str = Field("simulated", description="critic / judge")


def _simulated(name: str, role: Role, *, task_policy: Any, sim: SimSettings) -> ModelFactory:
    from agents.simulated.judge import SimulatedJudgePolicy
    from agents.simulated.model import SimulatedModel
    from agents.simulated.user import SimulatedUserPolicy

    if name:
        raise InputError(f"model 'simulated:{name}': the simulated provider takes no model name")
    policy = {"user": SimulatedUserPolicy(), "task": task_policy, "critic": SimulatedJudgePolicy()}[role]
    return lambda: SimulatedModel(policy, sim, role=role)


PROVIDERS: dict[str, Callable[..., ModelFactory]] = {"simulated": _simulated}


def model_factory(spec: str, role: Role, *, task_policy: Any, sim: SimSettings) -> ModelFactory:
    """The factory for `spec` (e.g. `simulated`); an unknown prefix is an InputError listing valid ones."""
    prefix, _, name = spec.partition(":")
    provider = PROVIDERS.get(prefix)
    if provider is None:
        raise InputError(f"--{role}-model: unknown model {spec!r}; valid prefixes: {', '.join(PROVIDERS)}")
    return provider(name, role, task_policy=task_policy, sim=sim)
