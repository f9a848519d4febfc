"""The crypto-market domain pack: its world, the labeller's rules, tools and cases, the simulated analyst, and
generation end to end through the CLI."""

import ast
import json
import random
import re
import string
import time
from collections import Counter, defaultdict
from datetime import date, timedelta
from pathlib import Path

import pytest

from agents.simulated.user import SimulatedUserPolicy
from simulation.domains import get_domain
from simulation.domains.base import OFF_TOPIC_VARIANTS
from simulation.domains.crypto import analyst
from simulation.domains.crypto.analyst import PLAN, _Analysis, request_type
from simulation.domains.crypto.cases import (
    ALERT_REASONS,
    ALLOWED,
    CATEGORIES,
    CONVERSATIONS,
    POOLS,
    conversation_pool,
    pool,
    tool_input,
)
from simulation.domains.crypto.rules import (
    HARDNESS_TAGS,
    TREND_DAYS,
    label_world,
    liquidity_position,
    read_liquidity,
    read_pump,
    read_trend,
    read_unlocks,
)
from simulation.domains.crypto.world import HISTORY_DAYS, build_world
from simulation.runner import Run, RunConfig
from store.dedup import NEAR_DUPLICATE_THRESHOLD, PromptIndex, jaccard, shingles
from store.records import Example, ReviewItem, ToolTraceEntry

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = get_domain("crypto")
SIMPLE_TYPES = {"string", "integer", "number", "boolean"}
ADVERSARIAL_TYPES = {"advice", "ticker_lookup", "off_topic"}


@pytest.fixture(scope="module", params=[1, 2])
def world(request):
    return build_world(request.param)


def analyst_kind(request_type_: str) -> str:
    """The analyst's reading of a request type: advice requests are unlock questions."""
    return "unlock" if request_type_ == "advice" else request_type_


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


class FakeCall:
    """What the simulated analyst reads of a model call: the tool results so far, and seeded randomness."""

    def __init__(self, exchanges: list[ToolTraceEntry], seed: int = 0):
        self._exchanges = exchanges
        self.seed = seed

    def exchanges(self) -> list[ToolTraceEntry]:
        return self._exchanges

    def rng(self, salt: str) -> random.Random:
        return random.Random(f"{self.seed}:{salt}")


def analyse(request: str, tools: dict) -> tuple[dict, list[ToolTraceEntry]]:
    """Run the simulated analyst's investigation to its finding, executing its tool calls for real."""
    trace: list[ToolTraceEntry] = []
    while True:
        step = _Analysis(request, FakeCall(trace)).next_step()
        if isinstance(step, dict):
            return step, trace
        name, tool_input_ = step
        output = json.dumps(tools[name](**tool_input_))
        trace.append(ToolTraceEntry(name=name, input=tool_input_, output=output, status="success"))


def fill(template: str, brief: dict) -> str:
    return template.format_map({k: v for k, v in brief.items() if isinstance(v, str | int)})


# ---- the world ---------------------------------------------------------------------------------------------
def test_world_is_a_function_of_its_seed():
    world = build_world(1)
    fresh = build_world.__wrapped__  # bypass the cache: really build it again
    assert fresh(1).model_dump() == world.model_dump()
    other = fresh(11)
    assert other.prices[:5] != world.prices[:5] and other.labels != world.labels


def test_the_world_builds_in_under_three_seconds():
    build_world(1)  # imports warm
    started = time.process_time()
    build_world.__wrapped__(17)
    assert time.process_time() - started <= 3.0


def test_assets_have_91_closes_unique_names_and_realistic_unique_tickers(world):
    assert len(world.assets) >= 700
    assert all(len(world.prices_by_asset[a.id]) == HISTORY_DAYS + 1 for a in world.assets)
    assert len({a.name for a in world.assets}) == len(world.assets)
    tickers = Counter(a.symbol for a in world.assets)
    assert all(re.fullmatch(r"[A-Z]{3,5}", t) for t in tickers)
    assert not set(tickers) & {"USD", "EUR", "GBP", "CHF", "JPY", "USDT", "USDC"}
    shared = [t for t, n in tickers.items() if n > 1]
    assert len(shared) >= 30 and all(tickers[t] == 2 for t in shared)
    assert len(world.by_id) == sum(
        len(group)
        for group in (world.assets, world.prices, world.exchanges, world.listings, world.unlocks, world.news)
        + (world.onchain, world.fx_rates)
    )


