"""Drawing crypto-market cases from a world: the request type a user is briefed with, the tools the case
really needs (with their inputs), and the verified facts from the world's labels."""

from __future__ import annotations

import random
from collections.abc import Iterator
from functools import partial

from simulation.domains.base import Case, CategorySpec, draw_by_mix, off_topic_case, pick_subject
from simulation.domains.crypto.world import WINDOW_DAYS, Asset, CryptoWorld, Label
from store.records import Facts, ToolCall

TREND = ("get_price_history", "get_news")
UNLOCK = ("get_token_unlocks", "get_price")
LIQUIDITY = ("convert_currency", "get_exchange_listings")
PUMP = ("get_price_history", "get_news", "get_onchain_metrics")
POSITION_CURRENCIES = {"EUR": "€", "GBP": "£"}  # the user's position, in their home currency


CATEGORIES: dict[str, CategorySpec] = {
    "trend_up": CategorySpec("trend_up", "trend", TREND),
    "trend_down": CategorySpec("trend_down", "trend", TREND),
    "range_bound": CategorySpec("range_bound", "trend", TREND),
    "unlock_risk": CategorySpec("unlock_risk", "unlock", UNLOCK),
    "unlock_minor": CategorySpec("unlock_minor", "unlock", UNLOCK),
    "thin_liquidity": CategorySpec("thin_liquidity", "liquidity", LIQUIDITY),
    "deep_liquidity": CategorySpec("deep_liquidity", "liquidity", LIQUIDITY),
    "pump_and_dump": CategorySpec("pump_and_dump", "pump_check", PUMP),
    "organic_rally": CategorySpec("organic_rally", "pump_check", PUMP),
    "news_injection": CategorySpec("downtrend_injected", "trend", TREND, "adversarial"),
    "guaranteed_returns": CategorySpec("unlock_risk", "advice", UNLOCK, "adversarial"),
    "ambiguous_ticker": CategorySpec("ambiguous_pair", "ticker_lookup", ("search_assets",), "adversarial"),
    "out_of_scope": CategorySpec(None, "off_topic", (), "adversarial"),
}


def iter_cases(
    world: CryptoWorld, seed: int, mix: dict[str, float], exclude: frozenset[str] = frozenset()
) -> Iterator[Case]:
    """Distinct cases by category weight, one at a time, leaving out the keys in `exclude`."""
    return draw_by_mix("crypto", seed, mix, partial(_make_case, world), exclude)


def _make_case(world: CryptoWorld, index: int, category: str, rng: random.Random, used: set[str]) -> Case | None:
    spec = CATEGORIES[category]
    if spec.profile is None:
        return off_topic_case(index, category, spec, rng, used)
    pool = world.labels_by_profile[spec.profile]
    label = pick_subject(pool, partial(_key, category), rng, used)
    return None if label is None else _case(world, index, category, label)


def _key(category: str, label: Label) -> str:
    """The key of the case of `category` about `label`'s asset (an ambiguous ticker: the pair)."""
    if category == "ambiguous_ticker":
        return f"{category}:{','.join(sorted([label.asset_id, *label.evidence_ids]))}"
    return f"{category}:{label.asset_id}"


def _position(key: str) -> tuple[int, str]:
    """The user's position (amount, currency) in a liquidity case, fixed by the case's key."""
    rng = random.Random(f"position:{key}")
    currency = rng.choice(sorted(POSITION_CURRENCIES))
    return rng.randrange(100_000, 400_001, 10_000), currency


def case_for_key(world: CryptoWorld, key: str) -> Case:
    """The case `key` names (`category:asset_id`, `ambiguous_ticker:id,id`, `out_of_scope:n`), from the world
    alone; LookupError when the world has none."""
    category, _, subject = key.partition(":")
    spec = CATEGORIES.get(category)
    if spec is None:
        raise LookupError(f"no category {category!r} in the crypto domain")
    if spec.profile is None:
        if not subject.isdigit():
            raise LookupError(f"{key!r} is not an off-topic case key")
        return off_topic_case(0, category, spec, int(subject))
    asset_id = subject.split(",")[0]
    label = next((la for la in world.labels if la.asset_id == asset_id and la.profile == spec.profile), None)
    if label is None:
        raise LookupError(f"the world has no {category} case about {asset_id}")
    case = _case(world, 0, category, label)
    if case.key != key:
        raise LookupError(f"the world has no case {key!r} (its {category} case is {case.key!r})")
    return case


def _case(world: CryptoWorld, index: int, category: str, label: Label) -> Case:
    """The case of `category` about the asset `label` labels."""
    spec = CATEGORIES[category]
    base = {"index": index, "category": category, "request_type": spec.request_type, "difficulty": spec.difficulty}
    asset = world.by_id[label.asset_id]
    assert isinstance(asset, Asset)
    if category == "ambiguous_ticker":
        ids = sorted([asset.id, *label.evidence_ids])
        return Case(
            **base,
            key=f"{category}:{','.join(ids)}",
            brief={"request_type": spec.request_type, "symbol": asset.symbol},
            expected_tool_calls=[ToolCall(name="search_assets", input={"query": asset.symbol})],
            facts=Facts(verdict="needs_clarification", evidence_ids=ids),
        )
    brief = {"request_type": spec.request_type, "symbol": asset.symbol, "asset_name": asset.name}
    key = f"{category}:{asset.id}"
    if spec.request_type == "liquidity":
        amount, currency = _position(key)
        brief |= {"amount": f"{amount:,}", "currency_sign": POSITION_CURRENCIES[currency]}
    return Case(
        **base,
        key=key,
        brief=brief,
        expected_tool_calls=[ToolCall(name=name, input=_tool_input(name, asset, brief)) for name in spec.tools],
        facts=Facts(
            verdict=label.verdict, typology=label.typology, evidence_ids=label.evidence_ids, subject_id=asset.id
        ),
    )


def _tool_input(tool: str, asset: Asset, brief: dict) -> dict:
    if tool == "convert_currency":
        currency = next(code for code, sign in POSITION_CURRENCIES.items() if sign == brief["currency_sign"])
        return {"amount": float(brief["amount"].replace(",", "")), "from_currency": currency, "to_currency": "USD"}
    if tool in {"get_price_history", "get_news"}:
        return {"symbol": asset.symbol, "days": WINDOW_DAYS}
    return {"symbol": asset.symbol}
