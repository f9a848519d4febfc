"""The strands runtime (the default): each role is a fresh strands `Agent` per invocation, its tool calls
recorded by a hook on the agent's own tool events.

strands traces through OpenTelemetry, and builds every span's content (the messages as JSON, each call's tool input
and result) before it asks whether anyone records the span. With no tracer provider configured that is all thrown
away, on every model and tool call; `QuietTracer` and `quiet_serialize` skip it then (and trace as strands does once
one is).

strands also rebuilds every tool's spec on every model call (normalised and validated afresh from the tool's own
spec, then deep-copied for the model): for a dozen tools that is more work than the simulated model's whole reply.
`cache_tool_specs` has an agent normalise each spec once (`SpecCachingRegistry`). And an agent whose tools only work on
memory runs its tool calls in its own task (`StrandsRuntime.run`), not a task per call.
"""

from __future__ import annotations

import copy
import functools
import inspect
import json
import logging
import threading
from collections.abc import AsyncGenerator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from opentelemetry import trace as trace_api
from pydantic import BaseModel
from strands.hooks import AfterToolCallEvent, BeforeToolCallEvent, HookRegistry
from strands.telemetry import tracer as strands_tracer
from strands.tools.executors import SequentialToolExecutor
from strands.tools.registry import ToolRegistry
from strands.tools.tools import normalize_tool_spec
from strands.types.events import ToolResultEvent

from agents.messages import trace_entry, usage_of
from agents.runtime import Instructions, Outcome
from store.records import ToolTraceEntry

if TYPE_CHECKING:
    from agents.metering import ModelMeter
    from agents.providers import RoleModel

T = TypeVar("T", bound=BaseModel)

logger = logging.getLogger("strands.tools.registry")  # warnings as strands' own registry gives them


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


class ClosedAtResult:
    """A tool's events, its stream closed as its result goes by. strands stops reading a tool's stream at the result
    and drops it unfinished; asyncio then closes each dropped async generator in a task of its own, scheduled from
    the garbage collector through the event loop's self-pipe: a task, two system calls and a wake-up of the loop for
    every tool call, about 7 % of an episode's CPU. Closed here, in the tool call's own task, the stream ends as it
    would have: for the tools this is used on, the result is the last event."""

    def __init__(self, events: AsyncGenerator[Any, None]):
        self.events = events

    def __aiter__(self) -> ClosedAtResult:
        return self

    async def __anext__(self) -> Any:
        event = await self.events.__anext__()
        if isinstance(event, ToolResultEvent):
            await self.events.aclose()
        return event


def close_at_result(tool: Any) -> Any:
    """`tool`, its `stream` giving a `ClosedAtResult`: for a tool whose stream ends with its result (a decorated
    function's, strands' structured-output tool) and that is the caller's own (the attribute is set on it)."""
    stream = tool.stream
    tool.stream = lambda *args, **kwargs: ClosedAtResult(stream(*args, **kwargs))
    return tool


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
    return close_at_result(inline) if inline.tool_spec == tool.tool_spec else tool


def quiet_serialize(value: Any) -> str:
    """strands' `serialize` (span content as JSON), or nothing while no span is recorded (`QuietTracer.recording`).

    strands' tool executor serialises the called tool's input schema for the call's span before it looks at the
    span, every leaf of it through `json.dumps` of its own: a fifth of what tracing cost a tool call here."""
    return strands_tracer.serialize(value) if QuietTracer.recording() else ""


def quiet_tracing() -> None:
    """Make strands use `QuietTracer` and `quiet_serialize` (once per process; agents built before keep the tracer
    they have).

    strands offers no switch for this: it reads its tracer from a module singleton (`get_tracer()`, used by the
    agent, the event loop and the tool executor alike), and its tool executor serialises with the `serialize` it
    imported. So the singleton and that name are replaced: the two private strands attributes Goldsmith sets
    (`strands.telemetry.tracer._tracer_instance`, `strands.tools.executors._executor.serialize`)."""
    from strands.tools.executors import _executor

    if not isinstance(strands_tracer._tracer_instance, QuietTracer):
        strands_tracer._tracer_instance = QuietTracer()
    if _executor.serialize is strands_tracer.serialize:
        _executor.serialize = quiet_serialize