def test_the_labels_are_the_labellers_reading_of_the_tools(world):
    assert world.labels == label_world(world)
    for label in world.labels:
        assert world.has_id(label.asset_id) and all(world.has_id(i) for i in label.evidence_ids), label


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_the_labeller_gives_every_planted_case_its_intended_label(seed, capsys):
    """A planted case whose label differs from what the generator meant is a generator bug; subjects nothing was
    planted for are labelled all the same, and become cases."""
    world = build_world(seed)
    labels = {(label.subject, label.aspect): label for label in world.labels}
    for plant in world.planted:
        label = labels.get((plant.asset_id, plant.aspect))
        assert label is not None, plant
        assert (label.verdict, label.typology) == (plant.verdict, plant.typology), (plant, label.measures)
        assert set(plant.tags) <= set(label.tags), (plant, label.tags, label.measures)
    planted = {(p.asset_id, p.aspect) for p in world.planted}
    background = Counter(f"{la.aspect}:{la.verdict}" for key, la in labels.items() if key not in planted)
    with capsys.disabled():
        print(f"\nworld {seed}: {len(world.planted)} planted, {sum(background.values())} background subjects labelled")
        print("  " + ", ".join(f"{k} {n}" for k, n in sorted(background.items())))
    assert background["trend:uptrend"] and background["pump:no_red_flags"]  # the labeller runs over every asset


def test_the_rules_at_their_thresholds():
    def bars(*closes, volumes=None):
        volumes = volumes or [100.0] * len(closes)
        pairs = enumerate(zip(closes, volumes, strict=True))
        return [{"id": f"PX-{i}", "close": c, "volume_usd": v} for i, (c, v) in pairs]

    assert read_trend(bars(100, 115), []).verdict == "uptrend"
    assert read_trend(bars(100, 114.9), []).verdict == "sideways"
    assert read_trend(bars(100, 85), []).verdict == "downtrend"
    assert read_trend(bars(100, 120, 104), []).tags == ["reversal"]
    assert "near_threshold" in read_trend(bars(100, 116), []).tags
    price = {"circulating_supply": 1000}
    unlock = lambda tokens, days=10: {"id": "U", "tokens": tokens, "days_from_now": days, "pct_of_max_supply": 0.1}  # noqa: E731
    assert read_unlocks([unlock(50)], price).verdict == "elevated_risk"
    assert read_unlocks([unlock(49)], price).verdict == "moderate_risk"
    assert read_unlocks([unlock(10)], price).verdict == "moderate_risk"
    assert read_unlocks([unlock(9)], price).verdict == "no_red_flags"
    assert read_unlocks([unlock(50, days=31)], price).evidence_ids == []
    assert read_unlocks([unlock(30), unlock(30)], price).tags == ["combined_unlocks", "share_of_max_misleads"]
    fx = {"amount": 90.0, "converted": 100.0}
    market = lambda depth, status="active": {"id": "L", "status": status, "bid_depth_2pct_usd": depth}  # noqa: E731
    assert read_liquidity(fx, [market(100)]).verdict == "moderate_risk"  # not larger than the bids
    assert read_liquidity(fx, [market(99.9)]).verdict == "elevated_risk"
    assert read_liquidity(fx, [market(200)]).verdict == "no_red_flags"
    assert read_liquidity(fx, [market(60), market(500, "delisted")]).tags == ["delisted_depth"]
    assert "currency_matters" in read_liquidity(fx, [market(95)]).tags
    assert read_liquidity(fx, [market(500, "delisted")]).tags[-1] == "no_active_market"
    onchain = {"id": "OC", "top10_holders_pct": 50.0}
    spike = bars(*[1.0] * 10, 1.5, 1.0, volumes=[100.0] * 10 + [500.0, 100.0])
    assert read_pump(spike, onchain, []).verdict == "elevated_risk"
    assert read_pump(spike, {**onchain, "top10_holders_pct": 49.9}, []).verdict == "moderate_risk"
    assert read_pump(spike[:10] + bars(1.49), onchain, []).verdict == "no_red_flags"  # no spike: one sign


