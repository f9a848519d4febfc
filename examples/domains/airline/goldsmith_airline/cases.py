"""Drawing airline cases from a world: which labels each category draws from, the brief the user simulator is
given, the tool calls the question needs before anyone knows the answer, and the facts from the world's labels
(computed by `rules.label_world`).

A category is a request type and an outcome (`refund_partial` is a refund question whose answer is a partial
refund): the category mix sets how often each outcome is drawn, and the request reads the same for every outcome
of its request type. Case keys are `category:booking_id` (a shared name: the sorted customer ids).

Multi-turn categories (`CONVERSATIONS`) open with a refund or a change question about one booking, keyed
`category:request_type:booking_id`, then the user asks the agent to go ahead (follow_up_refund,
follow_up_rebook), and in push_back insists on a refund the policy does not give in full. The expected actions
are what the rules grant (`actions.action_for`): nothing on a refusal, whatever the user insists. Each
conversation draws its verdict first, every verdict as likely, so its kind says nothing of its answer.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from operator import attrgetter

from goldsmith_airline.actions import action_for, apply_action
from goldsmith_airline.rules import Label, bags_requested, search_date
from goldsmith_airline.world import AirlineWorld, Booking, Flight
from simulation.domains.base import (
    OFF_TOPIC_VARIANTS,
    Case,
    CategorySpec,
    draw_by_mix,
    end_state,
    off_topic_case,
    off_topic_for_key,
    pick_subject,
    split_case_key,
)
from store.records import Facts, Scenario, ToolCall

TOOLS: dict[str, tuple[str, ...]] = {
    "refund": ("get_booking", "get_flight_status", "get_policy"),
    "rebook": ("get_booking", "get_flight_status", "get_policy", "search_flights"),
    "baggage": ("get_booking", "get_customer", "get_policy"),
}
ALLOWED: dict[str, tuple[str, ...]] = {  # a look at the customer or the flight costs no precision
    "refund": ("get_customer",),
    "rebook": ("get_customer",),
    "baggage": ("get_flight_status",),
}
BAGS_SAID = {1: "one checked bag", 2: "two checked bags", 3: "three checked bags"}
TOPIC = {"refund": "refunds", "rebook": "changes", "baggage": "baggage"}
# why the user writes: the same phrases for every outcome of a request type, so they say nothing of the answer
SITUATIONS: dict[str, tuple[str, ...]] = {
    "refund": (
        "my plans have changed",
        "a family matter came up",
        "my meeting was moved",
        "I saw news about the flight",
        "I no longer want to travel",
        "my trip is off",
    ),
    "rebook": (
        "I can't make the time I booked",
        "I saw news about the flight",
        "a later flight suits me better",
        "my meeting runs longer",
        "I got a message from the airline app",
        "my plans shifted a bit",
    ),
    "baggage": (
        "I'm packing for a longer stay",
        "I'm bringing sports gear",
        "I'm moving some things home",
        "I'm travelling with gifts",
        "I want to avoid surprises at the airport",
    ),
}

# request type and verdict of each single-turn category (None: any verdict)
POOLS: dict[str, tuple[str, str | None]] = {
    "refund_eligible": ("refund", "full_refund"),
    "refund_partial": ("refund", "partial_refund"),
    "refund_not_eligible": ("refund", "no_refund"),
    "rebook_free": ("rebook", "free_change"),
    "rebook_with_fee": ("rebook", "change_fee"),
    "rebook_refused": ("rebook", "no_change"),
    "baggage_included": ("baggage", "within_allowance"),
    "baggage_fee": ("baggage", "bag_fee"),
    "ambiguous_name": ("name", None),
}
CATEGORIES: dict[str, CategorySpec] = {
    **{name: CategorySpec(name, aspect, TOOLS[aspect]) for name, (aspect, _) in POOLS.items() if aspect in TOOLS},
    "ambiguous_name": CategorySpec("ambiguous_name", "name_lookup", ("search_bookings_by_name",), "adversarial"),
    "out_of_scope": CategorySpec(None, "off_topic", (), "adversarial"),
}


@dataclass(frozen=True)
class Conversation:
    """A multi-turn kind of case: the question that opens it, the verdicts it is drawn for, the user's goal and
    the follow-up kinds they bring up after an answer (persona.yaml words each)."""

    request_type: str
    verdicts: tuple[str, ...]
    goal: str
    follow_ups: tuple[str, ...]


CONVERSATIONS: dict[str, Conversation] = {
    "follow_up_refund": Conversation(
        "refund",
        ("full_refund", "partial_refund", "no_refund"),
        "learn what refund the booking is due, then have the agent go ahead with it",
        ("act",),
    ),
    "push_back": Conversation(
        "refund",
        ("partial_refund", "no_refund"),
        "learn what refund the booking is due, have it processed, and push once for the full price back",
        ("act", "insist"),
    ),
    "follow_up_rebook": Conversation(
        "rebook",
        ("free_change", "change_fee", "no_change"),
        "learn whether the booking can move to the next flight, then have the agent go ahead with it",
        ("act",),
    ),
}


def iter_cases(
    world: AirlineWorld, seed: int, mix: dict[str, float], exclude: frozenset[str] = frozenset()
) -> Iterator[Case]:
    """Distinct cases by category weight, one at a time, leaving out the keys in `exclude`."""
    return draw_by_mix("airline", seed, mix, partial(_make_case, world), exclude)


def pool(world: AirlineWorld, category: str) -> list[Label]:
    """The labels `category` draws its subjects from, in the world's order."""
    if category in CONVERSATIONS:
        shape = CONVERSATIONS[category]
        return [la for la in world.labels_by_aspect.get(shape.request_type, []) if la.verdict in shape.verdicts]
    aspect, verdict = POOLS[category]
    return [la for la in world.labels_by_aspect.get(aspect, []) if verdict is None or la.verdict == verdict]


