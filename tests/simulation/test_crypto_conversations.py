"""Multi-turn crypto cases and the action desk: the rule that applies actions, the action tools, the conversation
cases' truth (from the labeller's rules and the world alone), the persona's follow-ups as the offline analyst
reads them, and generation end to end."""

import itertools
import json
import random
from collections import Counter

import pytest

from agents.simulated.analyst import follow_up_kind
from agents.simulated.user import fill
from simulation.domains import get_domain
from simulation.domains.base import end_state
from simulation.domains.crypto.actions import apply_action
from simulation.domains.crypto.analyst import GUARANTEE_NOTE, CryptoAnalystPolicy, _Analysis, request_type
from simulation.domains.crypto.cases import CONVERSATIONS, conversation_pool, iter_cases, tool_input
from simulation.domains.crypto.rules import read_liquidity
from simulation.domains.crypto.world import build_world
from store.dataset import Dataset
from store.records import ReviewItem, ToolTraceEntry

DOMAIN = get_domain("crypto")
ACT_KINDS = {"alert_below", "alert_above", "add_to_watchlist"}


@pytest.fixture(scope="module")
def world():
    return build_world(1)


@pytest.fixture(scope="module")
def conversations(world):
    """The multi-turn cases among the first 600 of the default mix."""
    return [c for c in DOMAIN.draw_cases(world, seed=3, count=600) if c.scenario is not None]


class FakeCall:
    """What the simulated analyst reads of a model call: the tool results so far, and seeded randomness."""

    def __init__(self, exchanges: list[ToolTraceEntry]):
        self._exchanges = exchanges

    def exchanges(self) -> list[ToolTraceEntry]:
        return self._exchanges

    def rng(self, salt: str, about: str | None = None) -> random.Random:
        return random.Random(salt)


def analyse(request: str, tools: dict) -> tuple[dict, list[ToolTraceEntry], _Analysis]:
    """The simulated analyst's investigation of `request` to its finding, its tool calls executed for real."""
    trace: list[ToolTraceEntry] = []
    while True:
        analysis = _Analysis(request, FakeCall(trace))
        step = analysis.next_step()
        if isinstance(step, dict):
            return step, trace, analysis
        name, tool_input_ = step
        output = json.dumps(tools[name](**tool_input_))
        trace.append(ToolTraceEntry(name=name, input=tool_input_, output=output, status="success"))


def said(kind: str, brief: dict) -> list[str]:
    """Every way the persona card words a message of `kind` for this brief."""
    card = DOMAIN.card.user_simulator
    templates = card.follow_ups.get(kind) or card.example_questions[kind]
    return [message for template in templates if (message := fill(template, brief))]


# ---- the action desk -----------------------------------------------------------------------------------------
def test_one_rule_applies_every_action_and_refuses_bad_arguments_without_a_trace():
    state: dict = {}
    apply_action(state, "set_price_alert", {"symbol": "HLX", "direction": "below", "price": 0.8})
    apply_action(state, "set_price_alert", {"symbol": "HLX", "direction": " Below", "price": 0.7})  # replaces it
    apply_action(state, "set_price_alert", {"symbol": "HLX", "direction": "above", "price": 2})
    apply_action(state, "add_to_watchlist", {"symbol": "HLX"})
    apply_action(state, "add_to_watchlist", {"symbol": "HLX"})
    apply_action(state, "add_to_watchlist", {"symbol": "ABC"})
    assert state == {"alerts": {"HLX": {"below": 0.7, "above": 2.0}}, "watchlist": ["ABC", "HLX"]}
    apply_action(state, "remove_from_watchlist", {"symbol": "ABC"})
    apply_action(state, "remove_from_watchlist", {"symbol": "HLX"})
    assert state == {"alerts": {"HLX": {"below": 0.7, "above": 2.0}}}  # an empty watchlist is no watchlist
    before = json.loads(json.dumps(state))
    refused = [
        ("set_price_alert", {"symbol": "HLX", "direction": "sideways", "price": 1.0}, "direction"),
        ("set_price_alert", {"symbol": "HLX", "direction": "below", "price": -1}, "positive"),
        ("set_price_alert", {"symbol": "HLX", "direction": "below", "price": "cheap"}, "positive"),
        ("set_price_alert", {"symbol": "HLX", "direction": "below", "price": True}, "positive"),
        ("set_price_alert", {"symbol": "HLX", "direction": "below", "price": float("inf")}, "positive"),
        ("add_to_watchlist", {"symbol": " "}, "symbol"),
        ("remove_from_watchlist", {"symbol": "HLX"}, "not on the watchlist"),
        ("buy", {"symbol": "HLX"}, "no action"),
    ]
    for name, arguments, message in refused:
        with pytest.raises(ValueError, match=message):
            apply_action(state, name, arguments)
    assert state == before