def test_the_analyst_and_the_labeller_agree_exactly_at_the_thresholds():
    """Two readings of the same written rules, one per side of each threshold, on made-up tool outputs."""

    def finding(request: str, outputs: dict) -> dict:
        trace = [
            ToolTraceEntry(name=name, input={}, output=json.dumps(output), status="success")
            for name, output in outputs.items()
        ]
        return _Analysis(request, FakeCall(trace)).next_step()

    def history(*closes, volumes=None):
        volumes = volumes or [100.0] * len(closes)
        pairs = enumerate(zip(closes, volumes, strict=True))
        return [{"id": f"PX-{i}", "date": f"2026-09-{i + 1:02d}", "close": c, "volume_usd": v} for i, (c, v) in pairs]

    for last in (115, 114.99, 85, 85.01):
        bars = history(100, last)
        mine = finding("How has Helix Network (HLX) moved?", {"get_price_history": bars, "get_news": []})
        assert mine["verdict"] == read_trend(bars, []).verdict
    price = {"id": "PX-1", "date": "2026-09-30", "price": 1.0, "circulating_supply": 1000}
    for tokens in (50, 49, 10, 9, 0):
        unlocks = [
            {"id": "U-1", "date": "2026-10-10", "days_from_now": 10, "tokens": tokens, "pct_of_max_supply": 1.0}
            | {"recipient": "core team"}
        ]
        mine = finding("Any unlock for Helix Network (HLX)?", {"get_token_unlocks": unlocks, "get_price": price})
        assert (mine["verdict"], mine["typology"]) == (lambda r: (r.verdict, r.typology))(read_unlocks(unlocks, price))
    fx = {"amount": 90.0, "from_currency": "EUR", "converted": 100.0, "rate": 1.1111}
    for depth in (100, 99.99, 200, 199.99):
        markets = [
            {"id": "L-1", "status": "active", "bid_depth_2pct_usd": depth, "exchange": "Bitvale", "pair": "HLX/EUR"}
            | {"avg_daily_volume_usd": 1000.0}
        ]
        mine = finding("I hold €90 of Helix Network (HLX).", {"convert_currency": fx, "get_exchange_listings": markets})
        assert mine["verdict"] == read_liquidity(fx, markets).verdict
    onchain = {"id": "OC-1", "top10_holders_pct": 50.0, "holders": 100, "as_of": "2026-09-30"}
    for rise, volume, top10 in ((1.5, 500, 50.0), (1.4999, 500, 50.0), (1.5, 499.99, 50.0), (1.5, 500, 49.9)):
        bars = history(*[1.0] * 10, rise, 1.0, volumes=[100.0] * 10 + [volume, 100.0])
        metrics = onchain | {"top10_holders_pct": top10}
        outputs = {"get_price_history": bars, "get_news": [], "get_onchain_metrics": metrics}
        mine = finding("Is Helix Network (HLX) a pump?", outputs)
        assert mine["verdict"] == read_pump(bars, metrics, []).verdict, (rise, volume, top10)


def test_the_task_agents_mission_states_the_rules():
    mission = " ".join(DOMAIN.card.task_agent.mission.split())
    for rule in ("15% or more", "5% or more", "1% up to 5%", "half of them", "5x the", "50% or more", "30 days"):
        assert rule in mission, rule


# ---- tools -------------------------------------------------------------------------------------------------
def test_tools_answer_from_the_world_and_reject_unknown_ids(world):
    tools = {t.tool_name: t for t in DOMAIN.tools(world)}
    assert len(tools) == 10
    asset = next(a for a in world.assets if len(world.assets_by_symbol[a.symbol]) == 1)
    assert tools["get_price"](symbol=asset.symbol.lower())["circulating_supply"] == asset.circulating_supply
    history = tools["get_price_history"](symbol=asset.id, days=7)  # the close 7 days ago, and every one since
    assert [b["id"] for b in history] == [b.id for b in world.prices_by_asset[asset.id][-8:]]
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
    assert len([m for m in tools["search_assets"](query="nova") if m["symbol"] == "NOVA"]) == 2


def test_tool_parameters_are_simple_types_another_framework_can_wrap():
    for t in DOMAIN.tools(build_world(1)):
        for name, prop in t.tool_spec["inputSchema"]["json"]["properties"].items():
            types = {prop.get("type")} | {o.get("type") for o in prop.get("anyOf", [])} - {None, "null"}
            items = prop.get("items", {}).get("type")
            assert types <= SIMPLE_TYPES | {"array"} and items in (None, "string"), (t.tool_name, name, prop)


