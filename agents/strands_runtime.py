"""The strands runtime (the default): each role is a fresh strands `Agent` per invocation, its tool calls
recorded by a hook on the agent's own tool events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel
from strands.hooks import AfterToolCallEvent, BeforeToolCallEvent, HookRegistry

from agents.messages import trace_entry, usage_of
from agents.runtime import Instructions, Outcome
from store.records import ToolTraceEntry

if TYPE_CHECKING:
    from agents.metering import ModelMeter
    from agents.providers import RoleModel

T = TypeVar("T", bound=BaseModel)


class ToolRecorder:
    """A strands hook provider that records every tool call an agent executes, in the order the calls were
    made (concurrent calls included), leaving out the structured-output tool named `skip`."""

    def __init__(self, skip: str):
        self.skip = skip
        self.calls: dict[str, ToolTraceEntry | None] = {}  # by toolUseId, in call order

    def register_hooks(self, registry: HookRegistry, **kwargs: Any) -> None:
        registry.add_callback(BeforeToolCallEvent, self._before)
        registry.add_callback(AfterToolCallEvent, self._after)

    def _before(self, event: BeforeToolCallEvent) -> None:
        if event.tool_use["name"] != self.skip:
            self.calls.setdefault(event.tool_use["toolUseId"], None)

    def _after(self, event: AfterToolCallEvent) -> None:
        if event.tool_use["name"] != self.skip:
            self.calls[event.tool_use["toolUseId"]] = trace_entry(event.tool_use, event.result)

    @property
    def trace(self) -> list[ToolTraceEntry]:
        return [entry for entry in self.calls.values() if entry is not None]


class StrandsRuntime:
    name = "strands"

    async def run(
        self,
        model: RoleModel,
        instructions: Instructions,
        prompt: str,
        output_model: type[T],
        tools: Sequence[Any] = (),
    ) -> Outcome[T]:
        agent = model.agent(tools=list(tools), system_prompt=instructions.system_prompt)
        return await self.drive(agent, prompt, output_model, model.meter, metered=True)

    async def drive(
        self, agent: Any, prompt: str, output_model: type[T], meter: ModelMeter, *, metered: bool = False
    ) -> Outcome[T]:
        """Run a strands `Agent` to a structured `output_model`. An agent Goldsmith did not build gets the
        meter's hooks (rate limits, call counts) added; its own model and retry strategy are kept."""
        recorder = ToolRecorder(skip=output_model.__name__)
        agent.hooks.add_hook(recorder)
        if not metered:
            agent.hooks.add_hook(meter)
        try:
            result = await agent.invoke_async(prompt, structured_output_model=output_model)
        except BaseException:  # the calls that did answer were paid for: count them, then fail
            meter.charge_reported(usage_of(agent))
            raise
        return Outcome(result.structured_output, recorder.trace, meter.charge_reported(usage_of(result)))


def runtime(**_: Any) -> StrandsRuntime:
    return StrandsRuntime()