class NormalizedSpec(dict[str, Any]):
    """A tool spec as strands normalises it for the model, shared by every call of every agent that offers the tool.
    Nothing changes a spec it was given (strands' model providers build their requests from it), so a deep copy of
    it is itself: strands deep-copies the tool specs before every model call."""

    def __deepcopy__(self, memo: dict[int, Any]) -> NormalizedSpec:
        return self

    @functools.cached_property
    def json_size(self) -> int:
        """`len(json.dumps(spec, default=str))`, measured once (for token estimates)."""
        return len(json.dumps(self, default=str))


SHARED_SPECS = 64  # normalised specs kept across agents, of registered tools and of dynamic ones (the oldest dropped)
_shared_specs: dict[int, tuple[Any, NormalizedSpec]] = {}  # by id() of the tool's own spec, which the entry holds
_dynamic_specs: dict[str, tuple[Any, NormalizedSpec]] = {}  # by tool name: a copy of the spec last normalised
_shared_lock = threading.Lock()


class SpecCachingRegistry(ToolRegistry):
    """strands' tool registry, with each tool spec normalised once: `get_all_tools_config` gives what strands' own
    gives (the same specs, in the same order, a spec that fails validation left out with the same warning), but a
    spec it has seen before is not normalised again. The specs of registered tools are shared by every agent (a
    run's agents offer the same tools: a decorated function's spec is one object for life, bound to any instance),
    known by the object; a dynamic tool's (the structured output, a new object for every invocation, the same
    content for the same output model) by an equal copy. A tool that builds a new spec each time it is asked (an MCP
    tool) is normalised each time, as strands does; a registered tool's spec changed in place after its first call
    would go on being offered as it was (no tool does that: a decorated tool's spec setter replaces the object)."""

    def get_all_tools_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {}
        for name, tool in self.registry.items():
            own = tool.tool_spec
            if (spec := self._normalized(name, own, _shared_specs, id(own))) is not None:
                config[name] = spec
        for name, tool in self.dynamic_tools.items():
            if (
                name not in config
                and (spec := self._normalized(name, tool.tool_spec, _dynamic_specs, name)) is not None
            ):
                config[name] = spec
        return config

    def register_dynamic_tool(self, tool: Any) -> None:
        """strands' structured-output tool (made for one invocation of this registry's agent) with its stream
        closed at its result (`ClosedAtResult`)."""
        from strands.tools.structured_output.structured_output_tool import StructuredOutputTool

        super().register_dynamic_tool(close_at_result(tool) if type(tool) is StructuredOutputTool else tool)

    def _normalized(
        self, name: str, spec: Any, cache: dict[Any, tuple[Any, NormalizedSpec]], key: Any
    ) -> NormalizedSpec | None:
        """`spec` normalised, from `cache` when the entry under `key` holds this spec (or, for a dynamic tool, an
        equal copy of it)."""
        cached = cache.get(key)
        if cached is not None and (cached[0] is spec or (cache is _dynamic_specs and cached[0] == spec)):
            return cached[1]
        try:
            normalized = NormalizedSpec(normalize_tool_spec(spec.copy()))
            self.validate_tool_spec(normalized)  # type: ignore[arg-type]
        except (ValueError, RecursionError) as e:  # as strands' own registry: warned, and the tool not offered
            logger.warning("tool_name=<%s> | spec validation failed | %s", name, e)
            return None
        with _shared_lock:
            cache[key] = (spec if cache is _shared_specs else copy.deepcopy(spec), normalized)
            if len(cache) > SHARED_SPECS:
                del cache[next(iter(cache))]
        return normalized


def cache_tool_specs(agent: Any) -> Any:
    """`agent`, its tool registry made a `SpecCachingRegistry` (the same registry object, its tools as they are).

    strands takes no registry of one's own (an `Agent` builds its `tool_registry`), so the registry's class is
    swapped: it needs no set-up of its own, and the registry stays the object the agent's other parts hold."""
    if type(agent.tool_registry) is ToolRegistry:
        agent.tool_registry.__class__ = SpecCachingRegistry
    return agent


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
        *,
        tools_in_memory: bool = False,
    ) -> Outcome[T]:
        """A fresh agent on `model`, run to an `output_model`. Its tool calls run one after another, in the agent's
        own task, when it has no tools but the structured output or `tools_in_memory` says they only work on memory
        (never block or wait): strands' default executor runs each call in a task of its own and hands every event
        of it across, each hand-off a turn at the back of the event loop's queue behind every other episode. Tools
        that may wait (an MCP server's, a user's) keep running concurrently."""
        executor = SequentialToolExecutor() if tools_in_memory or not tools else None  # None: strands' concurrent
        agent = model.agent(tools=list(tools), system_prompt=instructions.system_prompt, tool_executor=executor)
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
