"""The strands runtime (the default): each role is a fresh strands `Agent` per invocation, its tool calls
recorded by a hook on the agent's own tool events.

strands traces through OpenTelemetry, and builds every span's content (the messages as JSON, each call's tool input
and result) before it asks whether anyone records the span. With no tracer provider configured that is all thrown
away, on every model and tool call; `QuietTracer` skips it then (and traces as strands does once one is).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from opentelemetry import trace as trace_api
from pydantic import BaseModel
from strands.hooks import AfterToolCallEvent, BeforeToolCallEvent, HookRegistry
from strands.telemetry import tracer as strands_tracer

from agents.messages import trace_entry, usage_of
from agents.runtime import Instructions, Outcome
from store.records import ToolTraceEntry

if TYPE_CHECKING:
    from agents.metering import ModelMeter
    from agents.providers import RoleModel

T = TypeVar("T", bound=BaseModel)


class QuietTracer(strands_tracer.Tracer):
    """strands' tracer, minus the work for spans nobody records: while no OpenTelemetry tracer provider is configured
    (the API's default proxy, or an explicit no-op one), the spans strands starts are the no-op span at once,
    without serialising their content, and their ends do nothing. Checked at every span, so a provider configured
    later (e.g. by a user's own task agent) is traced as usual."""

    @staticmethod
    def recording() -> bool:
        """Whether a real tracer provider is configured (spans would be recorded)."""
        return not isinstance(
            trace_api.get_tracer_provider(), trace_api.ProxyTracerProvider | trace_api.NoOpTracerProvider
        )

    def start_agent_span(self, *args: Any, **kwargs: Any) -> trace_api.Span:
        return super().start_agent_span(*args, **kwargs) if self.recording() else trace_api.INVALID_SPAN

    def start_event_loop_cycle_span(self, *args: Any, **kwargs: Any) -> trace_api.Span:
        return super().start_event_loop_cycle_span(*args, **kwargs) if self.recording() else trace_api.INVALID_SPAN

    def start_model_invoke_span(self, *args: Any, **kwargs: Any) -> trace_api.Span:
        return super().start_model_invoke_span(*args, **kwargs) if self.recording() else trace_api.INVALID_SPAN

    def start_tool_call_span(self, *args: Any, **kwargs: Any) -> trace_api.Span:
        return super().start_tool_call_span(*args, **kwargs) if self.recording() else trace_api.INVALID_SPAN

    def end_agent_span(self, span: trace_api.Span, *args: Any, **kwargs: Any) -> None:
        if span.is_recording():
            super().end_agent_span(span, *args, **kwargs)

    def end_tool_call_span(self, span: trace_api.Span, *args: Any, **kwargs: Any) -> None:
        if span.is_recording():
            super().end_tool_call_span(span, *args, **kwargs)


def inline_tool(tool: Any) -> Any:
    """A synchronous `@tool` function as strands runs an async one: awaited on the event loop, not handed to a
    worker thread. strands runs every synchronous tool function in a thread; for an in-memory tool (a domain's
    lookups over its world) that hand-off, waiting for the GIL while other episodes run, costs more than the call.
    The same function decorated once more (same name, description, spec and validation); any other tool, or one
    whose spec would differ, is returned as it is."""
    from strands import tool as decorate
    from strands.tools.decorator import DecoratedFunctionTool

    function = getattr(tool, "__wrapped__", None)  # the decorated function (functools.update_wrapper)
    if not isinstance(tool, DecoratedFunctionTool) or function is None:
        return tool
    if inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function):
        return tool

    @functools.wraps(function)
    async def awaited(*args: Any, **kwargs: Any) -> Any:
        return function(*args, **kwargs)

    try:
        inline = decorate(name=tool.tool_name)(awaited)
    except Exception:  # a signature strands reads differently through the wrapper: keep the original
        return tool
    return inline if inline.tool_spec == tool.tool_spec else tool


def quiet_tracing() -> None:
    """Make strands use `QuietTracer` (once per process; agents built before keep the tracer they have).

    strands offers no switch for this and reads its tracer from a module singleton (`get_tracer()`, used by the
    agent, the event loop and the tool executor alike), so the singleton is replaced: the one place Goldsmith sets
    a private strands attribute (`strands.telemetry.tracer._tracer_instance`)."""
    if not isinstance(strands_tracer._tracer_instance, QuietTracer):
        strands_tracer._tracer_instance = QuietTracer()


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
