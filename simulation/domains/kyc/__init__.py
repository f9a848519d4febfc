"""The KYC / financial-crimes investigation domain."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from rubrics.model import BUNDLED
from simulation.domains.base import ActionDesk, Case, Domain, Finding, World
from simulation.domains.kyc.actions import ACTIONS, apply_action, build_action_tools
from simulation.domains.kyc.cases import CATEGORIES, CONVERSATIONS, case_for_key, case_keys, iter_cases
from simulation.domains.kyc.world import DOMAIN_VERSION, KycWorld, build_world


class KycFinding(Finding):
    """Your finding on the analyst's request: verdict, typology, supporting record ids and the written answer."""

    verdict: Literal[
        "suspicious",
        "not_suspicious",
        "needs_documents",
        "enhanced_due_diligence",
        "needs_clarification",
        "out_of_scope",
    ] = Field(
        description="suspicious; not_suspicious; needs_documents (the customer must provide a valid identity "
        "document or evidence of the source of funds); enhanced_due_diligence (a payee is a politically exposed "
        "person); needs_clarification (e.g. several customers match); or out_of_scope."
    )
    typology: Literal["structuring", "pass_through", "sanctioned_counterparty", "identity_mismatch"] | None = Field(
        default=None, description="The typology, when the verdict is suspicious."
    )


class KycDomain(Domain):
    name: ClassVar[str] = "kyc"
    version: ClassVar[str] = DOMAIN_VERSION
    finding_model: ClassVar[type[Finding]] = KycFinding
    categories: ClassVar[dict[str, Literal["standard", "adversarial"]]] = {
        **{name: spec.difficulty for name, spec in CATEGORIES.items()},
        **{name: "standard" for name in CONVERSATIONS},
    }
    action_names: ClassVar[frozenset[str]] = ACTIONS
    inline_tools: ClassVar[bool] = True  # lookups in the in-memory world
    card_path: ClassVar[Path] = Path(__file__).with_name("persona.yaml")
    rubric_path: ClassVar[Path] = BUNDLED / "kyc.yaml"

    def build_world(self, world_seed: int) -> KycWorld:
        return build_world(world_seed)

    def tools(self, world: World) -> list[Any]:
        from simulation.domains.kyc.tools import build_tools

        assert isinstance(world, KycWorld)
        return build_tools(world)

    def action_desk(self, world: World) -> ActionDesk:
        assert isinstance(world, KycWorld)
        return ActionDesk(apply_action, lambda desk: build_action_tools(desk, world))

    def apply_action(self, state: dict[str, Any], name: str, arguments: dict[str, Any]) -> None:
        apply_action(state, name, arguments)

    def iter_cases(self, world: World, seed: int, exclude: frozenset[str] = frozenset()) -> Iterator[Case]:
        assert isinstance(world, KycWorld)
        return iter_cases(world, seed, self.card.category_mix, exclude)

    def case_keys(self, world: World) -> dict[str, set[str]]:
        assert isinstance(world, KycWorld)
        return case_keys(world, sorted(self.card.category_mix))

    def case_for_key(self, world: World, key: str) -> Case:
        assert isinstance(world, KycWorld)
        return case_for_key(world, key)

    def simulated_task_policy(self, defect_rate: float) -> Any:
        from simulation.domains.kyc.analyst import KycAnalystPolicy

        return KycAnalystPolicy(defect_rate)
