"""The airline world: customers, flights over six weeks around today, one booking per flight taken, and the
written policies, generated from a world seed.

The generator plants situations; it does not decide the truth. Each booking is dealt a profile (its flight
cancelled by the airline, delayed, booked a few hours ago, a fare that allows a refund, ...), many of them just
either side of a rule's threshold, and what each profile was meant to give is kept in `planted`, for tests only.
The labels are computed afterwards by `rules.label_world` from what the task agent's tools return; a planted
profile whose label differs from what was meant is a generator bug. Every booking has a flight of its own, so a
profile never changes another booking's answer.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from functools import cached_property, lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict

from goldsmith_airline.rules import (
    BAG_FEE,
    CHANGE_FEE,
    DELAY_REFUND_MINUTES,
    GRACE_HOURS,
    GRACE_MIN_DAYS_OUT,
    STANDARD_CANCELLATION_FEE,
    Label,
    Policy,
)

DOMAIN_VERSION = "1"
AS_OF = datetime(2026, 10, 1, 12, 0)  # "now" in every world
FIRST_DAY, DAYS = AS_OF - timedelta(days=12), 42  # flights from 12 days ago to 30 days ahead
AIRPORTS = ("LIS", "MAD", "BCN", "CDG", "AMS", "FRA", "FCO", "DUB", "CPH", "VIE")
DEPARTURES = ((6, 40), (11, 15), (17, 50))  # three flights a day on every route
FareClass = Literal["basic", "standard", "flex"]
Tier = Literal["none", "silver", "gold"]

# How many bookings get each profile; `_near` profiles sit just either side of a rule's threshold.
PROFILES: dict[str, int] = {
    "airline_cancelled": 45,  # the airline cancelled the flight (past or ahead)
    "long_delay": 35,  # a delay of 3h30 to 7h
    "long_delay_near": 20,  # 3h00 to 3h20: just at the line
    "short_delay": 30,  # 2h30 to 2h59 ahead: just short of the line, the fare decides
    "grace": 25,  # booked 2-20 hours ago, departing 8+ days out
    "grace_near": 20,  # booked 22-23.9 hours ago, departing 7-9 days out
    "grace_missed": 25,  # booked 24.2-30 hours ago, or within 24 hours but departing in under 7 days
    "flex": 45,
    "standard": 60,
    "standard_cheap": 15,  # a standard fare cheaper than the cancellation fee
    "basic": 60,
    "already_cancelled": 25,  # cancelled and refunded before
    "flown": 40,  # flew (on time or a little late)
}


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Customer(Record):
    id: str
    name: str
    email: str
    tier: Tier
    member_since: str


class Flight(Record):
    id: str
    number: str
    origin: str
    destination: str
    departure: str  # scheduled, ISO date and time (UTC)
    arrival: str
    status: Literal["scheduled", "delayed", "cancelled", "landed"]
    delay_minutes: int
    seats_left: int


class Booking(Record):
    id: str
    customer_id: str
    flight_id: str
    fare_class: FareClass
    price: float
    currency: str
    booked_at: str
    status: Literal["confirmed", "cancelled", "changed"]
    refunded_amount: float
    extra_bags: int  # checked bags bought on top of the allowance


class Plant(Record):
    """What a booking's profile was meant to give: the refund verdict and its ground (for tests)."""

    booking_id: str
    profile: str
    refund: str
    typology: str | None = None


