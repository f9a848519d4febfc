"""The offline task model for the airline desk: a rule-based support agent that works only from tool results.

It reads the request (a refund, a move to the next flight, checked bags, or a name), calls the tools the question
needs one at a time, and concludes by applying the rules the mission states to what the tools returned, on its
own: it takes the rules' numbers from `rules.py` and nothing else (never the world, its labels, the labeller or
the case), so where it and the labeller disagree one of them is wrong. Defects, revisions and conversation turns are
Goldsmith's simulated analyst's (`agents.simulated.analyst`): a share of first drafts carries a wrong verdict, an
invented or missing evidence id or unneeded calls; asked to go ahead it takes the action its finding calls for
(or, in a share of first drafts, a wrong one); pushed for more than the policy gives, it holds its ground.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agents.simulated.analyst import SimulatedAnalyst, evidence_lines, follow_up_kind, plant_evidence, verdict_title
from agents.simulated.model import ModelCall
from agents.task_agent import read_conversation, split_revision
from goldsmith_airline.actions import action_for
from goldsmith_airline.rules import (
    BAG_FEE,
    CHANGE_FEE,
    DELAY_REFUND_MINUTES,
    GOLD_EXTRA_BAGS,
    GRACE_HOURS,
    GRACE_MIN_DAYS_OUT,
    INCLUDED_BAGS,
    STANDARD_CANCELLATION_FEE,
)

BOOKING = re.compile(r"\bBK-\d{5}\b")
QUOTED_NAME = re.compile(r'"([^"]+)"')
BAGS = re.compile(r"\b(\d+|one|two|three|four|five)\s+(?:checked\s+)?(?:bags?|suitcases?)\b", re.I)
NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
KEYWORDS: list[tuple[str, tuple[str, ...]]] = [
    ("baggage", ("bag", "luggage", "suitcase")),
    ("refund", ("refund", "money back")),
    ("rebook", ("rebook", "move me", "next flight", "later flight", "another flight", "next available")),
]
PLAN: dict[str, tuple[str, ...]] = {
    "refund": ("get_booking", "get_flight_status", "get_policy"),
    "rebook": ("get_booking", "get_flight_status", "get_policy", "search_flights"),
    "baggage": ("get_booking", "get_customer", "get_policy"),
    "name_lookup": ("search_bookings_by_name",),
    "off_topic": (),
}
TOPIC = {"refund": "refunds", "rebook": "changes", "baggage": "baggage"}
WRONG_VERDICT = {
    "full_refund": "no_refund",
    "partial_refund": "full_refund",
    "no_refund": "partial_refund",
    "free_change": "change_fee",
    "change_fee": "free_change",
    "no_change": "free_change",
    "within_allowance": "bag_fee",
    "bag_fee": "within_allowance",
    "needs_clarification": "no_refund",
    "out_of_scope": "no_refund",
}
GRANTS = {"full_refund", "partial_refund", "free_change", "change_fee"}
CLOSE_CALL = 0.1  # a measure this close (relative) to a threshold is worth saying so


@dataclass(frozen=True)
class Outcome:
    """What the rules give on what the tools returned: the verdict, the clause it rests on (its `rule`), the
    policy ground, the evidence, the money and the flight to move to."""

    verdict: str
    rule: str
    evidence: list[str]
    typology: str | None = None
    amount: float | None = None
    target: dict | None = None
    passed_full: bool = False  # an earlier flight on the route was full


def request_type(request: str) -> str:
    """What the customer is asking about, read from the wording of the request."""
    if not BOOKING.search(request):
        return "name_lookup" if QUOTED_NAME.search(request) else "off_topic"
    text = request.lower()
    return next((kind for kind, words in KEYWORDS if any(w in text for w in words)), "refund")


class AirlineAgentPolicy(SimulatedAnalyst):
    """The simulated task model's behaviour for the airline desk."""

    def investigate(self, request: str, call: ModelCall) -> _Investigation:
        investigation = _Investigation(request, call)
        users = [t.content for t in read_conversation(split_revision(call.prompt)[0]) if t.role == "user"]
        investigation.asked = len(users) > 1 and follow_up_kind(users[-1]) == "act"
        return investigation

    def plant(self, defect: str, finding: dict, investigation: _Investigation, call: ModelCall) -> dict:
        if defect != "wrong_verdict":
            return plant_evidence(defect, finding, f"BK-{call.rng('defect-detail').randint(90000, 99999)}")
        wrong = WRONG_VERDICT[finding["verdict"]]
        return {
            **finding,
            "verdict": wrong,
            "typology": "fare_rules" if wrong in GRANTS else None,
            "_summary": "On review, the booking and the policy support this conclusion.",
            "_outcome": None,
        }

    def write_answer(self, finding: dict, investigation: _Investigation, tables: bool) -> str:
        return investigation.write(finding, tables)

    def action(self, finding: dict, investigation: _Investigation) -> tuple[str, dict] | None:
        """What the mission's ACTIONS rule calls for on this finding (`actions.action_for`, as the labeller's)."""
        outcome: Outcome | None = finding.get("_outcome")
        if investigation.booking_id is None or outcome is None or outcome.verdict != finding["verdict"]:
            return None
        target = outcome.target["id"] if outcome.target else None
        calls = action_for(investigation.booking_id, outcome.verdict, outcome.amount, target)
        return (calls[0].name, calls[0].input) if calls else None

    def wrong_action(self, finding: dict, investigation: _Investigation, asked: str | None) -> tuple[str, dict] | None:
        """Not what the rules call for: what a push-back asks (the rest of the price refunded), or the opposite of
        the right action (a refund the policy refuses, a cancellation instead of the refund or the change)."""
        booking, outcome = investigation.results.get("get_booking"), finding.get("_outcome")
        if booking is None or outcome is None:
            return None
        booking_id, price = booking["id"], booking["price"]
        if investigation.kind == "refund":
            granted = outcome.amount or 0.0
            if asked is not None:
                rest = round(price - granted, 2)
                return ("issue_refund", {"booking_id": booking_id, "amount": rest}) if rest > 0 else None
            if outcome.verdict == "full_refund":
                return "cancel_booking", {"booking_id": booking_id}
            return "issue_refund", {"booking_id": booking_id, "amount": price}
        if investigation.kind == "rebook":
            skip = {outcome.target["id"] if outcome.target else None, booking["flight_id"]}
            others = [f for f in investigation.results.get("search_flights", []) if f["id"] not in skip]
            if others:  # the last flight found: not the one the rules name
                return "rebook", {"booking_id": booking_id, "flight_id": others[-1]["id"]}
            return "cancel_booking", {"booking_id": booking_id}
        return None

    def describe_action(self, action: tuple[str, dict], result: str, status: str) -> str:
        name, args = action
        if status != "success":
            return f"I could not {name.replace('_', ' ')}: {result}"
        return {
            "issue_refund": f"Done: I refunded EUR {args.get('amount', 0):.2f} on booking {args['booking_id']}; the "
            "booking is cancelled.",
            "rebook": f"Done: I moved booking {args['booking_id']} to flight {args.get('flight_id')}.",
            "cancel_booking": f"Done: I cancelled booking {args['booking_id']}.",
            "add_baggage": f"Done: I added {args.get('bags')} checked bag(s) to booking {args['booking_id']}.",
        }[name]