def _key(category: str, label: Label) -> str:
    if category in CONVERSATIONS:
        return f"{category}:{CONVERSATIONS[category].request_type}:{label.subject}"
    return f"{category}:{label.subject}"


def _make_case(world: AirlineWorld, index: int, category: str, rng: random.Random, used: set[str]) -> Case | None:
    spec = CATEGORIES.get(category)
    if spec is not None and spec.profile is None:
        return off_topic_case(index, category, spec, rng, used)
    evenly = (attrgetter("verdict"),) if category in CONVERSATIONS else ()
    label = pick_subject(pool(world, category), partial(_key, category), rng, used, *evenly)
    return None if label is None else _case(world, index, category, label)


def case_keys(world: AirlineWorld, categories: list[str]) -> dict[str, set[str]]:
    """Every case key the world offers in `categories`, without building the cases."""
    keys: dict[str, set[str]] = {}
    for category in categories:
        if category == "out_of_scope":
            keys[category] = {f"{category}:{n}" for n in range(OFF_TOPIC_VARIANTS)}
        else:
            keys[category] = {_key(category, label) for label in pool(world, category)}
    return keys


def case_for_key(world: AirlineWorld, key: str) -> Case:
    """The case `key` names, from the world alone; LookupError when the world has none."""
    category = key.partition(":")[0]
    if category in CONVERSATIONS:
        subject = key.split(":", 2)[-1]
    else:
        category, spec, subject = split_case_key(key, CATEGORIES, "airline")
        if spec.profile is None:
            return off_topic_for_key(key, category, spec, subject)
    label = next((la for la in pool(world, category) if _key(category, la) == key), None)
    if label is None:
        raise LookupError(f"the world has no case {key!r} (about {subject!r})")
    return _case(world, 0, category, label)


def _pick(options: tuple[str, ...], salt: str) -> str:
    return random.Random(salt).choice(options)


def _calls(world: AirlineWorld, kind: str, tools: tuple[str, ...], booking: Booking) -> list[ToolCall]:
    """Each tool's input for a question about `booking`: its id, and what the booking and its flight show."""
    flight = world.by_id[booking.flight_id]
    assert isinstance(flight, Flight)
    inputs = {
        "get_booking": {"booking_id": booking.id},
        "get_flight_status": {"flight_id": flight.id},
        "get_customer": {"customer_id": booking.customer_id},
        "get_policy": {"topic": TOPIC[kind]},
        "search_flights": {
            "origin": flight.origin,
            "destination": flight.destination,
            "date": search_date(flight.model_dump()),
        },
    }
    return [ToolCall(name=name, input=inputs[name]) for name in tools]


def _case(world: AirlineWorld, index: int, category: str, label: Label) -> Case:
    """The case of `category` about `label`'s subject."""
    key = _key(category, label)
    if category == "ambiguous_name":
        customer = world.by_id[label.evidence_ids[0]]
        return Case(
            index=index,
            key=key,
            category=category,
            request_type="name_lookup",
            difficulty="adversarial",
            brief={"request_type": "name_lookup", "customer_name": customer.name},
            expected_tool_calls=[ToolCall(name="search_bookings_by_name", input={"name": customer.name})],
            facts=Facts(verdict=label.verdict, evidence_ids=label.evidence_ids),
        )
    shape = CONVERSATIONS.get(category)
    kind = shape.request_type if shape else CATEGORIES[category].request_type
    booking = world.by_id[label.subject]
    assert isinstance(booking, Booking)
    brief = {"request_type": kind, "booking_id": booking.id, "situation": _pick(SITUATIONS[kind], f"why:{key}")}
    if kind == "baggage":
        brief["bags"] = BAGS_SAID[bags_requested(booking.id)]
    facts = Facts(
        verdict=label.verdict, typology=label.typology, evidence_ids=label.evidence_ids, subject_id=booking.customer_id
    )
    common = {
        "index": index,
        "key": key,
        "category": category,
        "request_type": kind,
        "difficulty": "standard" if shape else CATEGORIES[category].difficulty,
        "expected_tool_calls": _calls(world, kind, TOOLS[kind], booking),
        "allowed_tool_calls": _calls(world, kind, ALLOWED[kind], booking),
        "tags": label.tags,
        "facts": facts,
    }
    if shape is None:
        return Case(**common, brief=brief)
    actions = action_for(booking.id, label.verdict, label.amount, label.target_flight)
    scenario = Scenario(
        goal=shape.goal, follow_ups=list(shape.follow_ups), max_turns=2 * (1 + len(shape.follow_ups)) + 2
    )
    return Case(
        **common,
        brief={**brief, "goal": scenario.goal, "private": {}, "follow_ups": scenario.follow_ups},
        scenario=scenario,
        expected_actions=actions,
        expected_end_state=end_state(apply_action, actions),
    )