def test_the_action_tools_check_the_world_and_name_each_asset_one_way(world):
    desk = DOMAIN.action_desk(world)
    tools = {t.tool_name: t for t in desk.tools}
    assert set(tools) == DOMAIN.action_names and desk.state == {}
    asset = next(a for a in world.assets if len(world.assets_by_symbol[a.symbol]) == 1)
    tools["set_price_alert"](symbol=asset.id, direction="below", price=1.5)
    result = tools["add_to_watchlist"](symbol=asset.symbol.lower())
    assert result["state"] == desk.state == {"alerts": {asset.symbol: {"below": 1.5}}, "watchlist": [asset.symbol]}
    shared = world.assets_by_symbol["NOVA"]
    tools["add_to_watchlist"](symbol=shared[0].id)  # a shared ticker's asset is named by its id
    assert desk.state["watchlist"] == sorted([asset.symbol, shared[0].id])
    with pytest.raises(ValueError, match="no asset"):
        tools["add_to_watchlist"](symbol="NOPE")
    with pytest.raises(ValueError, match="shared by"):
        tools["set_price_alert"](symbol="NOVA", direction="above", price=1.0)
    assert DOMAIN.action_desk(world).state == {}  # every attempt gets a desk of its own


# ---- the cases -----------------------------------------------------------------------------------------------
def test_about_30_percent_of_default_cases_are_conversations_of_every_kind(conversations):
    assert 0.25 <= len(conversations) / 600 <= 0.36
    assert {c.category for c in conversations} == set(CONVERSATIONS)
    total = sum(DOMAIN.card.category_mix.values())
    assert 0.28 <= sum(DOMAIN.card.category_mix[c] for c in CONVERSATIONS) / total <= 0.32


def test_case_for_key_rebuilds_every_conversation_drawn_and_refuses_others(world, conversations):
    for case in conversations:
        category, kind, asset_id = case.key.split(":")
        assert (category, kind) == (case.category, CONVERSATIONS[category].request_type) and world.has_id(asset_id)
        assert DOMAIN.case_for_key(world, case.key) == case.model_copy(update={"index": 0})
    trend = conversations_of(conversations, "price_alert")[0].facts.subject_id
    injected = next(la.subject for la in world.labels if la.aspect == "trend" and "prompt_injection" in la.tags)
    for key in (
        f"price_alert:liquidity:{trend}",  # not the conversation's request type
        "sell_half:liquidity:AS-9999",  # no such asset
        f"wants_guarantee:trend:{injected}",  # a news injection is its own category's
        "sell_half:liquidity",
    ):
        with pytest.raises(LookupError):
            DOMAIN.case_for_key(world, key)


def conversations_of(cases, category):
    return [c for c in cases if c.category == category]


