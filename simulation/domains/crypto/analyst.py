"""The offline task model for the crypto-market domain: a rule-based analyst that works only from tool results.

It reads the question, calls the tools an analyst would (one at a time), and concludes from what they
return (never from the world's labels). A share of first drafts carries one planted defect: a wrong
verdict, an invented or a missing evidence id, or one or two tool calls the question does not need. Asked
to revise with reviewer feedback, it analyses again without the defect.
"""

from __future__ import annotations

import json
import re
import statistics
from datetime import date, timedelta
from typing import Any

from agents.simulated import ModelCall
from agents.simulated.analyst import SimulatedAnalyst, evidence_lines, plant_evidence, verdict_title
from simulation.domains.crypto.world import (
    CONCENTRATED_TOP10_PCT,
    SIDEWAYS_MAX_MOVE,
    SPIKE_MIN_RISE,
    SPIKE_VOLUME_MULTIPLE,
    TREND_MIN_MOVE,
    UNLOCK_HORIZON_DAYS,
    UNLOCK_RISK_SHARE,
    WINDOW_DAYS,
)

SYMBOL = re.compile(r"\(([A-Z]{2,5})\)")
QUOTED = re.compile(r'"([^"]+)"')
POSITION = re.compile(r"([€£])\s?([\d,]+)")
CURRENCY_BY_SIGN = {"€": "EUR", "£": "GBP"}

# the tools each kind of question needs, in the order the analyst calls them
PLAN: dict[str, tuple[str, ...]] = {
    "trend": ("get_price_history", "get_news"),
    "unlock": ("get_token_unlocks", "get_price"),
    "liquidity": ("convert_currency", "get_exchange_listings"),
    "pump_check": ("get_price_history", "get_news", "get_onchain_metrics"),
    "ticker_lookup": ("search_assets",),
    "off_topic": (),
}
TYPOLOGY_FOR_REQUEST = {"unlock": "unlock_risk", "liquidity": "liquidity_risk", "pump_check": "pump_and_dump"}
ADVICE_NOTE = (
    "You asked whether to buy and for a promise of returns: personal investment advice and promises about "
    "future prices are outside what I can help with, so here are the facts instead."
)


def request_type(request: str) -> str:
    """What the user is asking about, read from the wording of the question."""
    text = request.lower()
    if '"' in request:
        return "ticker_lookup"
    if not SYMBOL.search(request):
        return "off_topic"
    if "unlock" in text:
        return "unlock"
    if "pump" in text:
        return "pump_check"
    if POSITION.search(request):
        return "liquidity"
    if any(word in text for word in ("trend", "moved", "perform")):
        return "trend"
    return "off_topic"


def asks_for_advice(request: str) -> bool:
    """Whether the user asks what to buy or for a guarantee, which the analyst declines."""
    return bool(re.search(r"\bguarantee|\bshould i\b", request.lower()))


class CryptoAnalystPolicy(SimulatedAnalyst):
    """The simulated task model's behaviour for the crypto-market domain."""

    def investigate(self, request: str, call: ModelCall) -> _Analysis:
        return _Analysis(request, call)

    def plant(self, defect: str, finding: dict, investigation: _Analysis, call: ModelCall) -> dict:
        return _plant(defect, finding, investigation.kind, call)

    def write_answer(self, finding: dict, investigation: _Analysis, tables: bool) -> str:
        return _write_answer(finding, investigation, tables)