class _Investigation:
    """Works out the next tool call, or the finding, from the request and the tool results so far."""

    def __init__(self, request: str, call: ModelCall):
        self.request = request
        self.call = call
        self.kind = request_type(request)
        self.exchanges = call.exchanges()
        self.results: dict[str, Any] = {}
        self.failed: dict[str, str] = {}
        for ex in self.exchanges:
            if ex.status == "success":
                self.results[ex.name] = json.loads(ex.output)
            else:
                self.failed[ex.name] = ex.output
        match = BOOKING.search(request)
        self.booking_id = match.group(0) if match else None
        self.asked = False  # the customer's last message asks the agent to go ahead

    # ---- the plan ------------------------------------------------------------------------------------------
    def next_step(self) -> tuple[str, dict] | dict:
        for tool in PLAN[self.kind]:
            if tool in self.failed:
                return _finding("needs_clarification", [], f"I could not look that up: {self.failed[tool]}")
            if tool not in self.results:
                return tool, self.tool_input(tool)
        return getattr(self, f"review_{self.kind}")()

    def tool_input(self, tool: str) -> dict:
        booking, flight = self.results.get("get_booking", {}), self.results.get("get_flight_status", {})
        if tool == "get_booking":
            return {"booking_id": self.booking_id}
        if tool == "get_flight_status":
            return {"flight_id": booking["flight_id"]}
        if tool == "get_customer":
            return {"customer_id": booking["customer_id"]}
        if tool == "get_policy":
            return {"topic": TOPIC[self.kind]}
        if tool == "search_flights":
            return {"origin": flight["origin"], "destination": flight["destination"], "date": flight["departure"][:10]}
        return {"name": QUOTED_NAME.search(self.request).group(1)}

    def review_off_topic(self) -> dict:
        return _finding(
            "out_of_scope",
            [],
            "That is outside what I can help with: I answer questions about your airline bookings.",
        )

    def review_name_lookup(self) -> dict:
        name = QUOTED_NAME.search(self.request).group(1)
        matches = [m for m in self.results["search_bookings_by_name"] if m["name"].casefold() == name.casefold()]
        ids = sorted(m["customer_id"] for m in matches)
        if len(ids) < 2:
            return _finding(
                "needs_clarification",
                ids,
                f'I found {len(ids)} customer(s) called "{name}". Which booking do you mean? Please give me its '
                "booking id.",
            )
        listed = " and ".join(f"{m['customer_id']} ({m['email']})" for m in matches)
        return _finding(
            "needs_clarification",
            ids,
            f'{len(matches)} customers are called "{name}": {listed}, so I cannot tell which one you mean. Which '
            "one are you? A booking id or your email tells me.",
        )

    def clause(self, rule: str) -> str:
        return next(p["id"] for p in self.results["get_policy"] if p["rule"] == rule)

    def disruption(self) -> str | None:
        flight = self.results["get_flight_status"]
        if flight["status"] == "cancelled":
            return "airline_cancellation"
        return "long_delay" if flight["delay_minutes"] >= DELAY_REFUND_MINUTES else None

    def review_refund(self) -> dict:
        booking, flight = self.results["get_booking"], self.results["get_flight_status"]
        ids, price, ground = [booking["id"], flight["id"]], booking["price"], self.disruption()
        days_out = _hours(flight["departure"], flight["now"]) / 24
        if booking["status"] == "cancelled":
            outcome = Outcome("no_refund", "already_cancelled", [booking["id"], self.clause("already_cancelled")])
        elif ground is not None:
            outcome = Outcome("full_refund", ground, [*ids, self.clause(ground)], ground, price)
        elif flight["departure"] < flight["now"]:
            outcome = Outcome("no_refund", "flown", [*ids, self.clause("flown")])
        elif _hours(flight["now"], booking["booked_at"]) < GRACE_HOURS and days_out >= GRACE_MIN_DAYS_OUT:
            outcome = Outcome("full_refund", "grace_period", [*ids, self.clause("grace_period")], "grace_period", price)
        elif booking["fare_class"] == "flex":
            outcome = Outcome("full_refund", "flex", [*ids, self.clause("flex")], "fare_rules", price)
        elif booking["fare_class"] == "standard" and price > STANDARD_CANCELLATION_FEE:
            refund = round(price - STANDARD_CANCELLATION_FEE, 2)
            outcome = Outcome("partial_refund", "standard", [*ids, self.clause("standard")], "fare_rules", refund)
        else:
            rule = booking["fare_class"]
            outcome = Outcome("no_refund", rule, [*ids, self.clause(rule)])
        return _decided(outcome, self.refund_summary(outcome))

    def review_rebook(self) -> dict:
        booking, flight = self.results["get_booking"], self.results["get_flight_status"]
        ids, ground = [booking["id"], flight["id"]], self.disruption()
        if booking["status"] == "cancelled":
            outcome = Outcome("no_change", "already_cancelled", [booking["id"], self.clause("already_cancelled")])
        elif ground is None and flight["departure"] < flight["now"]:
            outcome = Outcome("no_change", "flown", [*ids, self.clause("flown")])
        elif ground is None and booking["fare_class"] == "basic":
            outcome = Outcome("no_change", "basic", [*ids, self.clause("basic")])
        else:
            after = max(flight["departure"], flight["now"])
            later = sorted(
                (f for f in self.results["search_flights"] if f["departure"] > after and f["status"] != "cancelled"),
                key=lambda f: (f["departure"], f["id"]),
            )
            open_seats = [f for f in later if f["seats_left"] > 0]
            if not open_seats:
                outcome = Outcome("no_change", "no_seats", [*ids, self.clause("no_seats")])
            else:
                rule = "disruption" if ground else booking["fare_class"]
                fee = rule == "standard"
                target, passed_full = open_seats[0], open_seats[0] is not later[0]
                outcome = Outcome(
                    "change_fee" if fee else "free_change",
                    rule,
                    [*ids, self.clause(rule), target["id"]],
                    ground or "fare_rules",
                    CHANGE_FEE if fee else 0.0,
                    target,
                    passed_full,
                )
        return _decided(outcome, self.change_summary(outcome))

    def review_baggage(self) -> dict:
        booking, customer = self.results["get_booking"], self.results["get_customer"]
        match = BAGS.search(self.request)
        count = match.group(1).lower() if match else "one"
        bags = NUMBERS.get(count) or int(count)
        gold = GOLD_EXTRA_BAGS if customer["tier"] == "gold" else 0
        included = INCLUDED_BAGS[booking["fare_class"]] + gold + booking["extra_bags"]
        ids = [booking["id"], customer["id"], self.clause("allowance")]
        if bags <= included:
            outcome = Outcome("within_allowance", "allowance", ids, amount=0.0)
        else:
            outcome = Outcome(
                "bag_fee", "extra_bags", [*ids, self.clause("extra_bags")], None, (bags - included) * BAG_FEE
            )
        return _decided(outcome, self.baggage_summary(outcome, bags, included))

    # ---- for writing the answer ----------------------------------------------------------------------------
    def flight_line(self) -> str:
        f = self.results["get_flight_status"]
        line = f"Flight {f['number']} ({f['id']}) from {f['origin']} to {f['destination']} is scheduled for "
        line += f"{_when(f['departure'])}"
        if f["status"] == "cancelled":
            return line + ": the airline cancelled it."
        if f["delay_minutes"]:
            line += f" and {'was' if f['status'] == 'landed' else 'is'} delayed by {f['delay_minutes']} minutes"
            rule = "at or beyond" if f["delay_minutes"] >= DELAY_REFUND_MINUTES else "under"
            line += f", {rule} the {DELAY_REFUND_MINUTES}-minute line"
        return line + ("; it has landed." if f["status"] == "landed" else ".")

    def refund_summary(self, outcome: Outcome) -> str:
        booking, flight = self.results["get_booking"], self.results["get_flight_status"]
        fare = f"Booking {booking['id']} is a {booking['fare_class']} fare of EUR {booking['price']:.2f}"
        if outcome.rule == "already_cancelled":
            return (
                f"{fare}, already cancelled, with EUR {booking['refunded_amount']:.2f} refunded: a cancelled booking "
                "cannot be refunded again."
            )
        text = f"{fare}, booked {_when(booking['booked_at'])}. {self.flight_line()}"
        hours = _hours(flight["now"], booking["booked_at"])
        if outcome.rule in {"airline_cancellation", "long_delay"}:
            text += f" So every fare is refunded in full: EUR {outcome.amount:.2f}."
        elif outcome.rule == "flown":
            text += " The flight has departed and was not disrupted as the policy counts it, so it is not refunded."
        elif outcome.rule == "grace_period":
            days = _hours(flight["departure"], flight["now"]) / 24
            text += (
                f" You booked {hours:.1f} hours ago (under {GRACE_HOURS}) and the flight is {days:.1f} days away "
                f"({GRACE_MIN_DAYS_OUT} or more), so it is refunded in full whatever the fare: "
                f"EUR {outcome.amount:.2f}."
            )
        elif outcome.rule == "flex":
            text += f" Flex fares are refunded in full: EUR {outcome.amount:.2f}."
        elif outcome.verdict == "partial_refund":
            text += (
                f" Standard fares are refunded less the EUR {STANDARD_CANCELLATION_FEE:.2f} cancellation fee: "
                f"EUR {booking['price']:.2f} - {STANDARD_CANCELLATION_FEE:.2f} = EUR {outcome.amount:.2f}."
            )
        elif outcome.rule == "standard":
            text += (
                f" Standard fares are refunded less the EUR {STANDARD_CANCELLATION_FEE:.2f} cancellation fee, and "
                "this fare does not exceed it, so nothing is refunded."
            )
        else:
            text += " Basic fares are not refunded."
        if hours < 2 * GRACE_HOURS and outcome.rule != "grace_period":
            text += f" It was booked {hours:.1f} hours ago: the {GRACE_HOURS}-hour window "
            text += "has passed." if hours >= GRACE_HOURS else f"needs the flight {GRACE_MIN_DAYS_OUT}+ days away."
        if _close(flight["delay_minutes"], DELAY_REFUND_MINUTES):
            text += (
                f" At {flight['delay_minutes']} minutes against the {DELAY_REFUND_MINUTES}-minute line, a close call."
            )
        return text

    def change_summary(self, outcome: Outcome) -> str:
        booking = self.results["get_booking"]
        text = f"Booking {booking['id']} is a {booking['fare_class']} fare. "
        if outcome.rule == "already_cancelled":
            return text + "It is already cancelled, and a cancelled booking cannot be changed."
        text += self.flight_line()
        if outcome.rule == "flown":
            return text + " The flight has departed, so it can no longer be changed."
        if outcome.rule == "basic":
            return text + " Basic fares cannot be changed, so the booking stays on this flight."
        target = outcome.target
        if target is None:
            return text + " No later flight on the route in the next three days has seats left, so it cannot be moved."
        move = f"flight {target['number']} ({target['id']}) on {_when(target['departure'])}"
        move += f", {target['seats_left']} seats left"
        if outcome.rule == "disruption":
            text += f" So the move is free of charge: the earliest later flight with seats is {move}."
        elif outcome.rule == "flex":
            text += f" Flex fares move free of charge: the earliest later flight with seats is {move}."
        else:
            text += f" Standard fares move for a change fee of EUR {outcome.amount:.2f}: the earliest later flight "
            text += f"with seats is {move}."
        if outcome.passed_full:
            text += " An earlier flight on the route is full (0 seats left), so it is not an option."
        return text

    def baggage_summary(self, outcome: Outcome, bags: int, included: int) -> str:
        booking, customer = self.results["get_booking"], self.results["get_customer"]
        gold = GOLD_EXTRA_BAGS if customer["tier"] == "gold" else 0
        text = (
            f"You asked about {_bags(bags)} on booking {booking['id']}. The {booking['fare_class']} fare includes "
            f"{INCLUDED_BAGS[booking['fare_class']]}, your {customer['tier']} tier adds {gold} and "
            f"{booking['extra_bags']} extra already bought: {_bags(included)} included in all."
        )
        if outcome.verdict == "within_allowance":
            return text + " So they travel at no extra cost."
        return text + f" That leaves {bags - included} extra at EUR {BAG_FEE:.2f} each: EUR {outcome.amount:.2f}."

    def describe(self, object_id: str) -> str:
        for ex in self.exchanges:
            if ex.status != "success":
                continue
            result = json.loads(ex.output)
            for row in result if isinstance(result, list) else [result]:
                if isinstance(row, dict) and (row.get("id") or row.get("customer_id")) == object_id:
                    return _describe_row(row)
        return "record from the investigation"

    def unnecessary_calls(self, named: Collection[str] = ()) -> list[tuple[str, dict]]:
        """One call the question does not need (of a `named` tool, when it has one); none once such a call was
        made."""
        needed = set(PLAN[self.kind]) | set(ALLOWED_EXTRA[self.kind])
        if any(ex.name not in needed for ex in self.exchanges):
            return []
        options: list[tuple[str, dict]] = []
        flight, customer = self.results.get("get_flight_status"), self.results.get("get_customer")
        if flight and "search_flights" not in needed:
            options.append(
                (
                    "search_flights",
                    {
                        "origin": flight["origin"],
                        "destination": flight["destination"],
                        "date": flight["departure"][:10],
                    },
                )
            )
        if customer:
            options.append(("search_bookings_by_name", {"name": customer["name"]}))
        if self.kind in {"off_topic", "name_lookup"}:
            options.append(("get_policy", {"topic": "refunds"}))
        chosen = [(name, args) for name, args in options if name in named]
        return chosen or options[:1]

    def write(self, finding: dict, tables: bool) -> str:
        verdict = finding["verdict"]
        title = verdict_title(finding)
        if self.booking_id:
            title += f" for booking {self.booking_id}"
        lines = [f"**Verdict: {title}.**", "", finding["_summary"]]
        lines += evidence_lines(finding["evidence_ids"], self.describe, tables)
        outcome: Outcome | None = finding.get("_outcome")
        if self.asked and verdict not in GRANTS:
            lines += ["", "I have not changed the booking: the policy gives nothing to go ahead with here."]
        lines += ["", f"Recommended next step: {_next_step(verdict, outcome)}"]
        return "\n".join(lines)