# ---- cases -------------------------------------------------------------------------------------------------
def test_every_request_type_has_several_outcomes_none_above_60_percent_of_the_default_mix(world):
    weights: dict[str, Counter] = defaultdict(Counter)
    for category, weight in DOMAIN.card.category_mix.items():
        if category in CONVERSATIONS:  # a conversation draws its verdict first, every verdict as likely
            kind = CONVERSATIONS[category].request_type
            verdicts = Counter({label.verdict: 1 for label in conversation_pool(world, category)})
        else:
            spec = CATEGORIES[category]
            kind = spec.request_type
            verdicts = (
                Counter(label.verdict for label in pool(world, category)) if spec.profile else {"out_of_scope": 1}
            )
        for verdict, n in verdicts.items():
            weights[kind][verdict] += weight * n / sum(verdicts.values())
    for kind, verdicts in weights.items():
        if kind not in ADVERSARIAL_TYPES:
            assert len(verdicts) >= 3 and max(verdicts.values()) / sum(verdicts.values()) <= 0.6, (kind, verdicts)
    majority = sum(max(v.values()) for v in weights.values()) / sum(sum(v.values()) for v in weights.values())
    assert majority <= 0.45


def test_cases_are_deterministic_and_carry_the_labellers_truth(world):
    cases = DOMAIN.draw_cases(world, seed=5, count=300)
    assert [c.key for c in cases] == [c.key for c in DOMAIN.draw_cases(world, seed=5, count=300)]
    assert [c.key for c in cases[:50]] == [c.key for c in DOMAIN.draw_cases(world, seed=5, count=50)]
    assert {c.category for c in cases} == set(CATEGORIES) | set(CONVERSATIONS)
    assert 0.05 <= sum(c.difficulty == "adversarial" for c in cases) / len(cases) <= 0.16
    labels = {(label.aspect, label.subject): label for label in world.labels}
    for case in cases:
        if case.scenario is not None:  # multi-turn: tests/simulation/test_crypto_conversations.py
            continue
        spec = CATEGORIES[case.category]
        assert case.request_type == spec.request_type
        assert (
            [t.name for t in case.expected_tool_calls]
            == list(spec.tools)
            == list(PLAN[analyst_kind(spec.request_type)])
        )
        if spec.profile is None:
            continue
        label = labels[(POOLS[spec.profile].aspect, case.key.partition(":")[2])]
        assert POOLS[spec.profile].holds(label)
        assert (case.facts.verdict, case.facts.typology, case.facts.evidence_ids) == (
            label.verdict,
            label.typology,
            label.evidence_ids,
        )
        assert case.tags == label.tags or case.category == "ambiguous_ticker"


def test_a_thousand_distinct_cases_in_the_default_mix_leave_every_category_cases_to_spare(world):
    cases = DOMAIN.draw_cases(world, seed=3, count=1000)
    assert len({c.key for c in cases}) == 1000
    drawn = Counter(c.category for c in cases)
    for category, spec in CATEGORIES.items():
        left = len(pool(world, category)) - drawn[category] if spec.profile else OFF_TOPIC_VARIANTS - drawn[category]
        assert left >= 5, (category, drawn[category], left)
    share = {c: n / 1000 for c, n in drawn.items()}
    total = sum(DOMAIN.card.category_mix.values())
    assert all(abs(share[c] - w / total) <= 0.03 for c, w in DOMAIN.card.category_mix.items())


def test_case_for_key_rebuilds_every_drawn_case(world):
    for case in DOMAIN.draw_cases(world, seed=8, count=1000):
        assert DOMAIN.case_for_key(world, case.key) == case.model_copy(update={"index": 0})
    subject = next(label.subject for label in world.labels if label.aspect == "trend" and label.verdict == "uptrend")
    with pytest.raises(LookupError, match="is not trend_down"):
        DOMAIN.case_for_key(world, f"trend_down:{subject}")
    with pytest.raises(LookupError):
        DOMAIN.case_for_key(world, "trend_up:AS-9999")
    with pytest.raises(LookupError):
        DOMAIN.case_for_key(world, "bull_market:AS-0001")


def test_later_draws_leave_out_the_cases_a_dataset_holds(world):
    first = DOMAIN.draw_cases(world, seed=1, count=200)
    later = DOMAIN.draw_cases(world, seed=1, count=200, exclude=frozenset(c.key for c in first))
    assert not {c.key for c in first} & {c.key for c in later}


