"""What the support agent can do, not just look up: refund, rebook, cancel a booking, add checked bags.

The state an action changes is the desk of one conversation: per booking, its status (`cancelled`, `changed`),
the total refunded, the flight it was moved to and the extra bags added. `apply_action` is the one rule for how
an action changes it; the tools call it, and so does the case drawing, which applies a case's expected actions to
an empty desk to get the end state the conversation must leave.

Which actions a conversation calls for (`action_for`): a refund the rules grant is issued for the amount they
give (the booking is then cancelled); a change they allow moves the booking to the flight they name; a refusal
calls for no action at all, whatever the user insists.
"""

from __future__ import annotations

import math
from typing import Any

from strands import tool

from goldsmith_airline.world import AirlineWorld, Booking, Flight
from simulation.domains.base import ActionDesk
from store.records import ToolCall

ACTIONS = frozenset({"issue_refund", "rebook", "cancel_booking", "add_baggage"})


def apply_action(state: dict[str, Any], name: str, arguments: dict[str, Any]) -> None:
    """Change `state` by one action; ValueError for an unknown action or arguments it refuses (the state is then
    unchanged)."""
    booking = str(arguments.get("booking_id", "")).strip()
    if not booking:
        raise ValueError("booking_id is required")
    desk = dict(state.get(booking, {}))
    if desk.get("status") == "cancelled" and name != "issue_refund":  # a refund may be topped up, nothing else
        raise ValueError(f"booking {booking} is cancelled")
    if name == "issue_refund":
        amount = arguments.get("amount")
        if isinstance(amount, bool) or not isinstance(amount, int | float) or not math.isfinite(amount) or amount <= 0:
            raise ValueError("amount must be a positive number (EUR)")
        desk["refunded"] = round(desk.get("refunded", 0.0) + float(amount), 2)
        desk["status"] = "cancelled"
    elif name == "cancel_booking":
        desk["status"] = "cancelled"
    elif name == "rebook":
        flight = str(arguments.get("flight_id", "")).strip()
        if not flight:
            raise ValueError("flight_id is required")
        desk["status"], desk["flight_id"] = "changed", flight
    elif name == "add_baggage":
        bags = arguments.get("bags")
        if isinstance(bags, bool) or not isinstance(bags, int) or bags <= 0:
            raise ValueError("bags must be a positive whole number")
        desk["extra_bags"] = desk.get("extra_bags", 0) + bags
    else:
        raise ValueError(f"no action {name!r}")
    state[booking] = desk


def action_for(booking_id: str, verdict: str, amount: float | None, target_flight: str | None) -> list[ToolCall]:
    """The actions a finding calls for when the user asks to go ahead: the refund the rules grant, the change they
    allow, nothing on a refusal."""
    if verdict in {"full_refund", "partial_refund"} and amount:
        return [ToolCall(name="issue_refund", input={"booking_id": booking_id, "amount": amount})]
    if verdict in {"free_change", "change_fee"} and target_flight:
        return [ToolCall(name="rebook", input={"booking_id": booking_id, "flight_id": target_flight})]
    return []


class AirlineActionTools:
    """The four action tools, decorated once (at class definition: strands builds each tool's spec and input model
    then); an instance binds them to one conversation's bookings and the world without decorating again (a `@tool`
    method read from an instance is the same tool bound to it)."""

    def __init__(self, desk: ActionDesk, world: AirlineWorld):
        self.desk = desk
        self.world = world

    def tools(self) -> list[Any]:
        """The action tools, bound to this desk."""
        return [self.issue_refund, self.rebook, self.cancel_booking, self.add_baggage]

    def _booking(self, booking_id: str) -> Booking:
        booking = self.world.by_id.get(booking_id.strip())
        if not isinstance(booking, Booking):
            raise ValueError(f"no booking with id {booking_id!r}")
        if booking.status == "cancelled":
            raise ValueError(f"booking {booking.id} was cancelled before")
        return booking

    @tool
    def issue_refund(self, booking_id: str, amount: float) -> dict:
        """Refund a booking and cancel it. Only for a refund the policy grants, for the amount it gives. Refunds on
        a booking never add up to more than its price.

        Args:
            booking_id: Booking id, e.g. BK-00042.
            amount: The amount to refund, in EUR.
        """
        booking = self._booking(booking_id)
        before = self.desk.state.get(booking.id, {}).get("refunded", 0.0)
        if isinstance(amount, int | float) and before + amount > booking.price + 0.005:
            raise ValueError(f"refunds would exceed the price paid, EUR {booking.price:.2f}")
        return self.desk.act("issue_refund", {"booking_id": booking.id, "amount": amount})

    @tool
    def rebook(self, booking_id: str, flight_id: str) -> dict:
        """Move a booking to another flight on the same route. Only when the policy allows the change, to the flight
        it names.

        Args:
            booking_id: Booking id, e.g. BK-00042.
            flight_id: The flight to move to, e.g. FL-00042.
        """
        booking = self._booking(booking_id)
        flight, booked = self.world.by_id.get(flight_id.strip()), self.world.by_id[booking.flight_id]
        if not isinstance(flight, Flight) or not isinstance(booked, Flight):
            raise ValueError(f"no flight with id {flight_id!r}")
        if (flight.origin, flight.destination) != (booked.origin, booked.destination) or flight.id == booked.id:
            raise ValueError(f"{flight.id} is not another flight on the route {booked.origin}-{booked.destination}")
        return self.desk.act("rebook", {"booking_id": booking.id, "flight_id": flight.id})

    @tool
    def cancel_booking(self, booking_id: str) -> dict:
        """Cancel a booking without a refund. Only when the customer asks for it.

        Args:
            booking_id: Booking id, e.g. BK-00042.
        """
        return self.desk.act("cancel_booking", {"booking_id": self._booking(booking_id).id})

    @tool
    def add_baggage(self, booking_id: str, bags: int) -> dict:
        """Buy extra checked bags on a booking, at the policy's price per bag. Only when the customer asks for it.

        Args:
            booking_id: Booking id, e.g. BK-00042.
            bags: How many extra checked bags to add.
        """
        return self.desk.act("add_baggage", {"booking_id": self._booking(booking_id).id, "bags": bags})


def build_action_tools(desk: ActionDesk, world: AirlineWorld) -> list[Any]:
    """The four action tools, changing `desk` (one conversation's bookings) for bookings of `world`."""
    return AirlineActionTools(desk, world).tools()
