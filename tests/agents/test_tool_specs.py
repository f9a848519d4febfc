"""strands normalises and deep-copies every tool spec on every model call; the agents Goldsmith builds normalise each
spec once (`SpecCachingRegistry`) and offer the model exactly what strands' own registry would. These tests also
fail loudly if strands stops reading the specs through the registry (the model would no longer see shared,
already-normalised specs)."""

import asyncio
import copy
import logging

from pydantic import BaseModel
from strands.tools.registry import ToolRegistry
from strands.tools.structured_output.structured_output_tool import StructuredOutputTool

from agents.providers import build_lineup
from agents.settings import ModelSettings
from agents.simulated import ModelCall, Reply, SimSettings
from agents.simulated.model import estimate_tokens
from agents.strands_runtime import NormalizedSpec, SpecCachingRegistry, inline_tool
from simulation.domains import get_domain


class Answer(BaseModel):
    """The answer."""

    total: int


class Offered:
    """Answers at once, noting the tool specs each call offered."""

    def __init__(self) -> None:
        self.specs: list[list] = []

    def reply(self, call: ModelCall) -> Reply:
        self.specs.append(call.tool_specs)
        return Reply(tool_calls=[(call.structured_output_tool, {"total": 5})])


def kyc_tools() -> list:
    domain = get_domain("kyc")
    world = domain.build_world(1)
    return [inline_tool(t) for t in domain.tools(world)] + domain.action_desk(world).tools


def agent_with(policy, tools):
    lineup = build_lineup(ModelSettings(), sim=SimSettings(seed=1), task_policy=policy)
    return lineup.task.agent(tools=tools, system_prompt="You investigate.")


def test_the_model_is_offered_what_strands_own_registry_gives():
    policy, tools = Offered(), kyc_tools()
    for _ in range(2):  # a second agent on the same tools: the specs normalised for the first are reused
        agent = agent_with(policy, tools)
        assert type(agent.tool_registry) is SpecCachingRegistry
        result = asyncio.run(agent.invoke_async("what is 2+3?", structured_output_model=Answer))
        assert result.structured_output == Answer(total=5)
    first, second = policy.specs
    assert all(isinstance(spec, NormalizedSpec) for spec in first + second)
    assert [s["name"] for s in first] == [*(t.tool_name for t in tools), "Answer"]
    assert all(a is b for a, b in zip(first[:-1], second[:-1], strict=True))  # the domain's tools: normalised once

    agent.tool_registry.register_dynamic_tool(StructuredOutputTool(Answer))
    own = ToolRegistry.get_all_tools_config(agent.tool_registry)  # strands' own, on the same registry
    assert list(own) == [*(t.tool_name for t in tools), "Answer"]
    assert agent.tool_registry.get_all_tools_config() == own


def test_a_shared_spec_is_its_own_deep_copy_and_measured_as_json():
    (spec,) = agent_with(Offered(), kyc_tools()[:1]).tool_registry.get_all_tool_specs()
    assert copy.deepcopy([spec])[0] is spec
    plain = dict(spec)
    assert estimate_tokens("s", [], [spec, spec]) == estimate_tokens("s", [], [plain, plain])


class Fresh:
    """Like an MCP tool: a new spec object each time it is asked for one."""

    def __init__(self, name: str, **spec) -> None:
        self.tool_name = name
        self.spec = {"name": name, "inputSchema": {"json": {"properties": {"q": {}}}}, **spec}
        self.asked = 0

    @property
    def tool_spec(self) -> dict:
        self.asked += 1
        return copy.deepcopy(self.spec)


def test_a_tool_building_its_spec_each_time_is_normalised_each_time():
    registry, fresh = SpecCachingRegistry(), Fresh("lookup", description="Look up.")
    registry.registry["lookup"] = fresh  # type: ignore[assignment]
    first, second = registry.get_all_tools_config(), registry.get_all_tools_config()
    assert first == second == ToolRegistry.get_all_tools_config(registry) and fresh.asked == 3
    assert first["lookup"]["inputSchema"]["json"]["properties"]["q"] == {"type": "string", "description": "Property q"}


def test_a_spec_that_fails_validation_is_left_out_with_strands_warning(caplog):
    registry = SpecCachingRegistry()
    registry.registry["broken"] = Fresh("broken")  # type: ignore[assignment]  # no description
    with caplog.at_level(logging.WARNING, logger="strands.tools.registry"):
        assert registry.get_all_tools_config() == ToolRegistry.get_all_tools_config(registry) == {}
    assert sum("spec validation failed" in r.getMessage() for r in caplog.records) == 2


def test_the_structured_output_spec_is_normalised_once_for_every_agent():
    """strands makes a new structured-output tool (a new spec object, the same content) for every invocation: the
    agents share one normalised spec for it, as strands' own registry would give it, and its stream ends at the
    result (see test_inline_tools)."""
    first, second = SpecCachingRegistry(), SpecCachingRegistry()
    first.register_dynamic_tool(StructuredOutputTool(Answer))
    second.register_dynamic_tool(StructuredOutputTool(Answer))
    shared = first.get_all_tools_config()["Answer"]
    assert second.get_all_tools_config()["Answer"] is shared
    assert shared == ToolRegistry.get_all_tools_config(second)["Answer"]

    class Other(BaseModel):
        """Another answer, under the same name."""

        total: str

    Other.__name__ = "Answer"
    third = SpecCachingRegistry()
    third.register_dynamic_tool(StructuredOutputTool(Other))
    assert third.get_all_tools_config()["Answer"] == ToolRegistry.get_all_tools_config(third)["Answer"] != shared
