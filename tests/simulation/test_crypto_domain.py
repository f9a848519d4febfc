"""The crypto-market domain pack: its world, tools and cases, and generation end to end through the CLI."""

import json
import re
from datetime import date, timedelta
from pathlib import Path

import pytest

from simulation.domains import get_domain
from simulation.domains.crypto.analyst import PLAN, request_type
from simulation.domains.crypto.cases import CATEGORIES
from simulation.domains.crypto.world import (
    CONCENTRATED_TOP10_PCT,
    SPIKE_MIN_RISE,
    TREND_MIN_MOVE,
    UNLOCK_RISK_SHARE,
    WINDOW_DAYS,
    build_world,
    spike_bars,
    spike_rise,
    trend_of,
    upcoming_unlocks,
)
from store.records import Example, ReviewItem

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = get_domain("crypto")
SIMPLE_TYPES = {"string", "integer", "number", "boolean"}


@pytest.fixture(scope="module", params=[1, 2, 3])
def world(request):
    return build_world(request.param)


def request_type_of(spec) -> str:
    """The analyst's reading of a category's request type: advice requests are unlock questions."""
    return "unlock" if spec.request_type == "advice" else spec.request_type


def export(cli, tmp_path) -> list[Example]:
    out = tmp_path / "crypto.jsonl"
    result = cli("dataset", "export", "crypto", "--format", "jsonl", "--out", str(out))
    assert result.exit_code == 0, result.output
    return [Example.model_validate_json(line) for line in out.read_text().splitlines()]


def review_items(tmp_path) -> list[ReviewItem]:
    return [
        ReviewItem.model_validate_json(line)
        for path in (tmp_path / "output" / "crypto" / "review").glob("*.jsonl")
        for line in path.read_text().splitlines()
    ]


# ---- the world ---------------------------------------------------------------------------------------------
def test_world_is_a_function_of_its_seed(world):
    fresh = build_world.__wrapped__  # bypass the cache: really build it again
    assert fresh(world.world_seed).model_dump() == world.model_dump()
    assert fresh(world.world_seed + 10).model_dump() != world.model_dump()


def test_every_asset_has_90_days_and_every_label_cites_evidence_that_exists(world):
    assert 25 <= len(world.assets) <= 40
    assert all(len(world.prices_by_asset[a.id]) == 90 for a in world.assets)
    for label in world.labels:
        assert world.has_id(label.asset_id) and label.evidence_ids
        assert all(world.has_id(i) for i in label.evidence_ids), label


def test_planted_patterns_have_their_shape(world):
    for label in world.labels:
        window = world.prices_by_asset[label.asset_id][-WINDOW_DAYS:]
        if label.aspect == "trend":
            verdict, change = trend_of(window)
            assert verdict == label.verdict and (verdict == "sideways" or abs(change) >= TREND_MIN_MOVE + 0.05)
        if label.profile == "pump_and_dump":
            spike = spike_bars(window)
            top10 = world.onchain_by_asset[label.asset_id].top10_holders_pct
            assert spike_rise(window, spike) >= SPIKE_MIN_RISE and top10 >= CONCENTRATED_TOP10_PCT
        if label.aspect == "unlock":
            asset = world.by_id[label.asset_id]
            share = sum(u.tokens for u in upcoming_unlocks(world.unlocks_by_asset[asset.id], world.as_of))
            share /= asset.circulating_supply
            assert (share >= 1.5 * UNLOCK_RISK_SHARE) if label.typology else (share <= UNLOCK_RISK_SHARE / 3)
        if label.aspect == "liquidity":
            depth = sum(world.by_id[i].bid_depth_2pct_usd for i in label.evidence_ids)
            assert depth <= 30_000 if label.typology else depth >= 3_000_000  # positions are $100k-$520k
        if label.profile == "downtrend_injected":
            assert any("AI ASSISTANTS" in n.body for n in world.news_by_asset[label.asset_id])


def test_world_dump_is_json_with_every_part(world):
    dumped = json.loads(DOMAIN.dump_world(world))
    assert dumped["world_seed"] == world.world_seed and len(dumped["prices"]) == len(world.prices)
    assert re.fullmatch(r"\d+", dumped["domain_version"])


# ---- tools -------------------------------------------------------------------------------------------------
def test_tools_answer_from_the_world_and_reject_unknown_ids(world):
    tools = {t.tool_name: t for t in DOMAIN.tools(world)}
    assert len(tools) == 10
    asset = world.assets[0]
    assert tools["get_price"](symbol=asset.symbol.lower())["circulating_supply"] == asset.circulating_supply
    history = tools["get_price_history"](symbol=asset.id, days=7)
    assert [b["id"] for b in history] == [b.id for b in world.prices_by_asset[asset.id][-7:]]
    since = (date.fromisoformat(world.as_of) - timedelta(days=10)).isoformat()
    assert all(n["date"] > since for n in tools["get_news"](symbol=asset.symbol, days=10))
    assert tools["convert_currency"](amount=100, from_currency="USD", to_currency="usd")["converted"] == 100
    with pytest.raises(ValueError, match="no asset"):
        tools["get_price"](symbol="NOPE")
    with pytest.raises(ValueError, match="shared by"):
        tools["get_onchain_metrics"](symbol="NOVA")
    with pytest.raises(ValueError, match="unsupported currency"):
        tools["convert_currency"](amount=1, from_currency=asset.symbol, to_currency="USD")
    with pytest.raises(ValueError, match="no exchange"):
        tools["get_exchange_info"](exchange_id="EX-99")
    assert len(tools["search_assets"](query="nova")) == 2