def test_expected_tool_calls_name_the_same_tools_per_request_type_and_follow_from_the_brief(world):
    names: dict[str, set] = defaultdict(set)
    for case in DOMAIN.draw_cases(world, seed=4, count=600):
        if case.scenario is not None:  # a conversation's later turns need more: test_crypto_conversations.py
            continue
        names[case.request_type].add(tuple(c.name for c in case.expected_tool_calls))
        if case.request_type != "off_topic":
            assert all(c.input == tool_input(c.name, case.brief) for c in case.expected_tool_calls)
            assert [c.name for c in case.allowed_tool_calls] == list(ALLOWED.get(case.request_type, ()))
            assert not {c.name for c in case.allowed_tool_calls} & {c.name for c in case.expected_tool_calls}
    assert all(len(tool_sets) == 1 for tool_sets in names.values()), names


def test_at_least_a_fifth_of_default_cases_are_hard(world):
    cases = DOMAIN.draw_cases(world, seed=6, count=1000)
    hard = [c for c in cases if set(c.tags) & set(HARDNESS_TAGS)]
    assert len(hard) / len(cases) >= 0.2
    tags = Counter(t for c in hard for t in c.tags)
    assert {"near_threshold", "conflicting_news", "reversal", "currency_matters", "partial_signals"} <= set(tags)


def test_briefs_fill_every_template_of_their_request_type_and_say_nothing_of_the_answer(world):
    questions = DOMAIN.card.user_simulator.example_questions
    keys: dict[str, set] = defaultdict(set)
    reasons: dict[str, set] = defaultdict(set)
    for case in DOMAIN.draw_cases(world, seed=2, count=1000):
        for template in questions[case.request_type]:
            fields = {f for _, f, _, _ in string.Formatter().parse(template) if f}
            assert fields <= case.brief.keys(), (case.key, template)
        keys[case.category if case.scenario else case.request_type].add(frozenset(case.brief))
        if "alert_reason" in case.brief:
            reasons[case.category].add(case.brief["alert_reason"])
            assert case.brief["alert_reason"] in ALERT_REASONS[case.request_type]
        text = " ".join(str(v) for k, v in case.brief.items() if k != "request_type").lower()
        assert not re.search(r"uptrend|downtrend|sideways|risk|pump|red flag|spike", text), case.brief
    assert all(len(shapes) == 1 for shapes in keys.values()), keys
    for category in ("trend_up", "trend_down", "range_bound", "unlock_risk", "unlock_minor", "thin_liquidity"):
        assert reasons[category] == set(ALERT_REASONS[CATEGORIES[category].request_type])  # the same for every outcome
    for kind, templates in questions.items():
        assert len(templates) >= 6, kind


def test_every_request_the_simulated_user_can_write_reads_as_its_request_type(world):
    """The simulated user fills an example, or joins two, adds context, an opener or a closer: the simulated
    analyst must understand every request it can write, and the request must name the asset (and position)."""
    card = DOMAIN.card.user_simulator
    sections = {**card.example_questions, "openers": card.openers, "closers": card.closers}
    user = SimulatedUserPolicy()
    for case in DOMAIN.draw_cases(world, seed=9, count=120):
        examples = [fill(t, case.brief) for t in card.example_questions[case.request_type]]
        for n in range(25):
            message = user.write(examples, case.brief, sections, FakeCall([], seed=n))
            assert request_type(message) == analyst_kind(case.request_type), message
            if case.request_type == "liquidity":
                assert f"{case.brief['currency_sign']}{case.brief['amount']}" in message, message
            if case.request_type not in {"off_topic", "ticker_lookup"}:
                assert f"({case.brief['symbol']})" in message, message


def test_prompts_about_different_assets_or_request_types_are_never_near_duplicates():
    world = build_world(1)
    questions = DOMAIN.card.user_simulator.example_questions
    cases = [
        c
        for c in DOMAIN.draw_cases(world, seed=12, count=400)
        if c.request_type != "off_topic" and c.scenario is None  # a conversation opens as a single-turn case does
    ]
    index = PromptIndex()
    for case in cases:
        for n, template in enumerate(questions[case.request_type]):
            prompt = fill(template, case.brief)
            match = index.match(prompt)
            assert match is None or match.key.partition("#")[0] == case.key, (prompt, match)
            index.add(f"{case.key}#{n}", prompt)
    by_asset: dict[str, list] = defaultdict(list)
    for case in cases:
        by_asset[case.facts.subject_id].append(case)
    for group in by_asset.values():
        for a, b in ((a, b) for a in group for b in group if a.request_type < b.request_type):
            for ta in questions[a.request_type]:
                for tb in questions[b.request_type]:
                    similarity = jaccard(shingles(fill(ta, a.brief)), shingles(fill(tb, b.brief)))
                    assert similarity < NEAR_DUPLICATE_THRESHOLD - 0.1, (ta, tb, similarity)


