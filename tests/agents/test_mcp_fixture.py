"""The MCP server fixture (tests/fixtures/mcp_kyc) serves the KYC tools from a SQLite file with the same names,
specs and outputs as the in-process strands tools, over stdio and over streamable HTTP, through strands' MCPClient."""

from __future__ import annotations

import asyncio
import gc
import json
import sys

import pytest
from mcp import StdioServerParameters, stdio_client
from strands import Agent
from strands.tools.mcp import MCPClient

from agents.messages import tool_exchanges
from agents.simulated import Reply, SimulatedModel
from simulation.domains.kyc.tools import build_tools
from simulation.domains.kyc.world import build_world
from tests.fixtures.mcp_kyc.process import SERVER, http_server
from tests.fixtures.mcp_kyc.sqlite_world import write_world

TOOL_NAMES = [
    "search_customers",
    "get_customer_profile",
    "get_account",
    "get_transactions",
    "get_kyc_documents",
    "screen_sanctions",
    "get_counterparty",
    "get_linked_accounts",
]


@pytest.fixture(scope="module")
def world():
    return build_world(1)


@pytest.fixture(scope="module")
def db_path(world, tmp_path_factory):
    path = tmp_path_factory.mktemp("mcp_kyc") / "world-1.sqlite"
    write_world(world, path)
    return path


@pytest.fixture(scope="module")
def local_tools(world):
    return {t.tool_name: t for t in build_tools(world)}


@pytest.fixture(scope="module")
def stdio_mcp(db_path):
    """One stdio server process for the whole module, started and stopped once."""
    params = StdioServerParameters(command=sys.executable, args=[str(SERVER), str(db_path)])
    client = MCPClient(lambda: stdio_client(params), startup_timeout=20)
    client.start()
    try:
        yield client
    finally:
        client.stop(None, None, None)


def calls(world) -> list[tuple[str, dict]]:
    """Tool inputs covering every tool, filters, whitespace around ids, None-valued fields and unknown ids."""

    def subject(category: str, variant: str | None = None) -> str:
        return next(p.customer_id for p in world.planted if p.category == category and variant in (None, p.variant))

    structuring = world.by_id[subject("structuring", "linked")]
    label = world.label(structuring.id, "cash_activity")
    first_deposit = world.by_id[label.evidence_ids[0]]
    documented = subject("benign_high_value")
    sanctioned = world.label(subject("sanctioned_counterparty", "company"), "counterparty_screening")
    look_alike = world.label(subject("sanctions_false_positive", "person"), "counterparty_screening")
    pep = world.label(subject("pep_match"), "counterparty_screening")
    sanctioned_cp = world.by_id[sanctioned.evidence_ids[0]].counterparty_id
    look_alike_cp = look_alike.evidence_ids[0]
    pep_cp = world.by_id[pep.evidence_ids[0]].counterparty_id
    return [
        ("search_customers", {"name": structuring.name.upper()}),
        ("search_customers", {"name": structuring.name.split()[-1].lower()}),
        ("search_customers", {"name": "Zoë Nobody"}),
        ("get_customer_profile", {"customer_id": f" {structuring.id} "}),
        ("get_account", {"account_id": structuring.account_ids[0]}),
        ("get_transactions", {"account_id": structuring.account_ids[0]}),
        (
            "get_transactions",
            {
                "account_id": first_deposit.account_id,
                "kind": "cash_deposit",
                "start_date": first_deposit.date,
                "end_date": "2026-09-30",
                "min_amount": 9000,
            },
        ),
        ("get_kyc_documents", {"customer_id": documented}),
        (
            "screen_sanctions",
            {"names": [world.by_id[cp].name for cp in (sanctioned_cp, look_alike_cp, pep_cp)]},
        ),
        ("screen_sanctions", {"names": []}),
        ("get_counterparty", {"counterparty_id": sanctioned_cp}),
        ("get_counterparty", {"counterparty_id": pep_cp}),
        ("get_linked_accounts", {"customer_id": structuring.id}),
        ("get_customer_profile", {"customer_id": "C-9999"}),
        ("get_transactions", {"account_id": structuring.id}),  # a customer id is not an account id
        ("get_kyc_documents", {"customer_id": "nobody"}),
        ("get_counterparty", {"counterparty_id": structuring.id}),
        ("get_account", {"account_id": "A-99999"}),
        ("get_linked_accounts", {"customer_id": ""}),
    ]