ALLOWED_EXTRA = {  # calls the question allows at no cost: not an unneeded call
    "refund": ("get_customer",),
    "rebook": ("get_customer",),
    "baggage": ("get_flight_status",),
    "name_lookup": (),
    "off_topic": (),
}


def _finding(verdict: str, evidence_ids: list[str], summary: str) -> dict:
    return {"verdict": verdict, "typology": None, "evidence_ids": evidence_ids, "_summary": summary, "_outcome": None}


def _decided(outcome: Outcome, summary: str) -> dict:
    return {
        "verdict": outcome.verdict,
        "typology": outcome.typology,
        "evidence_ids": outcome.evidence,
        "_summary": summary,
        "_outcome": outcome,
    }


def _close(value: float, threshold: float) -> bool:
    return abs(value - threshold) <= CLOSE_CALL * threshold


def _hours(later: str, earlier: str) -> float:
    return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds() / 3600


def _bags(count: int) -> str:
    return f"{count} checked bag{'' if count == 1 else 's'}"


def _when(stamp: str) -> str:
    return stamp.replace("T", " ")


def _describe_row(row: dict) -> str:
    if "fare_class" in row:
        return (
            f"booking of a {row['fare_class']} fare, EUR {row['price']:.2f}, booked {_when(row['booked_at'])}, "
            f"status {row['status']}"
        )
    if "delay_minutes" in row:
        return (
            f"flight {row['number']} {row['origin']}-{row['destination']} on {_when(row['departure'])}, status "
            f"{row['status']}, delay {row['delay_minutes']} minutes, {row['seats_left']} seats left"
        )
    if "topic" in row:
        return f"{row['topic']} policy clause: {row['text']}"
    if "tier" in row:
        return f"customer {row['name']}, {row['tier']} tier, {row['email']}"
    return "record from the investigation"


def _next_step(verdict: str, outcome: Outcome | None) -> str:
    amount = f"EUR {outcome.amount:.2f}" if outcome is not None and outcome.amount is not None else "the amount"
    target = outcome.target["id"] if outcome is not None and outcome.target else None
    return {
        "full_refund": f"tell me to go ahead and I will refund {amount} and cancel the booking.",
        "partial_refund": f"tell me to go ahead if you want {amount} back and the booking cancelled, or keep it.",
        "no_refund": "keep the booking, or ask me whether it can move to another flight.",
        "free_change": f"tell me to go ahead and I will move you to flight {target} at no cost.",
        "change_fee": f"tell me to go ahead and I will move you to flight {target} for the {amount} change fee.",
        "no_change": "keep the booking as it is, or ask me about a refund instead.",
        "within_allowance": "check your bags in at the airport; there is nothing to pay.",
        "bag_fee": f"ask me to add the extra bags to the booking before you travel ({amount} in all).",
        "needs_clarification": "tell me which customer you are (your email or a booking id), and I will look it up.",
        "out_of_scope": "ask me about a booking's refund, a move to another flight or checked bags.",
    }[verdict]