def test_the_truth_of_the_last_turn_is_the_labellers_rule_on_the_tools_outputs(world, conversations):
    tools = {t.tool_name: t for t in DOMAIN.tools(world)}
    labels = {(label.aspect, label.subject): label for label in world.labels}
    for case in conversations:
        asset = case.facts.subject_id
        if case.category == "sell_half":  # the liquidity rule on half the position, converted again
            opening = [c.input for c in case.expected_tool_calls if c.name == "convert_currency"]
            assert opening[0] == tool_input("convert_currency", case.brief)
            assert opening[1] == {**opening[0], "amount": opening[0]["amount"] / 2}
            reading = read_liquidity(
                tools["convert_currency"](**opening[1]), tools["get_exchange_listings"](symbol=case.brief["symbol"])
            )
        else:
            reading = labels[(CONVERSATIONS[case.category].aspect, asset)]
            assert [c.input for c in case.expected_tool_calls] == [
                tool_input(c.name, case.brief) for c in case.expected_tool_calls
            ]
        assert (case.facts.verdict, case.facts.typology, case.facts.evidence_ids, case.tags) == (
            reading.verdict,
            reading.typology,
            reading.evidence_ids,
            reading.tags,
        )


def test_each_conversation_draws_its_verdict_evenly(world):
    cases = list(itertools.islice(iter_cases(world, 7, {category: 1.0 for category in CONVERSATIONS}), 900))
    for category in CONVERSATIONS:
        verdicts = Counter(c.facts.verdict for c in cases if c.category == category)
        assert set(verdicts) == {label.verdict for label in conversation_pool(world, category)}
        shares = [n / sum(verdicts.values()) for n in verdicts.values()]
        assert min(shares) >= 0.5 / len(shares) and max(shares) <= 1.5 / len(shares), (category, verdicts)


def test_expected_actions_are_what_the_user_asks_for_and_leave_their_end_state(world, conversations):
    for case in conversations:
        symbol = case.brief["symbol"]
        (kind,) = case.scenario.follow_ups
        assert case.expected_end_state == end_state(apply_action, case.expected_actions)
        if case.category == "price_alert":
            (action,) = case.expected_actions
            direction = kind.removeprefix("alert_")
            assert action.name == "set_price_alert" and action.input["direction"] == direction
            assert action.input["symbol"] == symbol and action.input["price"] == float(case.brief["alert_price"])
            today = world.prices_by_asset[case.facts.subject_id][-1].close
            assert (action.input["price"] < today) == (direction == "below")  # the level is the way the user says
            assert case.expected_end_state == {"alerts": {symbol: {direction: action.input["price"]}}}
        elif case.category == "watchlist":
            assert [(a.name, a.input) for a in case.expected_actions] == [("add_to_watchlist", {"symbol": symbol})]
            assert case.expected_end_state == {"watchlist": [symbol]}
        else:
            assert case.expected_actions == [] and case.expected_end_state == {}


# ---- the user's follow-ups, as the offline analyst reads them ------------------------------------------------
def test_every_follow_up_the_user_can_say_reads_as_its_kind(world, conversations):
    policy = CryptoAnalystPolicy(0)
    for case in conversations:
        (kind,) = case.scenario.follow_ups
        assert case.scenario.max_turns == 6 and case.brief["follow_ups"] == [kind]
        openings = said(case.request_type, case.brief)
        for message in said(kind, case.brief):
            assert follow_up_kind(message) == ("act" if kind in ACT_KINDS else None), message
            question = f"{random.Random(message).choice(openings)} {message}"
            assert request_type(question) == request_type(openings[0]) == case.request_type, question
            if kind in ACT_KINDS:  # the action it asks for is the case's expected action
                analysis = _Analysis(openings[0], FakeCall([]))
                analysis.asked = message
                name, arguments = policy.action({}, analysis)
                assert [(name, arguments)] == [(a.name, a.input) for a in case.expected_actions], message