def run_local(tool, args: dict) -> dict:
    """The toolResult the in-process strands tool produces for `args`."""

    async def run():
        result = None
        async for event in tool.stream({"toolUseId": "t-1", "name": tool.tool_name, "input": args}, {}):
            result = event
        return result.tool_result

    return asyncio.run(run())


def test_the_server_lists_the_same_tools_with_the_same_specs(stdio_mcp, local_tools):
    tools = stdio_mcp.list_tools_sync()
    assert [t.tool_name for t in tools] == TOOL_NAMES
    for t in tools:
        assert t.tool_spec == local_tools[t.tool_name].tool_spec


def test_every_call_returns_what_the_in_process_tool_returns(stdio_mcp, local_tools, world):
    errors = empty = 0
    for i, (name, args) in enumerate(calls(world)):
        local = run_local(local_tools[name], args)
        remote = stdio_mcp.call_tool_sync(f"t-{i}", name, args)
        assert remote["status"] == local["status"], (name, args, remote)
        assert len(remote["content"]) == len(local["content"]) == 1
        remote_text, local_text = remote["content"][0]["text"], local["content"][0]["text"]
        assert remote_text == local_text, (name, args)  # byte-for-byte what the model is shown
        if local["status"] == "success":
            assert json.loads(remote_text) == json.loads(local_text)
            empty += json.loads(remote_text) == []
        else:
            errors += 1
            assert remote_text.startswith("Error: no ")
        # beside the strands keys the MCP result has only the error flag, which the model providers leave out of the
        # toolResult they send (an mcp 1.x server attaches no `_meta`, so strands adds no `metadata` key)
        assert set(remote) - set(local) == {"isError"}
        assert remote["isError"] is (local["status"] == "error")
    assert (errors, empty) == (6, 2)  # only the unknown name and the empty screening come back empty


def test_an_agent_created_many_times_reuses_one_client(stdio_mcp, local_tools, world):
    script = calls(world)

    class Script:
        def reply(self, call):
            done = len(call.exchanges())
            return Reply(tool_calls=[script[done]]) if done < len(script) else Reply(text="done")

    def trace(tools):
        agent = Agent(model=SimulatedModel(Script()), tools=tools, callback_handler=None)
        agent("investigate")
        return tool_exchanges(agent.messages)

    mcp_tools = stdio_mcp.list_tools_sync()  # listed once; plain AgentTools, so no agent owns the client
    first, second = trace(mcp_tools), trace(mcp_tools)
    assert first == second == trace(list(local_tools.values()))
    assert [e.status for e in first].count("error") == 6
    gc.collect()  # the agents are gone and the client still serves
    after = stdio_mcp.call_tool_sync("t-after", "get_counterparty", {"counterparty_id": "CP-0001"})
    assert after["status"] == "success"


def test_the_server_over_streamable_http(db_path, local_tools, world, tmp_path):
    log = tmp_path / "server.log"
    with http_server(db_path, log) as url:
        client = MCPClient(url=url, startup_timeout=10)
        with client:
            assert [t.tool_name for t in client.list_tools_sync()] == TOOL_NAMES
            customer = world.customers[0].id
            remote = client.call_tool_sync("t-1", "get_kyc_documents", {"customer_id": customer})
            local = run_local(local_tools["get_kyc_documents"], {"customer_id": customer})
            assert remote["status"] == "success"
            assert remote["content"] == local["content"]
            missing = client.call_tool_sync("t-2", "get_counterparty", {"counterparty_id": "CP-9999"})
            assert missing["status"] == "error"
            assert missing["content"] == [{"text": "Error: no counterparty with id 'CP-9999'"}]
    assert "Traceback" not in log.read_text()
