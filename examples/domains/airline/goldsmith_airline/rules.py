"""The airline's written rules, as the labeller applies them to what the tools return. Written for SMEs: the task
agent's mission in persona.yaml states the same rules in words (change one, change both).

- **refunds** (get_booking, get_flight_status, get_policy refunds), the first rule that applies:
  a cancelled booking is not refunded again; a flight the airline cancelled, or delayed by 180 minutes or more,
  is refunded in full; a flight that has departed is not refunded; a booking made less than 24 hours ago for a
  flight 7 days or more away is refunded in full; flex fares in full; standard fares less the EUR 60 fee
  (nothing when the fare does not exceed it); basic fares not at all.
- **changes** to the earliest later flight on the same route (get_booking, get_flight_status, get_policy changes,
  search_flights from the flight's date): a cancelled booking or a departed flight cannot be changed; after an
  airline cancellation or a delay of 180 minutes or more, and on a flex fare, the move is free; a standard fare
  pays a EUR 50 change fee; a basic fare cannot be changed. The flight moved to is the earliest on the route,
  after the booked departure and after now, not cancelled, with seats left; without one the booking stays.
- **baggage** (get_booking, get_customer, get_policy baggage): basic includes no checked bag, standard one, flex
  two; gold members one more; extra bags already bought count. Each bag beyond that costs EUR 45.
- a name two customers share (search_bookings_by_name) needs clarification: which one is meant.

Evidence: the booking, the flight when its status decides, the policy clause applied, the flight moved to, and
the customer when their tier counts.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from goldsmith_airline.world import AirlineWorld

# ---- the rules' numbers (persona.yaml's mission states the same) ----------------------------------------------
DELAY_REFUND_MINUTES = 180
GRACE_HOURS = 24
GRACE_MIN_DAYS_OUT = 7
STANDARD_CANCELLATION_FEE = 60.0
CHANGE_FEE = 50.0
BAG_FEE = 45.0
INCLUDED_BAGS = {"basic": 0, "standard": 1, "flex": 2}
GOLD_EXTRA_BAGS = 1
SEARCH_DAYS = 3  # search_flights returns the flights of the date asked and the two days after
NEAR = 0.1  # a measure within 10% of a threshold is near it

Verdict = Literal[
    "full_refund",
    "partial_refund",
    "no_refund",
    "free_change",
    "change_fee",
    "no_change",
    "within_allowance",
    "bag_fee",
    "needs_clarification",
]
Ground = Literal["airline_cancellation", "long_delay", "grace_period", "fare_rules"]
Aspect = Literal["refund", "rebook", "baggage", "name"]


class Policy(BaseModel):
    """One clause of the written policies, as get_policy returns it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    topic: Literal["refunds", "changes", "baggage"]
    rule: str
    text: str


class Reading(BaseModel):
    """What the rules conclude from one set of tool outputs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    verdict: Verdict
    typology: Ground | None = None
    evidence_ids: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    amount: float | None = None  # the refund, the change fee or the bag fee (EUR)
    target_flight: str | None = None  # the flight a change moves the booking to


class Label(Reading):
    """The ground truth of one question about one subject: a booking id, or the sorted ids of a shared name."""

    subject: str
    aspect: Aspect
    customer_id: str | None = None


def bags_requested(booking_id: str) -> int:
    """How many checked bags the user asks about on `booking_id`: a function of the booking alone."""
    return random.Random(f"bags:{booking_id}").choice((1, 1, 2, 2, 3))


def clause(policies: list[dict], rule: str) -> str:
    return next(p["id"] for p in policies if p["rule"] == rule)


def near(value: float, threshold: float) -> bool:
    return abs(value - threshold) <= NEAR * threshold


def _hours(later: str, earlier: str) -> float:
    return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds() / 3600


def disruption(flight: dict) -> Ground | None:
    """The airline's part in the flight: cancelled, or delayed by 180 minutes or more."""
    if flight["status"] == "cancelled":
        return "airline_cancellation"
    return "long_delay" if flight["delay_minutes"] >= DELAY_REFUND_MINUTES else None