class AirlineWorld(BaseModel):
    """Everything the tools can show, plus the labels the rules give it (for case drawing and checks)."""

    model_config = ConfigDict(extra="forbid")

    world_seed: int
    as_of: str
    customers: list[Customer]
    flights: list[Flight]
    bookings: list[Booking]
    policies: list[Policy]
    planted: list[Plant]
    labels: list[Label] = []

    @cached_property
    def by_id(self) -> dict[str, Record | Policy]:
        return {r.id: r for r in [*self.customers, *self.flights, *self.bookings, *self.policies]}

    @cached_property
    def flights_by_route(self) -> dict[tuple[str, str], list[Flight]]:
        routes: dict[tuple[str, str], list[Flight]] = {}
        for flight in self.flights:
            routes.setdefault((flight.origin, flight.destination), []).append(flight)
        return routes

    @cached_property
    def labels_by_aspect(self) -> dict[str, list[Label]]:
        aspects: dict[str, list[Label]] = {}
        for label in self.labels:
            aspects.setdefault(label.aspect, []).append(label)
        return aspects

    def has_id(self, object_id: str) -> bool:
        return object_id in self.by_id

    def owner_of(self, object_id: str) -> str | None:
        """The customer a booking or a customer record belongs to; None for flights and policies."""
        record = self.by_id.get(object_id)
        if isinstance(record, Booking):
            return record.customer_id
        return record.id if isinstance(record, Customer) else None


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")


POLICIES: list[Policy] = [
    Policy(
        id="POL-01",
        topic="refunds",
        rule="already_cancelled",
        text="A booking that is already cancelled cannot be refunded again.",
    ),
    Policy(
        id="POL-02",
        topic="refunds",
        rule="airline_cancellation",
        text="When the airline cancels the flight, every fare is refunded in full.",
    ),
    Policy(
        id="POL-03",
        topic="refunds",
        rule="long_delay",
        text=f"When the flight is delayed by {DELAY_REFUND_MINUTES} minutes or more, every fare is refunded in full.",
    ),
    Policy(
        id="POL-04",
        topic="refunds",
        rule="flown",
        text="A flight that has departed is not refunded, unless it was cancelled or delayed as above.",
    ),
    Policy(
        id="POL-05",
        topic="refunds",
        rule="grace_period",
        text=f"A booking made less than {GRACE_HOURS} hours ago is refunded in full when the flight departs "
        f"{GRACE_MIN_DAYS_OUT} days or more from now, whatever the fare.",
    ),
    Policy(id="POL-06", topic="refunds", rule="flex", text="Flex fares are refunded in full."),
    Policy(
        id="POL-07",
        topic="refunds",
        rule="standard",
        text=f"Standard fares are refunded less a cancellation fee of EUR {STANDARD_CANCELLATION_FEE:.2f}; when "
        "the fare does not exceed the fee, nothing is refunded.",
    ),
    Policy(id="POL-08", topic="refunds", rule="basic", text="Basic fares are not refunded."),
    Policy(id="POL-11", topic="changes", rule="already_cancelled", text="A cancelled booking cannot be changed."),
    Policy(id="POL-12", topic="changes", rule="flown", text="A flight that has departed cannot be changed."),
    Policy(
        id="POL-13",
        topic="changes",
        rule="disruption",
        text=f"When the airline cancels the flight or delays it by {DELAY_REFUND_MINUTES} minutes or more, the "
        "passenger is moved free of charge to the earliest later flight on the same route with seats left.",
    ),
    Policy(
        id="POL-14",
        topic="changes",
        rule="flex",
        text="Flex fares move free of charge to the earliest later flight on the same route with seats left.",
    ),
    Policy(
        id="POL-15",
        topic="changes",
        rule="standard",
        text=f"Standard fares move to the earliest later flight on the same route with seats left for a change "
        f"fee of EUR {CHANGE_FEE:.2f}.",
    ),
    Policy(id="POL-16", topic="changes", rule="basic", text="Basic fares cannot be changed."),
    Policy(
        id="POL-17",
        topic="changes",
        rule="no_seats",
        text="When no later flight on the route within the search window has seats left, the booking cannot be moved.",
    ),
    Policy(
        id="POL-21",
        topic="baggage",
        rule="allowance",
        text="Checked bags included: basic 0, standard 1, flex 2; gold members get one more; bags already "
        "bought on the booking count too.",
    ),
    Policy(
        id="POL-22",
        topic="baggage",
        rule="extra_bags",
        text=f"Each checked bag beyond what is included costs EUR {BAG_FEE:.2f}.",
    ),
]

