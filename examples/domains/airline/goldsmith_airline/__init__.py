"""An airline customer-service desk for Goldsmith: a support agent answering refund, change and baggage questions
from bookings, flights and written policies, and acting on them (refunds, rebookings)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from goldsmith_airline.actions import ACTIONS, apply_action, build_action_tools
from goldsmith_airline.cases import CATEGORIES, CONVERSATIONS, case_for_key, case_keys, iter_cases
from goldsmith_airline.world import DOMAIN_VERSION, AirlineWorld, build_world
from simulation.domains.base import ActionDesk, Case, Domain, Finding, World

HERE = Path(__file__).parent


class AirlineFinding(Finding):
    """Your finding on the customer's request: verdict, policy ground, supporting record ids and the written answer."""

    verdict: Literal[
        "full_refund",
        "partial_refund",
        "no_refund",
        "free_change",
        "change_fee",
        "no_change",
        "within_allowance",
        "bag_fee",
        "needs_clarification",
        "out_of_scope",
    ] = Field(
        description="full_refund, partial_refund or no_refund for refund requests; free_change, change_fee or "
        "no_change for moving to the next flight; within_allowance or bag_fee for checked bags; "
        "needs_clarification (a name several customers share) or out_of_scope."
    )
    typology: Literal["airline_cancellation", "long_delay", "grace_period", "fare_rules"] | None = Field(
        default=None, description="The policy ground of a refund or a change the policy grants; none otherwise."
    )


class AirlineDomain(Domain):
    name: ClassVar[str] = "airline"
    version: ClassVar[str] = DOMAIN_VERSION
    finding_model: ClassVar[type[Finding]] = AirlineFinding
    categories: ClassVar[dict[str, Literal["standard", "adversarial"]]] = {
        **{name: spec.difficulty for name, spec in CATEGORIES.items()},
        **{name: "standard" for name in CONVERSATIONS},
    }
    action_names: ClassVar[frozenset[str]] = ACTIONS
    card_path: ClassVar[Path] = HERE / "persona.yaml"
    rubric_path: ClassVar[Path] = HERE / "rubric.yaml"

    def build_world(self, world_seed: int) -> AirlineWorld:
        return build_world(world_seed)

    def tools(self, world: World) -> list[Any]:
        from goldsmith_airline.tools import build_tools

        assert isinstance(world, AirlineWorld)
        return build_tools(world)

    def action_desk(self, world: World) -> ActionDesk:
        assert isinstance(world, AirlineWorld)
        return ActionDesk(apply_action, lambda desk: build_action_tools(desk, world))

    def apply_action(self, state: dict[str, Any], name: str, arguments: dict[str, Any]) -> None:
        apply_action(state, name, arguments)

    def iter_cases(self, world: World, seed: int, exclude: frozenset[str] = frozenset()) -> Iterator[Case]:
        assert isinstance(world, AirlineWorld)
        return iter_cases(world, seed, self.card.category_mix, exclude)

    def case_keys(self, world: World) -> dict[str, set[str]]:
        assert isinstance(world, AirlineWorld)
        return case_keys(world, sorted(self.card.category_mix))

    def case_for_key(self, world: World, key: str) -> Case:
        assert isinstance(world, AirlineWorld)
        return case_for_key(world, key)

    def simulated_task_policy(self, defect_rate: float) -> Any:
        from goldsmith_airline.agent import AirlineAgentPolicy

        return AirlineAgentPolicy(defect_rate)


__all__ = ["AirlineDomain", "AirlineFinding"]
