"""The support agent's read-only tools over one airline world: real `@tool` functions the agent framework executes.

Each docstring is what the model sees. Tools return JSON-serialisable data and raise ValueError for an unknown id
or topic, which the framework reports to the model as a failed tool call.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from strands import tool

from goldsmith_airline.rules import SEARCH_DAYS
from goldsmith_airline.world import AirlineWorld, Booking, Customer, Flight

TOPICS = ("refunds", "changes", "baggage")


def build_tools(world: AirlineWorld) -> list[Any]:
    """The six read-only tools, bound to `world`."""

    def find(record_id: str, kind: type, what: str) -> Any:
        record = world.by_id.get(record_id.strip())
        if not isinstance(record, kind):
            raise ValueError(f"no {what} with id {record_id!r}")
        return record

    @tool
    def get_customer(customer_id: str) -> dict:
        """Get a customer's profile: name, email, loyalty tier (none, silver, gold) and member since.

        Args:
            customer_id: Customer id, e.g. CU-0042.
        """
        return find(customer_id, Customer, "customer").model_dump()

    @tool
    def get_booking(booking_id: str) -> dict:
        """Get a booking: its customer, flight, fare class (basic, standard, flex), price paid, when it was booked,
        its status (confirmed, cancelled, changed), the amount refunded so far and the extra checked bags bought.

        Args:
            booking_id: Booking id, e.g. BK-00042.
        """
        return find(booking_id, Booking, "booking").model_dump()

    @tool
    def get_flight_status(flight_id: str) -> dict:
        """Get a flight's schedule and status: number, route, scheduled departure and arrival (UTC), status
        (scheduled, delayed, cancelled, landed), delay in minutes, seats left, and the time now.

        Args:
            flight_id: Flight id, e.g. FL-00042 (a booking names its flight).
        """
        return {**find(flight_id, Flight, "flight").model_dump(), "now": world.as_of}

    @tool
    def search_bookings_by_name(name: str) -> list[dict]:
        """Find customers by full name (case-insensitive), with their bookings. Several customers may share a name.

        Args:
            name: The customer's full name, e.g. Ana Ruiz.
        """
        wanted = " ".join(name.casefold().split())
        return [
            {
                "customer_id": c.id,
                "name": c.name,
                "email": c.email,
                "tier": c.tier,
                "booking_ids": [b.id for b in world.bookings if b.customer_id == c.id],
            }
            for c in world.customers
            if wanted and c.name.casefold() == wanted
        ]

    @tool
    def search_flights(origin: str, destination: str, date: str) -> list[dict]:
        """List the flights on a route departing on a date and the two days after, earliest first, with their
        status and seats left.

        Args:
            origin: Airport code, e.g. LIS.
            destination: Airport code, e.g. CDG.
            date: The first day to search, YYYY-MM-DD.
        """
        start = _day(date)
        days = {(start + timedelta(days=n)).isoformat() for n in range(SEARCH_DAYS)}
        route = world.flights_by_route.get((origin.strip().upper(), destination.strip().upper()))
        if route is None:
            raise ValueError(f"no route from {origin!r} to {destination!r}")
        return [f.model_dump() for f in route if f.departure[:10] in days]

    @tool
    def get_policy(topic: str) -> list[dict]:
        """Get the airline's written policy on a topic, clause by clause: refunds, changes or baggage.

        Args:
            topic: refunds, changes or baggage.
        """
        key = topic.strip().lower()
        if key not in TOPICS:
            raise ValueError(f"no policy on {topic!r}; topics: {', '.join(TOPICS)}")
        return [p.model_dump() for p in world.policies if p.topic == key]

    return [get_customer, get_booking, get_flight_status, search_bookings_by_name, search_flights, get_policy]


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text.strip()[:10])
    except ValueError:
        raise ValueError(f"date must be YYYY-MM-DD, got {text!r}") from None