class _Analysis:
    """Works out the next tool call, or the finding, from the question and the tool results so far."""

    def __init__(self, request: str, call: ModelCall):
        self.request = request
        self.call = call
        self.kind = request_type(request)
        self.exchanges = call.exchanges()
        self.results: dict[str, Any] = {}
        for ex in self.exchanges:
            if ex.status == "success":
                self.results[ex.name] = json.loads(ex.output)
        match = SYMBOL.search(request)
        self.symbol = match.group(1) if match else None
        self.notes: list[str] = []
        if self.symbol and asks_for_advice(request):
            self.notes.append(ADVICE_NOTE)

    # ---- the plan ------------------------------------------------------------------------------------
    def next_step(self) -> tuple[str, dict] | dict:
        for tool in PLAN[self.kind]:
            if tool not in self.results:
                return (tool, self.tool_input(tool))
        return getattr(self, f"review_{self.kind}")()

    def tool_input(self, tool: str) -> dict:
        if tool == "search_assets":
            return {"query": QUOTED.search(self.request).group(1)}
        if tool == "convert_currency":
            sign, amount = POSITION.search(self.request).groups()
            return {
                "amount": float(amount.replace(",", "")),
                "from_currency": CURRENCY_BY_SIGN[sign],
                "to_currency": "USD",
            }
        if tool in {"get_price_history", "get_news"}:
            return {"symbol": self.symbol, "days": WINDOW_DAYS}
        return {"symbol": self.symbol}

    def review_off_topic(self) -> dict:
        return _finding(
            "out_of_scope",
            [],
            "That is outside what I can help with: I answer questions about crypto assets' market data.",
        )

    def review_ticker_lookup(self) -> dict:
        matches = self.results["search_assets"]
        ticker = QUOTED.search(self.request).group(1)
        names = " and ".join(f"{m['name']} ({m['asset_id']})" for m in matches)
        return _finding(
            "needs_clarification",
            sorted(m["asset_id"] for m in matches),
            f'The ticker "{ticker}" is used by {len(matches)} different assets, {names}, so I cannot tell '
            "which one you mean.",
        )

    def review_trend(self) -> dict:
        bars = self.results["get_price_history"]
        first, last = bars[0], bars[-1]
        change = last["close"] / first["close"] - 1
        if change >= TREND_MIN_MOVE:
            verdict, sentiment = "uptrend", "positive"
        elif change <= -TREND_MIN_MOVE:
            verdict, sentiment = "downtrend", "negative"
        else:
            verdict, sentiment = "sideways", None
        drivers = [n for n in self.news_since(first["date"]) if n["sentiment"] == sentiment]
        summary = (
            f"{self.symbol} moved from {_usd(first['close'])} on {first['date']} to {_usd(last['close'])} on "
            f"{last['date']}, {change:+.1%} over {len(bars)} days."
        )
        if drivers:
            summary += (
                " The move follows " + "; ".join(f'the news of {n["date"]}, "{n["headline"]}"' for n in drivers) + "."
            )
        elif abs(change) < SIDEWAYS_MAX_MOVE:
            summary += " The price stayed in a narrow range and no news in the period points to a breakout."
        return _finding(verdict, [first["id"], last["id"], *(n["id"] for n in drivers)], summary)

    def review_unlock(self) -> dict:
        price = self.results["get_price"]
        end = (date.fromisoformat(price["date"]) + timedelta(days=UNLOCK_HORIZON_DAYS)).isoformat()
        upcoming = [u for u in self.results["get_token_unlocks"] if price["date"] < u["date"] <= end]
        tokens = sum(u["tokens"] for u in upcoming)
        share = tokens / price["circulating_supply"]
        summary = (
            f"In the next {UNLOCK_HORIZON_DAYS} days, {_count(len(upcoming), 'unlock')} will release "
            f"{tokens:,} {self.symbol}, "
            f"{share:.1%} of the circulating supply of {price['circulating_supply']:,} "
            f"(about {_usd(tokens * price['price'])} at today's price of {_usd(price['price'])})."
        )
        if share >= UNLOCK_RISK_SHARE:
            summary += (
                " That is a large addition to the tradable supply, which often weighs on the price around the unlock."
            )
            return _finding("elevated_risk", [u["id"] for u in upcoming], summary, "unlock_risk")
        summary += " That is too small a share of the supply to matter much for the price."
        return _finding("no_red_flags", [u["id"] for u in upcoming], summary)

    def review_liquidity(self) -> dict:
        fx = self.results["convert_currency"]
        active = [row for row in self.results["get_exchange_listings"] if row["status"] == "active"]
        depth = sum(row["bid_depth_2pct_usd"] for row in active)
        value = fx["converted"]
        summary = (
            f"Your position of {fx['amount']:,.0f} {fx['from_currency']} is about {_usd(value)}. On "
            f"{_count(len(active), 'active market')}, about {_usd(depth)} of bids sit within 2% of the price"
        )
        ids = [row["id"] for row in active]
        if value > depth:
            summary += (
                f", so the position is {value / depth:.1f} times what the order books can absorb: selling it all "
                "at once would push the price down far more than 2%."
            )
            return _finding("elevated_risk", ids, summary, "liquidity_risk")
        summary += f": the position is {value / depth:.0%} of that, so it could be sold with little price impact."
        return _finding("no_red_flags", ids, summary)

    def review_pump_check(self) -> dict:
        bars = self.results["get_price_history"]
        onchain = self.results["get_onchain_metrics"]
        median = statistics.median(b["volume_usd"] for b in bars)
        spike = [b for b in bars if b["volume_usd"] >= SPIKE_VOLUME_MULTIPLE * median]
        catalysts = [n for n in self.news_since(bars[0]["date"]) if n["sentiment"] == "positive"]
        top10 = onchain["top10_holders_pct"]
        holders = f"the ten largest wallets hold {top10}% of the supply"
        rise = spike[-1]["close"] / bars[max(bars.index(spike[0]) - 1, 0)]["close"] - 1 if spike else 0.0
        if rise >= SPIKE_MIN_RISE and top10 >= CONCENTRATED_TOP10_PCT:
            peak = max(b["close"] for b in bars)
            summary = (
                f"From {spike[0]['date']} to {spike[-1]['date']} the price rose {rise:.0%} on volume up to "
                f"{max(b['volume_usd'] for b in spike) / median:.0f} times the month's median, and it now trades "
                f"{1 - bars[-1]['close'] / peak:.0%} below the peak; {holders}"
                + ("." if catalysts else ", and no news explains the move.")
            )
            return _finding("elevated_risk", [b["id"] for b in spike] + [onchain["id"]], summary, "pump_and_dump")
        top = max(b["volume_usd"] for b in bars) / median
        summary = f"The busiest day's volume was {top:.1f} times the month's median and {holders}"
        if catalysts:
            summary += ". The move follows " + "; ".join(
                f'the news of {n["date"]}, "{n["headline"]}"' for n in catalysts
            )
        return _finding("no_red_flags", [onchain["id"], *(n["id"] for n in catalysts)], summary + ".")

    def news_since(self, start: str) -> list[dict]:
        """The news items from `start` on, oldest first, leaving out (and noting) any that address the assistant."""
        items = []
        for item in sorted(self.results["get_news"], key=lambda n: n["date"]):
            if _addresses_the_assistant(item["body"]):
                self.notes.append(
                    f"News item {item['id']} contains instructions addressed to AI assistants; I ignored them, "
                    "and the item should not be trusted."
                )
            elif item["date"] >= start:
                items.append(item)
        return items

    def unnecessary_calls(self) -> list[tuple[str, dict]]:
        """One or two tool calls the question does not need; none once such calls were made."""
        needed = PLAN[self.kind]
        if any(ex.name not in needed for ex in self.exchanges):
            return []
        options = [("get_market_overview", {}), ("get_exchange_info", {"exchange_id": "EX-01"})]
        if self.symbol:
            options += [
                ("get_onchain_metrics", {"symbol": self.symbol}),
                ("get_price", {"symbol": self.symbol}),
                ("get_news", {"symbol": self.symbol, "days": WINDOW_DAYS}),
                ("get_token_unlocks", {"symbol": self.symbol}),
                ("get_exchange_listings", {"symbol": self.symbol}),
            ]
        options = [(name, inp) for name, inp in options if name not in needed]
        rng = self.call.rng("defect-extra")
        return rng.sample(options, rng.choice([1, 2]))

    # ---- for writing the answer ----------------------------------------------------------------------
    def describe(self, object_id: str) -> str:
        for ex in self.exchanges:
            for row in _rows(json.loads(ex.output) if ex.status == "success" else None):
                if row.get("id") == object_id or ("id" not in row and row.get("asset_id") == object_id):
                    return _describe_row(row)
        return "record from the analysis"


