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


def _asyncgens_closed_by_the_loop(monkeypatch) -> list[str]:
    """The async generators the event loop closes after they were dropped unfinished (each in a task of its own),
    recorded from asyncio's finalizer hook: a tool stream's as the tool's name, any other's as its own name."""
    import asyncio.base_events

    closed: list[str] = []
    hook = asyncio.base_events.BaseEventLoop._asyncgen_finalizer_hook

    def recording(loop, agen):
        owner = agen.ag_frame.f_locals.get("self") if agen.ag_frame else None
        closed.append(getattr(owner, "tool_name", agen.__qualname__))
        hook(loop, agen)

    monkeypatch.setattr(asyncio.base_events.BaseEventLoop, "_asyncgen_finalizer_hook", recording)
    return closed


def test_a_tool_stream_ends_with_its_result_not_left_to_the_event_loop(tools, monkeypatch):
    """strands reads a tool's stream up to the result and drops it: the stream is closed as the result goes by."""
    from strands.types.events import ToolResultEvent

    closed = _asyncgens_closed_by_the_loop(monkeypatch)
    tool = inline_tool(tools[0])
    name = next(iter(tool.tool_spec["inputSchema"]["json"]["required"]), None)
    use = {"toolUseId": "1", "name": tool.tool_name, "input": {name: "nobody"} if name else {}}

    async def as_strands_reads_it() -> None:
        stream = tool.stream(use, {})
        async for event in stream:
            if isinstance(event, ToolResultEvent):
                break  # strands returns here, dropping the stream
        assert stream.events.ag_frame is None  # finished: nothing left for the loop to close
        del stream
        await asyncio.sleep(0)

    asyncio.run(as_strands_reads_it())
    assert closed == []


def test_a_run_leaves_no_tool_stream_for_the_event_loop_to_close(tmp_path, monkeypatch):
    """A generate run on strands: neither the domain's inline tools nor strands' structured-output tool leave their
    streams for the loop to close (the action desk's tools, run on threads, may)."""
    from simulation.runner import Run, RunConfig

    closed = _asyncgens_closed_by_the_loop(monkeypatch)
    summary = Run(RunConfig(dataset="d", output_dir=str(tmp_path), count=8, seed=3, concurrency=4)).execute()
    assert summary.episodes == 8 and summary.model_stats["simulated"].calls > 8
    desk = {"file_sar", "escalate_case", "request_documents", "close_alert"}
    assert set(closed) <= desk, closed