def read_refund(booking: dict, flight: dict, policies: list[dict], now: str) -> Reading:
    """The refund a booking is due (get_booking, get_flight_status, get_policy refunds)."""
    tags = []
    if near(flight["delay_minutes"], DELAY_REFUND_MINUTES):
        tags.append("near_threshold")
    if booking["status"] == "cancelled":
        return Reading(
            verdict="no_refund",
            evidence_ids=[booking["id"], clause(policies, "already_cancelled")],
            tags=["already_cancelled"],
        )
    ids = [booking["id"], flight["id"]]
    ground = disruption(flight)
    if ground is not None:
        return Reading(
            verdict="full_refund",
            typology=ground,
            evidence_ids=[*ids, clause(policies, ground)],
            tags=tags,
            amount=booking["price"],
        )
    if flight["departure"] < now:
        return Reading(verdict="no_refund", evidence_ids=[*ids, clause(policies, "flown")], tags=[*tags, "flown"])
    booked_hours = _hours(now, booking["booked_at"])
    days_out = _hours(flight["departure"], now) / 24
    if near(booked_hours, GRACE_HOURS) and "near_threshold" not in tags:
        tags.append("near_threshold")
    if booked_hours < GRACE_HOURS and days_out >= GRACE_MIN_DAYS_OUT:
        return Reading(
            verdict="full_refund",
            typology="grace_period",
            evidence_ids=[*ids, clause(policies, "grace_period")],
            tags=tags,
            amount=booking["price"],
        )
    fare = booking["fare_class"]
    if fare == "flex":
        return Reading(
            verdict="full_refund",
            typology="fare_rules",
            evidence_ids=[*ids, clause(policies, "flex")],
            tags=tags,
            amount=booking["price"],
        )
    if fare == "standard" and booking["price"] > STANDARD_CANCELLATION_FEE:
        amount = round(booking["price"] - STANDARD_CANCELLATION_FEE, 2)
        return Reading(
            verdict="partial_refund",
            typology="fare_rules",
            evidence_ids=[*ids, clause(policies, "standard")],
            tags=tags,
            amount=amount,
        )
    if fare == "standard":
        tags.append("fee_exceeds_fare")
    return Reading(verdict="no_refund", evidence_ids=[*ids, clause(policies, fare)], tags=tags)


def search_date(flight: dict) -> str:
    """The date a change searches from: the booked flight's."""
    return flight["departure"][:10]


def next_flight(flight: dict, found: list[dict], now: str) -> tuple[dict | None, bool]:
    """(the earliest later flight on the route with seats left, whether an earlier one was full)."""
    later = sorted(
        (
            f
            for f in found
            if f["id"] != flight["id"] and f["status"] != "cancelled" and f["departure"] > max(flight["departure"], now)
        ),
        key=lambda f: (f["departure"], f["id"]),
    )
    for position, candidate in enumerate(later):
        if candidate["seats_left"] > 0:
            return candidate, position > 0
    return None, bool(later)


def read_change(booking: dict, flight: dict, policies: list[dict], found: list[dict], now: str) -> Reading:
    """The change a booking can have to the next flight (get_booking, get_flight_status, get_policy changes,
    search_flights)."""
    tags = ["near_threshold"] if near(flight["delay_minutes"], DELAY_REFUND_MINUTES) else []
    if booking["status"] == "cancelled":
        return Reading(
            verdict="no_change",
            evidence_ids=[booking["id"], clause(policies, "already_cancelled")],
            tags=["already_cancelled"],
        )
    ids = [booking["id"], flight["id"]]
    ground = disruption(flight)
    if ground is None and flight["departure"] < now:
        return Reading(verdict="no_change", evidence_ids=[*ids, clause(policies, "flown")], tags=[*tags, "flown"])
    fare = booking["fare_class"]
    if ground is None and fare == "basic":
        return Reading(verdict="no_change", evidence_ids=[*ids, clause(policies, "basic")], tags=tags)
    target, passed_full = next_flight(flight, found, now)
    if passed_full:
        tags.append("first_alternative_full")
    if target is None:
        return Reading(verdict="no_change", evidence_ids=[*ids, clause(policies, "no_seats")], tags=tags)
    rule = "disruption" if ground else fare
    verdict = "change_fee" if rule == "standard" else "free_change"
    return Reading(
        verdict=verdict,
        typology=ground or "fare_rules",
        evidence_ids=[*ids, clause(policies, rule), target["id"]],
        tags=tags,
        amount=CHANGE_FEE if verdict == "change_fee" else 0.0,
        target_flight=target["id"],
    )