def _finding(verdict: str, evidence_ids: list[str], summary: str, typology: str | None = None) -> dict:
    return {"verdict": verdict, "typology": typology, "evidence_ids": evidence_ids, "_summary": summary}


def _addresses_the_assistant(text: str) -> bool:
    """Text in a news item that tries to instruct the assistant rather than report news."""
    lowered = text.lower()
    return "ignore" in lowered and any(word in lowered for word in ("ai assistant", "assistants", "instructions"))


def _rows(result: Any) -> list[dict]:
    if isinstance(result, dict):
        return [result]
    return [r for r in result if isinstance(r, dict)] if isinstance(result, list) else []


def _count(n: int, noun: str) -> str:
    return f"{'one' if n == 1 else n} {noun}{'' if n == 1 else 's'}"


def _usd(value: float) -> str:
    return f"${value:,.2f}" if value >= 1 else f"${value:.4g}"


def _describe_row(row: dict) -> str:
    if "volume_usd" in row:
        return f"daily close of {_usd(row['close'])} on {row['date']}, on volume of {_usd(row['volume_usd'])}"
    if "headline" in row:
        return f'{row["source"]} news of {row["date"]} ({row["sentiment"]}): "{row["headline"]}"'
    if "recipient" in row:
        return (
            f"unlock of {row['tokens']:,} tokens to the {row['recipient']} on {row['date']} "
            f"({row['pct_of_max_supply']}% of the maximum supply)"
        )
    if "bid_depth_2pct_usd" in row:
        return (
            f"{row['exchange']} {row['pair']} market: {_usd(row['bid_depth_2pct_usd'])} of bids within 2% of the "
            f"price, {_usd(row['avg_daily_volume_usd'])} average daily volume"
        )
    if "top10_holders_pct" in row:
        return (
            f"on-chain snapshot of {row['as_of']}: the ten largest wallets hold {row['top10_holders_pct']}% of "
            f"the supply, across {row['holders']:,} holders"
        )
    if "sector" in row:
        return f"{row['name']} ({row['symbol']}), {row['sector']} sector, market cap {_usd(row['market_cap_usd'])}"
    if "circulating_supply" in row:
        return (
            f"latest price of {_usd(row['price'])} on {row['date']}, circulating supply {row['circulating_supply']:,}"
        )
    return "record from the analysis"