def test_tool_parameters_are_simple_types_another_framework_can_wrap():
    for t in DOMAIN.tools(build_world(1)):
        for name, prop in t.tool_spec["inputSchema"]["json"]["properties"].items():
            types = {prop.get("type")} | {o.get("type") for o in prop.get("anyOf", [])} - {None, "null"}
            items = prop.get("items", {}).get("type")
            assert types <= SIMPLE_TYPES | {"array"} and items in (None, "string"), (t.tool_name, name, prop)


# ---- cases and the simulated analyst ------------------------------------------------------------------------
def test_every_example_question_reads_as_its_request_type():
    """The simulated analyst must understand every request the simulated user can write."""
    fill = {"asset_name": "Helix Network", "symbol": "HLX", "amount": "250,000", "currency_sign": "£"}
    for kind, questions in DOMAIN.card.user_simulator.example_questions.items():
        expected = "unlock" if kind == "advice" else kind
        for question in questions:
            assert request_type(question.format(**fill)) == expected, question


def test_cases_are_deterministic_and_carry_ground_truth(world):
    cases = DOMAIN.draw_cases(world, seed=5, count=300)
    assert [c.key for c in cases] == [c.key for c in DOMAIN.draw_cases(world, seed=5, count=300)]
    assert [c.key for c in cases[:50]] == [c.key for c in DOMAIN.draw_cases(world, seed=5, count=50)]
    assert {c.category for c in cases} == set(CATEGORIES)
    assert 0.04 <= sum(c.difficulty == "adversarial" for c in cases) / len(cases) <= 0.16
    for case in cases:
        spec = CATEGORIES[case.category]
        assert [t.name for t in case.expected_tool_calls] == list(spec.tools) == list(PLAN[request_type_of(spec)])
        assert all(world.has_id(i) for i in case.facts.evidence_ids)


def test_most_cases_need_two_or_three_of_the_ten_tools(world):
    needs = [len(c.expected_tool_calls) for c in DOMAIN.draw_cases(world, seed=11, count=300)]
    assert max(needs) <= 3 and sum(n in (2, 3) for n in needs) / len(needs) >= 0.9


def test_without_defects_every_category_passes_first_time_with_exactly_the_tools_it_needs(cli, tmp_path):
    result = cli("generate", "--domain", "crypto", "--count", "25", "--seed", "27", "--sim-defect-rate", "0")
    assert result.exit_code == 0, result.output
    records = export(cli, tmp_path)
    assert {r.category for r in records} == set(CATEGORIES)
    for record in records:
        tools = next(c for c in record.critique.criteria if c.id == "right_tools")
        assert record.critique.rounds == 1 and tools.score == 1.0, (record.category, tools.rationale)
        assert [t.name for t in record.tool_trace] == [t.name for t in record.expected_tool_calls]
    assert all(item.reasons == ["duplicate"] for item in review_items(tmp_path))


# ---- generation end to end ----------------------------------------------------------------------------------
def test_generate_then_export_gives_valid_grounded_records(cli, tmp_path):
    result = cli("generate", "--domain", "crypto", "--count", "20", "--seed", "1")
    assert result.exit_code == 0, result.output
    records = export(cli, tmp_path)
    world = build_world(1)
    assert len(records) >= 15
    for record in records:
        assert record.domain == "crypto" and record.critique.passed and record.reference_answer
        if record.category != "out_of_scope":  # declining is the one case with no tool to call
            assert record.expected_tool_calls and record.tool_trace
        cited = record.reference_output["evidence_ids"]
        assert all(world.has_id(i) for i in cited), cited
        assert set(record.facts.evidence_ids) <= set(cited)
        assert record.reference_output["verdict"] == record.facts.verdict


def test_every_draft_defective_and_no_revision_accepts_nothing(cli, tmp_path):
    args = ("--domain", "crypto", "--count", "12", "--seed", "3", "--sim-defect-rate", "1", "--max-rounds", "1")
    result = cli("generate", *args)
    assert result.exit_code == 1 and "no example accepted: 12 of 12" in result.output, result.output
    assert not (tmp_path / "output" / "crypto" / "versions").exists()
    items = review_items(tmp_path)
    assert sorted(i.episode for i in items) == list(range(12))
    assert all(i.status == "rejected" and i.reasons and i.critiques[-1].feedback for i in items)


def test_every_draft_defective_with_revisions_accepts_after_feedback(cli, tmp_path):
    args = ("--domain", "crypto", "--count", "12", "--seed", "3", "--sim-defect-rate", "1", "--max-rounds", "3")
    assert cli("generate", *args).exit_code == 0
    records = export(cli, tmp_path)
    assert len(records) == 12
    assert all(r.critique.rounds >= 2 and r.critique.comparison for r in records)


def test_domain_dump_writes_the_crypto_world(cli, tmp_path):
    out = tmp_path / "world.json"
    result = cli("domain", "dump", "crypto", "--world-seed", "7", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text()) == build_world(7).model_dump(mode="json")


def test_rubric_check_accepts_the_crypto_rubric(cli):
    result = cli("rubric", "check", str(ROOT / "rubrics" / "crypto.yaml"))
    assert result.exit_code == 0 and "crypto-market" in result.output, result.output
