"""Action tools are decorated once per domain (strands builds a tool's spec and input model when it decorates) and
bound to each attempt's own desk, so attempts, revisions and concurrent episodes never see each other's actions."""

import asyncio

import pytest
from strands.tools import decorator

from simulation.domains import get_domain


@pytest.fixture(scope="module")
def kyc():
    domain = get_domain("kyc")
    return domain, domain.build_world(1)


@pytest.fixture(scope="module")
def crypto():
    domain = get_domain("crypto")
    return domain, domain.build_world(1)


@pytest.fixture
def decorations(monkeypatch):
    """How many times strands' `@tool` decorates a function from now on."""
    made = []

    class Counted(decorator.FunctionToolMetadata):
        def __init__(self, *args, **kwargs):
            made.append(args[0])
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(decorator, "FunctionToolMetadata", Counted)
    return made


def test_new_desks_decorate_no_tool_again(kyc, crypto, decorations):
    for domain, world in (kyc, crypto):
        desks = [domain.action_desk(world) for _ in range(20)]
        assert {frozenset(desk.names) for desk in desks} == {domain.action_names}
        first, second = desks[0].tools, desks[1].tools
        for one, other in zip(first, second, strict=True):
            assert one is not other  # each desk's own tool, bound to it
            assert one.tool_spec is other.tool_spec  # the spec strands built once, shared
    assert decorations == []

    def control(x: int) -> int:
        """A control: a new function is decorated, and counted."""
        return x

    decorator.tool(control)
    assert len(decorations) == 1


def test_each_desks_tools_act_on_that_desk_only(kyc):
    domain, world = kyc
    first, second = domain.action_desk(world), domain.action_desk(world)
    customer, other = world.customers[0].id, world.customers[1].id
    (close,) = [t for t in first.tools if t.tool_name == "close_alert"]
    (escalate,) = [t for t in second.tools if t.tool_name == "escalate_case"]
    close(customer_id=customer, reason="reviewed")
    escalate(customer_id=other, reason="a payee is a PEP")
    assert first.state == {customer: {"alert": "closed"}}
    assert second.state == {other: {"alert": "escalated"}}


def test_concurrent_episodes_desks_stay_isolated(crypto):
    """Many desks' tools run at once through strands' own tool path (validation, a worker thread per call), as the
    task agents of concurrent episodes run them: each desk ends with exactly its own actions."""
    domain, world = crypto
    symbols = sorted({asset.symbol for asset in world.assets if len(world.assets_by_symbol[asset.symbol]) == 1})[:8]
    desks = [domain.action_desk(world) for _ in symbols]

    async def act(desk, symbol: str) -> None:
        (watch,) = [t for t in desk.tools if t.tool_name == "add_to_watchlist"]
        (alert,) = [t for t in desk.tools if t.tool_name == "set_price_alert"]
        for tool, arguments in (
            (watch, {"symbol": symbol}),
            (alert, {"symbol": symbol, "direction": "below", "price": 1.5}),
        ):
            use = {"toolUseId": f"{symbol}-{tool.tool_name}", "name": tool.tool_name, "input": arguments}
            events = [event async for event in tool.stream(use, {})]
            assert events[-1].tool_result["status"] == "success"

    async def all_at_once() -> None:
        await asyncio.gather(*(act(desk, symbol) for desk, symbol in zip(desks, symbols, strict=True)))

    asyncio.run(all_at_once())
    for desk, symbol in zip(desks, symbols, strict=True):
        assert desk.state == {"watchlist": [symbol], "alerts": {symbol: {"below": 1.5}}}