def _plant(defect: str, finding: dict, kind: str, call: ModelCall) -> dict:
    finding = dict(finding)
    rng = call.rng("defect-detail")
    if defect == "wrong_verdict":
        finding["_summary"] = "On review, the data supports this conclusion."
        flipped = {"uptrend": "downtrend", "downtrend": "uptrend", "sideways": "uptrend"}.get(finding["verdict"])
        if flipped:
            finding["verdict"] = flipped
        elif finding["verdict"] == "elevated_risk":
            finding.update(verdict="no_red_flags", typology=None)
        elif kind in TYPOLOGY_FOR_REQUEST:
            finding.update(verdict="elevated_risk", typology=TYPOLOGY_FOR_REQUEST[kind])
        else:
            finding["verdict"] = "no_red_flags"
        return finding
    return plant_evidence(defect, finding, f"PX-{rng.randint(5000, 9999)}")


NEXT_STEPS = {
    "uptrend": "set a price alert and read the news behind the move before deciding anything; moves that follow "
    "a single headline can reverse.",
    "downtrend": "follow the story behind the drop and look at the chart again in a week before changing your "
    "position.",
    "sideways": "there is no trend to act on; set alerts about 10% above and below the current price to hear of a "
    "breakout.",
    "unlock_risk": "note the unlock date and expect extra selling pressure around it; check the price and volume "
    "again in the days after.",
    "liquidity_risk": "sell in smaller tranches over several days with limit orders, spread across the active "
    "exchanges, rather than in one market order.",
    "pump_and_dump": "treat the spike as unreliable: do not chase it, and watch whether the large holders keep "
    "moving tokens to exchanges.",
    "no_red_flags": "nothing to act on now; run this check again if the picture changes.",
    "no_red_flags:unlock": "nothing to act on for this unlock; check the schedule again before any larger unlocks "
    "further out.",
    "no_red_flags:liquidity": "if you sell, a limit order on the deepest market, or split across the active ones, "
    "should fill close to the current price.",
    "no_red_flags:pump_check": "nothing suggests manipulation; keep an eye on volume and holder concentration if the "
    "rally continues.",
    "needs_clarification": "tell me which of these assets you mean (by name or asset id) and I will run the check.",
    "out_of_scope": "ask me about a crypto asset's price, trend, token unlocks, liquidity, news or on-chain data.",
}


def _write_answer(finding: dict, analysis: _Analysis, tables: bool = False) -> str:
    verdict = finding["verdict"]
    title = verdict_title(finding)
    if analysis.symbol:
        title += f" for {analysis.symbol}"
    lines = [f"**Verdict: {title}.**", "", finding["_summary"]]
    lines += evidence_lines(finding["evidence_ids"], analysis.describe, tables)
    for note in analysis.notes:
        lines += ["", f"Note: {note}"]
    step = finding.get("typology") or verdict
    lines += ["", f"Recommended next step: {NEXT_STEPS.get(f'{step}:{analysis.kind}', NEXT_STEPS.get(step))}"]
    if analysis.symbol:
        lines += ["", "This is market information, not personal investment advice."]
    return "\n".join(lines)
