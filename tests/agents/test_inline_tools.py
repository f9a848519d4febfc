"""On the strands runtime the domain's synchronous tools are awaited on the event loop instead of each call waiting
for a worker thread; the model sees the same tools and the calls return the same results."""

import asyncio
import threading

import pytest

from agents.strands_runtime import inline_tool
from simulation.domains import get_domain


@pytest.fixture(scope="module", params=["kyc", "crypto"])
def tools(request):
    domain = get_domain(request.param)
    return domain.tools(domain.build_world(1))


def test_same_tools_as_the_model_sees_them(tools):
    inline = [inline_tool(t) for t in tools]
    assert all(i is not t for i, t in zip(inline, tools, strict=True))
    assert [i.tool_spec for i in inline] == [t.tool_spec for t in tools]


def test_calls_give_the_same_results(tools):
    tool = tools[0]
    name = next(iter(tool.tool_spec["inputSchema"]["json"]["required"]), None)
    use = {"toolUseId": "1", "name": tool.tool_name, "input": {name: "nobody"} if name else {}}

    async def both() -> tuple:
        original = [event async for event in tool.stream(use, {})][-1].tool_result
        awaited = [event async for event in inline_tool(tool).stream(use, {})][-1].tool_result
        return original, awaited

    original, awaited = asyncio.run(both())
    assert awaited == original


def test_an_inline_tool_runs_on_the_event_loop_thread():
    from strands import tool

    ran_on: list[int] = []

    @tool
    def lookup(customer_id: str) -> dict:
        """Look a customer up.

        Args:
            customer_id: Customer id.
        """
        ran_on.append(threading.get_ident())
        return {"id": customer_id}

    use = {"toolUseId": "1", "name": "lookup", "input": {"customer_id": "C-1"}}

    async def call(agent_tool) -> int:
        events = [event async for event in agent_tool.stream(use, {})]
        assert events[-1].tool_result["status"] == "success"
        return threading.get_ident()

    loop_thread = asyncio.run(call(inline_tool(lookup)))
    assert ran_on == [loop_thread]
    loop_thread = asyncio.run(call(lookup))  # strands' own way: a worker thread
    assert ran_on[1] != loop_thread


def test_other_tools_are_left_as_they_are():
    from strands import tool

    @tool
    async def already_async(x: int) -> int:
        """Already awaited.

        Args:
            x: A number.
        """
        return x

    assert inline_tool(already_async) is already_async
    assert inline_tool("not a tool") == "not a tool"


def test_the_task_agent_inlines_the_tools_of_a_domain_that_says_they_only_read_memory(tools):
    from types import SimpleNamespace

    from agents.task_agent import TaskAgent
    from simulation.domains import get_domain
    from simulation.domains.base import Domain

    assert get_domain("kyc").inline_tools and get_domain("crypto").inline_tools  # lookups in the in-memory world
    assert Domain.inline_tools is False  # a pack's tools may block (a database, a web service) unless it says so
    task = TaskAgent(SimpleNamespace(runtime=None), None, tools=tools, finding_model=dict, inline_tools=True)
    run = task.run_tools()
    assert run is task.run_tools()  # made once
    assert all(r is not t and r.tool_spec == t.tool_spec for r, t in zip(run, tools, strict=True))
    threaded = TaskAgent(SimpleNamespace(runtime=None), None, tools=tools, finding_model=dict)
    assert threaded.run_tools() is threaded.tools
    crewai = TaskAgent(
        SimpleNamespace(runtime=SimpleNamespace(name="crewai")),
        None,
        tools=tools,
        finding_model=dict,
        inline_tools=True,
    )
    assert crewai.run_tools() is crewai.tools


def test_roles_inline_the_domains_tools_but_never_an_mcp_servers():
    from agents.settings import ModelSettings
    from agents.simulated.model import SimSettings
    from rubrics.model import load_rubric
    from simulation.domains import get_domain
    from simulation.roles import make_roles, prepare_models

    domain = get_domain("kyc")
    world = domain.build_world(1)
    rubric = load_rubric(domain.rubric_path, domain="kyc", categories=set(domain.categories))
    lineup = prepare_models(ModelSettings(), domain, SimSettings(seed=0, defect_rate=0.0))
    assert make_roles(domain, world, rubric, lineup, "together").task.inline_tools
    served = make_roles(domain, world, rubric, lineup, "together", tools=domain.tools(world))
    assert not served.task.inline_tools