def read_baggage(booking: dict, customer: dict, policies: list[dict], bags: int) -> Reading:
    """Whether `bags` checked bags are included on a booking (get_booking, get_customer, get_policy baggage)."""
    fare_bags = INCLUDED_BAGS[booking["fare_class"]]
    gold = GOLD_EXTRA_BAGS if customer["tier"] == "gold" else 0
    included = fare_bags + gold + booking["extra_bags"]
    tags = []
    if gold and (bags <= included) != (bags <= included - gold):
        tags.append("tier_bonus")
    if booking["extra_bags"] and (bags <= included) != (bags <= included - booking["extra_bags"]):
        tags.append("bags_already_bought")
    ids = [booking["id"], customer["id"], clause(policies, "allowance")]
    if bags <= included:
        return Reading(verdict="within_allowance", evidence_ids=ids, tags=tags, amount=0.0)
    extra = bags - included
    return Reading(
        verdict="bag_fee",
        evidence_ids=[*ids, clause(policies, "extra_bags")],
        tags=tags,
        amount=round(extra * BAG_FEE, 2),
    )


def read_name(matches: list[dict], name: str) -> Reading:
    """A name several customers share: which one is meant has to be asked."""
    ids = sorted({m["customer_id"] for m in matches if m["name"].casefold() == name.casefold()})
    return Reading(verdict="needs_clarification", evidence_ids=ids)


def asked_about(booking: dict, flight: dict, now: str) -> set[Aspect]:
    """Which questions a customer may ask about a booking: a refund always; a change when it is confirmed and the
    flight is still ahead or was disrupted; baggage when it is confirmed and the flight still ahead and flying."""
    aspects: set[Aspect] = {"refund"}
    ahead = flight["departure"] >= now
    if booking["status"] == "confirmed" and (ahead or disruption(flight)):
        aspects.add("rebook")
    if booking["status"] == "confirmed" and ahead and flight["status"] != "cancelled":
        aspects.add("baggage")
    return aspects


def label_world(world: AirlineWorld) -> list[Label]:
    """Every label of the world: each question the rules can be asked about each booking, answered from the
    tools' outputs (called as an agent would call them), and each shared name."""
    from goldsmith_airline.tools import build_tools

    tools: dict[str, Any] = {t.tool_name: t for t in build_tools(world)}
    now = world.as_of
    policies = {topic: tools["get_policy"](topic=topic) for topic in ("refunds", "changes", "baggage")}
    labels: list[Label] = []

    def add(subject: str, aspect: Aspect, reading: Reading, customer_id: str | None) -> None:
        labels.append(Label(subject=subject, aspect=aspect, customer_id=customer_id, **reading.model_dump()))

    for record in world.bookings:
        booking = tools["get_booking"](booking_id=record.id)
        flight = tools["get_flight_status"](flight_id=booking["flight_id"])
        customer = booking["customer_id"]
        aspects = asked_about(booking, flight, now)
        add(record.id, "refund", read_refund(booking, flight, policies["refunds"], now), customer)
        if "rebook" in aspects:
            found = tools["search_flights"](
                origin=flight["origin"], destination=flight["destination"], date=search_date(flight)
            )
            add(record.id, "rebook", read_change(booking, flight, policies["changes"], found, now), customer)
        if "baggage" in aspects:
            profile = tools["get_customer"](customer_id=customer)
            reading = read_baggage(booking, profile, policies["baggage"], bags_requested(record.id))
            add(record.id, "baggage", reading, customer)
    shared = Counter(c.name for c in world.customers)
    for name in sorted(n for n, count in shared.items() if count > 1):
        reading = read_name(tools["search_bookings_by_name"](name=name), name)
        add(",".join(reading.evidence_ids), "name", reading, None)
    return labels