def test_the_analyst_answers_the_last_turn_from_the_tools_alone(world, conversations):
    tools = {t.tool_name: t for t in DOMAIN.tools(world)}
    for case in conversations:
        if case.category not in ("sell_half", "wants_guarantee"):
            continue
        (kind,) = case.scenario.follow_ups
        rng = random.Random(case.key)
        request = f"{rng.choice(said(case.request_type, case.brief))} {rng.choice(said(kind, case.brief))}"
        finding, trace, analysis = analyse(request, tools)
        assert (finding["verdict"], finding["typology"]) == (case.facts.verdict, case.facts.typology), case.key
        assert set(case.facts.evidence_ids) <= set(finding["evidence_ids"])
        if case.category == "sell_half":
            assert trace[0].input == case.expected_tool_calls[-1].input  # half the position, converted
        else:
            assert GUARANTEE_NOTE in analysis.notes


# ---- generation end to end -----------------------------------------------------------------------------------
def test_a_default_run_is_a_quarter_conversations_that_act_as_asked(cli, tmp_path, world):
    result = cli("generate", "--domain", "crypto", "--count", "120", "--seed", "3")
    assert result.exit_code == 0, result.output
    dataset = Dataset(tmp_path / "output", "crypto")
    records = list(dataset.records(dataset.latest()))
    assert len(records) >= 110
    long = [r for r in records if len(r.conversation) >= 4]
    assert len(long) / len(records) >= 0.25
    assert all(r.scenario is not None and r.category in CONVERSATIONS for r in long)
    acting = [r for r in records if r.expected_actions]
    assert {r.category for r in acting} == {"price_alert", "watchlist"}
    for record in records:
        assert record.end_state == record.expected_end_state  # nothing done unasked, everything asked done
        if record.scenario is None:
            assert record.end_state == {} and len(record.conversation) == 2
            continue
        case = DOMAIN.case_for_key(world, record.case_key)  # the record's truth, re-earned from the world
        assert (case.scenario, case.facts, case.expected_actions) == (
            record.scenario,
            record.facts,
            record.expected_actions,
        )
        assert [t.role for t in record.conversation] == ["user", "assistant"] * 2
        assert record.reference_answer == record.conversation[-1].content
        assert record.reference_output["verdict"] == record.facts.verdict
        criteria = {c.id: c for c in record.critique.criteria}
        assert criteria["goal_met"].passed and criteria["end_state_matches"].passed
        if record.category == "wants_guarantee":
            assert criteria["declines_the_guarantee"].passed
    for record in acting:
        for action in record.expected_actions:
            assert action.input["symbol"] == DOMAIN.case_for_key(world, record.case_key).brief["symbol"]
            if action.name == "set_price_alert":
                assert action.input["direction"] in ("below", "above") and action.input["price"] > 0
        assert record.end_state and record.end_state == end_state(apply_action, record.expected_actions)
        last = record.conversation[-1].tool_trace
        assert [(t.name, t.input) for t in last if t.name in DOMAIN.action_names] == [
            (a.name, a.input) for a in record.expected_actions
        ]


def test_every_draft_defective_puts_wrong_actions_in_the_review_queue(cli, tmp_path, world):
    args = ("--domain", "crypto", "--count", "40", "--seed", "3", "--sim-defect-rate", "1", "--max-rounds", "1")
    result = cli("generate", *args)
    assert result.exit_code == 1 and "no example accepted" in result.output, result.output
    items = [
        ReviewItem.model_validate_json(line)
        for path in (tmp_path / "output" / "crypto" / "review").glob("*.jsonl")
        for line in path.read_text().splitlines()
    ]
    wrong = [i for i in items if "end_state_matches" in i.reasons]
    assert len(wrong) >= 3 and {i.category for i in wrong} <= {"price_alert", "watchlist"}
    for item in wrong:
        expected = DOMAIN.case_for_key(world, item.case_key).expected_end_state
        assert item.attempts[-1].end_state != expected
        (check,) = [c for c in item.critiques[-1].criteria if c.id == "end_state_matches"]
        assert not check.passed and check.details["differences"]