def test_liquidity_positions_follow_from_the_asset_alone(world):
    case = next(c for c in DOMAIN.draw_cases(world, seed=1, count=200) if c.request_type == "liquidity")
    amount, currency = liquidity_position(case.facts.subject_id)
    assert case.brief["amount"] == f"{amount:,}" and case.brief["currency_sign"] == {"EUR": "€", "GBP": "£"}[currency]
    assert 20_000 <= amount <= 300_000


# ---- the simulated analyst ----------------------------------------------------------------------------------
def test_the_analyst_reads_only_tool_results_and_the_rules_numbers():
    tree = ast.parse(Path(analyst.__file__).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and "domains" in node.module:
            assert node.module == "simulation.domains.crypto.rules", node.module
            assert all(alias.name.isupper() for alias in node.names), [a.name for a in node.names]
        if isinstance(node, ast.Import):
            assert not any("domains" in alias.name for alias in node.names)
        if isinstance(node, ast.Attribute):
            assert node.attr not in {"labels", "planted", "facts", "by_id"}, node.attr


def test_the_analyst_reaches_the_labellers_verdict_on_every_case_from_the_tools_alone(world):
    tools = {t.tool_name: t for t in DOMAIN.tools(world)}
    questions = DOMAIN.card.user_simulator.example_questions
    for case in DOMAIN.draw_cases(world, seed=10, count=1000):
        if case.scenario is not None:  # the truth of a conversation's last turn: test_crypto_conversations.py
            continue
        request = fill(random.Random(case.key).choice(questions[case.request_type]), case.brief)
        finding, trace = analyse(request, tools)
        assert [e.name for e in trace] == [c.name for c in case.expected_tool_calls]
        assert [e.input for e in trace] == [c.input for c in case.expected_tool_calls]
        assert (finding["verdict"], finding["typology"]) == (case.facts.verdict, case.facts.typology), (
            case.key,
            case.tags,
            finding["_summary"],
        )
        assert set(case.facts.evidence_ids) <= set(finding["evidence_ids"]), (case.key, finding["_summary"])
        seen = " ".join(e.output for e in trace)
        assert all(i in seen for i in case.facts.evidence_ids)  # the tools the case needs return its evidence


def test_the_analysts_unnecessary_calls_are_neither_needed_nor_allowed(world):
    for case in DOMAIN.draw_cases(world, seed=13, count=200):
        for salt in range(5):
            request = fill(
                random.Random(salt).choice(DOMAIN.card.user_simulator.example_questions[case.request_type]), case.brief
            )
            extras = _Analysis(request, FakeCall([])).unnecessary_calls()
            ok = {c.name for c in case.expected_tool_calls + case.allowed_tool_calls}
            assert extras and not {name for name, _ in extras} & ok, (case.key, extras)


def test_the_critic_accepts_no_wrong_verdict_and_no_invented_id_at_defect_rate_half(tmp_path):
    world = build_world(1)
    run = Run(RunConfig(domain="crypto", count=100, seed=21, output_dir=str(tmp_path), sim_defect_rate=0.5))
    results: list = []
    summary = run.execute(results.append)
    accepted = [r.example for r in results if r.example is not None]
    assert summary.rounds_histogram.get("2", 0) >= 25 and len(accepted) >= 90
    for example in accepted:
        truth = DOMAIN.case_for_key(world, example.case_key).facts
        finding = example.reference_output
        assert (finding["verdict"], finding.get("typology")) == (truth.verdict, truth.typology), example.case_key
        assert all(world.has_id(i) for i in finding["evidence_ids"]), finding["evidence_ids"]
        assert set(truth.evidence_ids) <= set(finding["evidence_ids"])


def test_without_defects_every_case_passes_first_time_with_exactly_the_tools_it_needs(cli, tmp_path):
    result = cli("generate", "--domain", "crypto", "--count", "80", "--seed", "27", "--sim-defect-rate", "0")
    assert result.exit_code == 0, result.output
    records = export(cli, tmp_path)
    assert len(records) == 80 and len({r.category for r in records}) >= 13
    for record in records:
        tools = next(c for c in record.critique.criteria if c.id == "right_tools")
        assert record.critique.rounds == 1 and tools.score == 1.0, (record.category, tools.rationale)
        called = [t.name for t in record.tool_trace if t.name not in DOMAIN.action_names]
        if record.scenario is None:
            assert called == [t.name for t in record.expected_tool_calls]
        else:  # each turn looks the data up again
            assert set(called) == {t.name for t in record.expected_tool_calls}
    assert not review_items(tmp_path)


# ---- generation end to end ----------------------------------------------------------------------------------
def test_generate_then_export_gives_valid_grounded_records(cli, tmp_path):
    result = cli("generate", "--domain", "crypto", "--count", "20", "--seed", "1")
    assert result.exit_code == 0, result.output
    records = export(cli, tmp_path)
    world = build_world(1)
    assert len(records) >= 18
    for record in records:
        assert record.domain == "crypto" and record.critique.passed and record.reference_answer
        spec = CONVERSATIONS.get(record.category) or CATEGORIES[record.category]
        assert record.request_type == spec.request_type
        if record.category != "out_of_scope":  # declining is the one case with no tool to call
            assert record.expected_tool_calls and record.tool_trace
        cited = record.reference_output["evidence_ids"]
        assert all(world.has_id(i) for i in cited), cited
        assert set(record.facts.evidence_ids) <= set(cited)
        assert record.reference_output["verdict"] == record.facts.verdict
        assert record.tags == DOMAIN.case_for_key(world, record.case_key).tags


def test_every_draft_defective_and_no_revision_accepts_nothing(cli, tmp_path):
    args = ("--domain", "crypto", "--count", "12", "--seed", "3", "--sim-defect-rate", "1", "--max-rounds", "1")
    result = cli("generate", *args)
    assert result.exit_code == 1 and "no example accepted: 12 of 12" in result.output, result.output
    assert not (tmp_path / "output" / "crypto" / "versions").exists()
    items = review_items(tmp_path)
    assert sorted(i.episode for i in items) == list(range(12))
    assert all(i.status == "rejected" and i.reasons and i.critiques[-1].feedback for i in items)


def test_every_draft_defective_with_revisions_accepts_most_after_feedback(cli, tmp_path):
    """Half the revisions carry a defect too (one that survives the feedback, or a fix that breaks something
    else): most episodes pass within 3 rounds, each after feedback and true to the world; the others reach the
    review queue after their third critique."""
    args = ("--domain", "crypto", "--count", "12", "--seed", "3", "--sim-defect-rate", "1", "--max-rounds", "3")
    assert cli("generate", *args).exit_code == 0
    records, items = export(cli, tmp_path), review_items(tmp_path)
    assert len(records) >= 6 and len(records) + len(items) == 12
    assert all(r.critique.rounds >= 2 and r.critique.comparison for r in records)
    world = build_world(1)
    for record in records:
        truth, finding = DOMAIN.case_for_key(world, record.case_key).facts, record.reference_output
        assert (finding["verdict"], finding.get("typology")) == (truth.verdict, truth.typology), record.case_key
        assert all(world.has_id(i) for i in finding["evidence_ids"]) and set(truth.evidence_ids) <= set(
            finding["evidence_ids"]
        )
    assert all(i.status == "rejected" and len(i.critiques) == 3 and i.critiques[-1].feedback for i in items)


def test_domain_dump_writes_the_crypto_world(cli, tmp_path):
    out = tmp_path / "world.json"
    result = cli("domain", "dump", "crypto", "--world-seed", "7", "--out", str(out))
    assert result.exit_code == 0, result.output
    dumped = json.loads(out.read_text())
    assert dumped == build_world(7).model_dump(mode="json")
    assert dumped["domain_version"] == DOMAIN.version and len(dumped["labels"]) >= 2000


def test_rubric_check_accepts_the_crypto_rubric(cli):
    result = cli("rubric", "check", str(ROOT / "rubrics" / "crypto.yaml"))
    assert result.exit_code == 0 and "crypto-market" in result.output and "warning" not in result.output, result.output


def test_trend_questions_look_at_the_rules_period():
    assert tool_input("get_price_history", {"symbol": "HLX"}) == {"symbol": "HLX", "days": TREND_DAYS}