FIRST = (
    "Ana",
    "Bruno",
    "Clara",
    "David",
    "Elena",
    "Filipe",
    "Greta",
    "Hugo",
    "Ines",
    "Jonas",
    "Katrin",
    "Luca",
    "Marta",
    "Niels",
    "Olga",
    "Pedro",
    "Rita",
    "Sven",
    "Teresa",
    "Victor",
    "Yara",
    "Zoe",
    "Aoife",
    "Lars",
)
LAST = (
    "Ruiz",
    "Silva",
    "Moreau",
    "Jensen",
    "Rossi",
    "Murphy",
    "Weber",
    "Costa",
    "Novak",
    "Dubois",
    "Berg",
    "Santos",
    "Keller",
    "Lund",
    "Bianchi",
    "Walsh",
    "Fischer",
    "Lopes",
    "Meyer",
    "Nilsen",
)
SHARED_NAMES = 12  # pairs of customers with the same full name


@lru_cache(maxsize=4)
def build_world(world_seed: int) -> AirlineWorld:
    """The world of `world_seed`, labelled by the rules."""
    from goldsmith_airline.rules import label_world

    world = _Generator(world_seed).build()
    world.labels = label_world(world)
    return world


class _Generator:
    def __init__(self, world_seed: int):
        self.seed = world_seed
        self.rng = random.Random(f"airline-world:{world_seed}")

    def build(self) -> AirlineWorld:
        customers = self.customers()
        flights = self.flights()
        deck = [profile for profile, count in PROFILES.items() for _ in range(count)]
        self.rng.shuffle(deck)
        free = list(range(len(flights)))
        self.rng.shuffle(free)
        bookings, plants = [], []
        for n, profile in enumerate(deck, start=1):
            booking_id = f"BK-{n:05d}"
            customer = self.rng.choice(customers)
            index = self.pick_flight(flights, free, profile)
            flight, booking, plant = self.plant(profile, booking_id, customer, flights[index])
            flights[index] = flight
            bookings.append(booking)
            plants.append(plant)
        return AirlineWorld(
            world_seed=self.seed,
            as_of=stamp(AS_OF),
            customers=customers,
            flights=flights,
            bookings=bookings,
            policies=POLICIES,
            planted=plants,
        )

    def customers(self) -> list[Customer]:
        names = [f"{first} {last}" for first in FIRST for last in LAST]
        self.rng.shuffle(names)
        chosen = names[:228]
        chosen += chosen[:SHARED_NAMES]  # the same full name on two customers
        customers = []
        for n, name in enumerate(chosen, start=1):
            since = AS_OF - timedelta(days=self.rng.randint(60, 3650))
            customers.append(
                Customer(
                    id=f"CU-{n:04d}",
                    name=name,
                    email=f"{name.lower().replace(' ', '.')}{n}@example.com",
                    tier=self.rng.choices(("none", "silver", "gold"), (6, 3, 2))[0],
                    member_since=since.date().isoformat(),
                )
            )
        return customers

    def flights(self) -> list[Flight]:
        routes = [(a, b) for a in AIRPORTS for b in AIRPORTS if a != b]
        self.rng.shuffle(routes)
        flights = []
        for number, (origin, destination) in enumerate(sorted(routes[:16]), start=1):
            for day in range(DAYS):
                for slot, (hour, minute) in enumerate(DEPARTURES):
                    departure = FIRST_DAY.replace(hour=hour, minute=minute) + timedelta(days=day)
                    past = departure < AS_OF
                    delay = self.rng.choice((0, 0, 5, 10, 15, 25, 40)) if past else 0
                    flights.append(
                        Flight(
                            id=f"FL-{len(flights) + 1:05d}",
                            number=f"GA{100 + 10 * number + slot}",
                            origin=origin,
                            destination=destination,
                            departure=stamp(departure),
                            arrival=stamp(departure + timedelta(minutes=self.rng.choice((105, 130, 150, 170)))),
                            status="landed" if past else "scheduled",
                            delay_minutes=delay,
                            seats_left=0 if self.rng.random() < 0.12 else self.rng.randint(1, 60),
                        )
                    )
        return flights

    def pick_flight(self, flights: list[Flight], free: list[int], profile: str) -> int:
        """A flight nobody else has booked, departing when the profile needs it to."""
        now = stamp(AS_OF)
        past = profile == "flown" or (profile in {"airline_cancelled", "long_delay"} and self.rng.random() < 0.3)
        days_out = {"grace": (8, 29), "grace_near": (7, 9)}.get(profile)
        if profile == "grace_missed":
            days_out = self.rng.choice(((8, 29), (1, 6)))
        for position, index in enumerate(free):
            departure = flights[index].departure
            if past != (departure < now):
                continue
            if days_out is not None:
                days = (datetime.fromisoformat(departure) - AS_OF).total_seconds() / 86400
                if not days_out[0] <= days < days_out[1]:
                    continue
            return free.pop(position)
        raise RuntimeError(f"no free flight left for a {profile} booking")

    def plant(self, profile: str, booking_id: str, customer: Customer, flight: Flight) -> tuple[Flight, Booking, Plant]:
        rng = self.rng
        departure = datetime.fromisoformat(flight.departure)
        fare: FareClass = rng.choice(("basic", "standard", "flex"))
        booked = departure - timedelta(days=rng.randint(10, 90), hours=rng.randint(0, 23))
        booked = min(booked, AS_OF - timedelta(days=2))
        status, refunded = "confirmed", 0.0
        refund, typology = "", None
        if profile == "airline_cancelled":
            flight = flight.model_copy(update={"status": "cancelled", "delay_minutes": 0})
            refund, typology = "full_refund", "airline_cancellation"
        elif profile in {"long_delay", "long_delay_near", "short_delay"}:
            span = {"long_delay": (210, 420), "long_delay_near": (180, 200), "short_delay": (150, 179)}[profile]
            delay = rng.randint(*span)
            state = "landed" if departure < AS_OF else "delayed"
            flight = flight.model_copy(update={"status": state, "delay_minutes": delay})
            if profile == "short_delay":
                fare = rng.choice(("basic", "flex"))
                refund, typology = ("full_refund", "fare_rules") if fare == "flex" else ("no_refund", None)
            else:
                refund, typology = "full_refund", "long_delay"
        elif profile in {"grace", "grace_near"}:
            fare = rng.choice(("basic", "standard"))
            hours = rng.uniform(2, 20) if profile == "grace" else rng.uniform(22, 23.9)
            booked = AS_OF - timedelta(hours=hours)
            refund, typology = "full_refund", "grace_period"
        elif profile == "grace_missed":
            fare = "basic"
            soon = departure - AS_OF < timedelta(days=7)
            booked = AS_OF - timedelta(hours=rng.uniform(3, 20) if soon else rng.uniform(24.2, 30))
            refund = "no_refund"
        elif profile == "flex":
            fare, refund, typology = "flex", "full_refund", "fare_rules"
        elif profile in {"standard", "standard_cheap"}:
            fare = "standard"
            refund, typology = ("partial_refund", "fare_rules") if profile == "standard" else ("no_refund", None)
        elif profile == "basic":
            fare, refund = "basic", "no_refund"
        elif profile == "already_cancelled":
            status, refund = "cancelled", "no_refund"
        elif profile == "flown":
            refund = "no_refund"
        price = self.price(fare, profile)
        if status == "cancelled":
            refunded = price
        booking = Booking(
            id=booking_id,
            customer_id=customer.id,
            flight_id=flight.id,
            fare_class=fare,
            price=price,
            currency="EUR",
            booked_at=stamp(booked),
            status=status,
            refunded_amount=refunded,
            extra_bags=rng.choices((0, 1, 2), (7, 2, 1))[0],
        )
        return flight, booking, Plant(booking_id=booking_id, profile=profile, refund=refund, typology=typology)

    def price(self, fare: FareClass, profile: str) -> float:
        if profile == "standard_cheap":
            return round(self.rng.uniform(35, STANDARD_CANCELLATION_FEE), 2)
        low, high = {"basic": (29, 140), "standard": (STANDARD_CANCELLATION_FEE + 15, 260), "flex": (180, 520)}[fare]
        return round(self.rng.uniform(low, high), 2)
