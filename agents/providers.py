"""From model specs to the models behind each role: `simulated`, `bedrock:<id>` (strands' BedrockModel on boto3
Converse) and `openai:<model>` (strands' OpenAIModel on any OpenAI-compatible server).

Every role gets a `RoleModel`: how to build its model, and the per-model meter (rate limits, retries, tokens,
cost) that every agent calling that model shares.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

from agents.messages import usage_of
from agents.metering import Meters, ModelMeter, Spend
from agents.output_guard import OutputGuard, ToolBudget
from agents.pricing import load_prices
from agents.ratelimit import RateLimiter
from agents.runtime import Instructions, Outcome, Runtime, RuntimeName, load_runtime
from agents.settings import Bedrock, ModelSettings, Role
from agents.simulated.model import SimSettings
from config import InputError

ModelFactory = Callable[[], Any]
T = TypeVar("T", bound=BaseModel)


@dataclass
class RoleModel:
    """The model behind one role (one juror, for a jury): builds agents wired to its meter."""

    spec: str
    role: Role
    build: ModelFactory
    meter: ModelMeter
    output_retries: int = 2
    runtime: Runtime | None = None  # None: strands
    tool_budget: int = 16

    async def run(
        self,
        instructions: Instructions,
        prompt: str,
        output_model: type[T],
        tools: Sequence[Any] = (),
        *,
        tools_in_memory: bool = False,
    ) -> Outcome[T]:
        """One invocation of a fresh agent on this model, in the run's runtime (`tools_in_memory`: see
        `Runtime.run`)."""
        runtime = self.runtime or load_runtime("strands")
        return await runtime.run(self, instructions, prompt, output_model, tools, tools_in_memory=tools_in_memory)

    def agent(self, **kwargs: Any) -> Any:
        """A fresh strands Agent on this model, with the run's retry strategy, metering hooks and the bound on
        malformed structured output (first, so a call it stops is neither rate-limited nor counted); its tool specs
        are normalised once, not on every call (`cache_tool_specs`)."""
        from strands import Agent

        from agents.strands_runtime import cache_tool_specs, quiet_tracing

        quiet_tracing()  # before the agent takes strands' tracer
        agent = Agent(
            model=self.build(),
            hooks=[OutputGuard(self.output_retries), ToolBudget(self.tool_budget), self.meter],
            retry_strategy=self.meter.retry_strategy(),
            callback_handler=None,
            **kwargs,
        )
        return cache_tool_specs(agent)

    async def invoke(self, agent: Any, prompt: str, output_model: type) -> tuple[Any, Spend]:
        """Run `agent` on `prompt` to a structured `output_model`; the result and what it cost."""
        try:
            result = await agent.invoke_async(prompt, structured_output_model=output_model)
        except BaseException:  # the calls that answered were paid for
            self.meter.charge_reported(usage_of(agent))
            raise
        return result, self.meter.charge_reported(usage_of(result))


@dataclass
class Lineup:
    """Who plays what in a run: one model each for user and task, one or more judges for the critic."""

    user: RoleModel
    task: RoleModel
    critic: list[RoleModel]
    meters: Meters


def build_lineup(
    settings: ModelSettings, *, sim: SimSettings, task_policy: Any, runtime: RuntimeName = "strands"
) -> Lineup:
    """Models and meters for every role, run in `runtime`; bad settings (unknown profile, missing package)
    are InputErrors."""
    prices = load_prices(settings.prices)
    meters = Meters()
    for spec in settings.models.specs():
        limit = settings.limit_for(spec)
        retry = settings.retry
        if spec == "simulated":
            # Simulated throttling (--sim-throttle-rate) goes through strands' real retry strategy, but real
            # backoff (4 s and up) would make offline runs crawl: the simulated models back off a thousand
            # times faster, with the same number of attempts.
            retry = retry.model_copy(
                update={"initial_delay_s": retry.initial_delay_s / 1000, "max_delay_s": retry.max_delay_s / 1000}
            )
        meters[spec] = ModelMeter(spec, prices.for_spec(spec), RateLimiter(limit.rpm, limit.tpm), retry)
    if settings.budget_usd is not None and meters.unpriced():
        raise InputError(
            f"--budget-usd: no price for {', '.join(meters.unpriced())}; add it to a price table "
            "(goldsmith.yaml `prices:`, see agents/prices.yaml)"
        )

    agents = load_runtime(runtime, settings=settings, sim=sim, task_policy=task_policy)

    def slot(spec: str, role: Role) -> RoleModel:
        prefix, _, name = spec.partition(":")
        build = PROVIDERS[prefix](name, role, settings, meter=meters[spec], sim=sim, task_policy=task_policy)
        return RoleModel(spec, role, build, meters[spec], settings.output_retries, agents, settings.tool_budget)

    return Lineup(
        user=slot(settings.models.user, "user"),
        task=slot(settings.models.task, "task"),
        critic=[slot(spec, "critic") for spec in settings.models.critic],
        meters=meters,
    )


def _simulated(name: str, role: Role, settings: ModelSettings, *, sim: SimSettings, task_policy: Any, **_: Any):
    from agents.simulated.model import SimulatedModel

    policy = simulated_policy(role, task_policy)
    return lambda: SimulatedModel(policy, sim, role=role)


def simulated_policy(role: Role, task_policy: Any) -> Any:
    """What a simulated model says in `role`: the task policy comes from the domain."""
    from agents.simulated.judge import SimulatedJudgePolicy
    from agents.simulated.user import SimulatedUserPolicy

    return {"user": SimulatedUserPolicy(), "task": task_policy, "critic": SimulatedJudgePolicy()}[role]


def _bedrock(model_id: str, role: Role, settings: ModelSettings, *, meter: ModelMeter, **_: Any) -> ModelFactory:
    """One BedrockModel (one boto3 client) per role and model, shared by every agent of the run."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ProfileNotFound
    from strands.models import CacheConfig
    from strands.models.bedrock import BedrockModel

    cfg = settings.bedrock
    try:
        session = boto3.Session(profile_name=cfg.profile, region_name=cfg.region)
    except ProfileNotFound:
        raise InputError(f"--profile: AWS profile {cfg.profile!r} is not in your AWS config files") from None
    inference = settings.inference[role]
    model = BedrockModel(
        boto_session=session,
        endpoint_url=cfg.endpoint_url,
        boto_client_config=Config(
            retries={"mode": "adaptive", "max_attempts": cfg.max_attempts},
            read_timeout=cfg.read_timeout_s,
            connect_timeout=10,
        ),
        model_id=model_id,
        streaming=cfg.streaming,
        **({"cache_config": CacheConfig(strategy="auto", tools_ttl=True)} if caches(model_id, cfg) else {}),
        **inference.model_dump(exclude_none=True),
    )

    def count_retries(parsed: dict[str, Any] | None = None, **_: Any) -> None:
        meter.count_client_retries((parsed or {}).get("ResponseMetadata", {}).get("RetryAttempts", 0))

    model.client.meta.events.register("after-call.bedrock-runtime", count_retries)
    return lambda: model


