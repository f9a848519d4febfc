"""The CrewAI runtime (`--runtime crewai`, install `goldsmith[crewai]`): each role is a CrewAI `Agent` whose
role, goal and backstory come from the same domain and rubric files as the strands prompts, run with
`Agent.kickoff(..., response_format=...)`. Domain tools become CrewAI tools; tool calls are recorded by a
CrewAI after-tool-call hook.

Offline, the LLM is `agents.simulated.llm.SimulatedLLM`; online, `crewai.LLM("bedrock/<id>")` or
`LLM("openai/<model>")` with the settings the strands model of the same role was built with. CrewAI's
telemetry and tracing are switched off before CrewAI is first imported, unless the environment already says.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any, TypeVar

from pydantic import BaseModel, Field, ValidationError, create_model

from agents.messages import result_text
from agents.metering import ModelMeter
from agents.output_guard import MalformedOutput
from agents.providers import RoleModel
from agents.runtime import Instructions, Outcome
from agents.simulated.llm import TOOL_ERROR_PREFIX
from store.records import TokenUsage, ToolTraceEntry

TELEMETRY_OFF = {"CREWAI_DISABLE_TELEMETRY": "true", "OTEL_SDK_DISABLED": "true", "CREWAI_TRACING_ENABLED": "false"}
for _name, _value in TELEMETRY_OFF.items():
    os.environ.setdefault(_name, _value)

from crewai import LLM, Agent, BaseLLM, Crew  # noqa: E402  (after the telemetry switches)
from crewai.events.event_listener import event_listener  # noqa: E402
from crewai.hooks import ToolCallHookContext, register_after_tool_call_hook  # noqa: E402
from crewai.tools import BaseTool  # noqa: E402

event_listener.formatter.verbose = False  # CrewAI prints a panel per agent run otherwise; a Crew may turn it on

T = TypeVar("T", bound=BaseModel)
JSON_TYPES: dict[str, Any] = {"string": str, "integer": int, "number": float, "boolean": bool, "object": dict}


class CrewAIRuntime:
    name = "crewai"

    async def run(
        self,
        model: RoleModel,
        instructions: Instructions,
        prompt: str,
        output_model: type[T],
        tools: Sequence[Any] = (),
        *,
        tools_in_memory: bool = False,  # a strands executor choice: CrewAI runs its tools its own way
    ) -> Outcome[T]:
        agent = Agent(
            role=instructions.role,
            goal=instructions.goal,
            backstory=instructions.backstory,
            llm=llm_for(model, output_model),
            tools=crewai_tools(tools),
            cache=False,  # every call reaches the tool, so the trace is what really ran
            allow_delegation=False,
            verbose=False,
        )
        return await self.drive(agent, prompt, output_model, model.meter)

    async def drive(self, agent: Any, prompt: str, output_model: type[T], meter: ModelMeter) -> Outcome[T]:
        """Run a CrewAI `Agent` (kicked off with the prompt) or `Crew` (kicked off with inputs `{"request":
        prompt}`) to an `output_model`, recording its tool calls."""
        members = agent.agents if isinstance(agent, Crew) else [agent]
        with TRACES.recording(members) as trace:
            if isinstance(agent, Crew):
                result = await asyncio.to_thread(agent.kickoff, inputs={"request": prompt})
                usage = result.token_usage.model_dump()
            else:
                result = await asyncio.to_thread(agent.kickoff, prompt, response_format=output_model)
                usage = result.usage_metrics or {}
        meter.stats.calls += usage.get("successful_requests", 0)
        return Outcome(structured(result, output_model), trace, meter.charge(token_usage(usage)))


def runtime(**_: Any) -> CrewAIRuntime:
    return CrewAIRuntime()


def structured(result: Any, output_model: type[T]) -> T:
    """The run's answer as `output_model`: CrewAI's converted output, or its raw text validated."""
    if isinstance(result.pydantic, output_model):
        return result.pydantic
    try:
        return output_model.model_validate_json(result.raw)
    except ValidationError as exc:
        raise MalformedOutput(output_model.__name__, 1, str(exc).splitlines()[0]) from None


def token_usage(usage: dict[str, Any]) -> TokenUsage:
    """CrewAI's usage metrics (prompt tokens include cached ones) as the record's token counts."""
    cached = usage.get("cached_prompt_tokens", 0)
    return TokenUsage(
        input=usage.get("prompt_tokens", 0) - cached,
        output=usage.get("completion_tokens", 0),
        cache_read=cached,
        cache_write=usage.get("cache_creation_tokens", 0),
    )


# ---- models -------------------------------------------------------------------------------------------


def llm_for(model: RoleModel, output_model: type[BaseModel] | None = None) -> BaseLLM:
    """The CrewAI LLM for a role, made from the strands model that role gets, so both runtimes share one set
    of settings: the simulated policy and knobs, or the Bedrock / OpenAI model id, region and inference."""
    from agents.simulated.llm import SimulatedLLM
    from agents.simulated.model import SimulatedModel

    built = model.build()
    if isinstance(built, SimulatedModel):
        return SimulatedLLM(
            model="simulated",
            policy=built.policy,
            sim=built.settings,
            output_model=output_model.__name__ if output_model else None,
        )
    config = built.get_config()
    inference = {k: config[k] for k in ("temperature", "max_tokens", "top_p") if config.get(k) is not None}
    provider = model.spec.partition(":")[0]
    if provider == "bedrock":
        llm = LLM(model=f"bedrock/{config['model_id']}", region_name=built.client.meta.region_name, **inference)
        # the strands model's boto3 client: its profile, endpoint, timeouts, adaptive retries and retry counting
        llm._client = built.client
        return llm
    params = {**config.get("params", {}), **inference}
    client = built.client_args
    return LLM(
        model=f"openai/{config['model_id']}", base_url=client.get("base_url"), api_key=client["api_key"], **params
    )


# ---- tools --------------------------------------------------------------------------------------------


class StrandsTool(BaseTool):
    """A strands tool (an `@tool` function, or an MCP server's tool) as a CrewAI tool: the same name,
    description and parameters, and the same result text (JSON, as strands renders it)."""

    function: Any = Field(exclude=True)

    def _run(self, **kwargs: Any) -> str:
        result = self.function(**kwargs)
        return result if isinstance(result, str) else json.dumps(result, ensure_ascii=False)


def crewai_tools(tools: Sequence[Any]) -> list[BaseTool]:
    """Domain tools (strands `@tool` functions) and MCP tools (through the run's strands MCP client) as CrewAI
    tools."""
    from strands.tools.decorator import DecoratedFunctionTool
    from strands.tools.mcp import MCPAgentTool

    adapted = []
    for tool in tools:
        if isinstance(tool, MCPAgentTool):
            function = partial(_call_mcp, tool)
        elif isinstance(tool, DecoratedFunctionTool):
            function = tool
        else:
            raise TypeError(f"{tool.tool_name}: only @tool functions and MCP tools can be given to CrewAI agents")
        spec = tool.tool_spec
        adapted.append(
            StrandsTool(
                name=spec["name"],
                description=spec["description"],
                args_schema=args_model(spec["name"], spec["inputSchema"]["json"]),
                function=function,
            )
        )
    return adapted


def _call_mcp(tool: Any, **arguments: Any) -> str:
    """Call an MCP tool through the run's client; a tool error is raised, for CrewAI to report as one."""
    result = tool.mcp_client.call_tool_sync(uuid.uuid4().hex, tool.mcp_tool.name, arguments)
    text = result_text(result)
    if result["status"] == "error":
        raise ValueError(text)
    return text


def args_model(name: str, schema: dict[str, Any]) -> type[BaseModel]:
    """A pydantic model for a tool's JSON-schema parameters (the types strands writes for typed functions)."""
    required = set(schema.get("required", []))
    fields: dict[str, Any] = {}
    for key, prop in schema.get("properties", {}).items():
        default = ... if key in required else prop.get("default")
        fields[key] = (_annotation(prop), Field(default, description=prop.get("description")))
    return create_model(f"{name}_args", **fields)


def _annotation(prop: dict[str, Any]) -> Any:
    if "anyOf" in prop:
        options = tuple(_annotation(option) for option in prop["anyOf"])
        union = options[0]
        for option in options[1:]:
            union = union | option
        return union
    kind = prop.get("type")
    if kind == "null":
        return type(None)
    if kind == "array":
        return list[_annotation(prop.get("items", {}))]
    return JSON_TYPES.get(kind, Any)


# ---- tool traces --------------------------------------------------------------------------------------


class _Traces:
    """Routes CrewAI's after-tool-call hook (one, process-wide) to the trace of the run whose agent called."""

    def __init__(self) -> None:
        self._traces: dict[int, list[ToolTraceEntry]] = {}
        self._lock = threading.Lock()
        register_after_tool_call_hook(self._after_tool_call)

    def _after_tool_call(self, context: ToolCallHookContext) -> None:
        trace = self._traces.get(id(context.agent))
        if trace is None:
            return
        output = str(context.tool_result)
        status = "error" if output.startswith(TOOL_ERROR_PREFIX) else "success"
        trace.append(ToolTraceEntry(name=context.tool_name, input=context.tool_input, output=output, status=status))

    @contextmanager
    def recording(self, agents: list[Any]) -> Iterator[list[ToolTraceEntry]]:
        """The trace that the tool calls of `agents` land in while the block runs."""
        trace: list[ToolTraceEntry] = []
        keys = [id(agent) for agent in agents]
        with self._lock:
            self._traces.update(dict.fromkeys(keys, trace))
        try:
            yield trace
        finally:
            with self._lock:
                for key in keys:
                    self._traces.pop(key, None)


TRACES = _Traces()