def caches(model_id: str, cfg: Bedrock) -> bool:
    """Prompt caching, where strands places cache points automatically: Anthropic models on Bedrock."""
    return cfg.prompt_caching and any(name in model_id.lower() for name in ("claude", "anthropic"))


def _openai(model_id: str, role: Role, settings: ModelSettings, *, meter: ModelMeter, **_: Any) -> ModelFactory:
    """strands' OpenAIModel, tolerant of servers that refuse a named tool_choice or models that write tool calls
    as text (agents/structured.py); the client itself does not retry (max_retries=0), strands' strategy does, so
    every retry is counted."""
    from agents.structured import TolerantOpenAIModel

    cfg = settings.openai
    api_key = os.environ.get(cfg.api_key_env)
    if api_key is None:
        if cfg.base_url is None:
            raise InputError(f"openai:{model_id}: set {cfg.api_key_env}, or --base-url for a local server")
        api_key = "not-needed"  # local OpenAI-compatible servers take any key
    model = TolerantOpenAIModel(
        on_mechanism=meter.count_mechanism,
        client_args={"api_key": api_key, "base_url": cfg.base_url, "max_retries": 0, "timeout": cfg.timeout_s},
        model_id=model_id,
        params=settings.inference[role].model_dump(exclude_none=True),
        stream=False,
    )
    return lambda: model


PROVIDERS: dict[str, Callable[..., ModelFactory]] = {"simulated": _simulated, "bedrock": _bedrock, "openai": _openai}
