"""The crypto-market domain: an assistant answering retail investors' questions from market data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from rubrics.model import BUNDLED
from simulation.domains.base import ActionDesk, Case, Domain, Finding, World
from simulation.domains.crypto.actions import ACTIONS, apply_action, build_action_tools
from simulation.domains.crypto.cases import CATEGORIES, CONVERSATIONS, case_for_key, case_keys, iter_cases
from simulation.domains.crypto.world import DOMAIN_VERSION, CryptoWorld, build_world


class CryptoFinding(Finding):
    """Your finding on the user's question: verdict, typology, supporting record ids and the written answer."""

    verdict: Literal[
        "uptrend",
        "downtrend",
        "sideways",
        "elevated_risk",
        "moderate_risk",
        "no_red_flags",
        "needs_clarification",
        "out_of_scope",
    ] = Field(
        description="uptrend, downtrend or sideways for questions about price moves; elevated_risk, moderate_risk or "
        "no_red_flags for risk checks; needs_clarification (e.g. a ticker shared by several assets) or out_of_scope."
    )
    typology: Literal["unlock_risk", "liquidity_risk", "pump_and_dump"] | None = Field(
        default=None, description="The risk found, when the verdict is elevated_risk or moderate_risk."
    )


class CryptoDomain(Domain):
    name: ClassVar[str] = "crypto"
    version: ClassVar[str] = DOMAIN_VERSION
    finding_model: ClassVar[type[Finding]] = CryptoFinding
    categories: ClassVar[dict[str, Literal["standard", "adversarial"]]] = {
        **{name: spec.difficulty for name, spec in CATEGORIES.items()},
        **{name: "standard" for name in CONVERSATIONS},
    }
    action_names: ClassVar[frozenset[str]] = ACTIONS
    inline_tools: ClassVar[bool] = True  # lookups in the in-memory world
    card_path: ClassVar[Path] = Path(__file__).with_name("persona.yaml")
    rubric_path: ClassVar[Path] = BUNDLED / "crypto.yaml"

    def build_world(self, world_seed: int) -> CryptoWorld:
        return build_world(world_seed)

    def tools(self, world: World) -> list[Any]:
        from simulation.domains.crypto.tools import build_tools

        assert isinstance(world, CryptoWorld)
        return build_tools(world)

    def action_desk(self, world: World) -> ActionDesk:
        assert isinstance(world, CryptoWorld)
        return ActionDesk(apply_action, lambda desk: build_action_tools(desk, world))

    def apply_action(self, state: dict[str, Any], name: str, arguments: dict[str, Any]) -> None:
        apply_action(state, name, arguments)

    def iter_cases(self, world: World, seed: int, exclude: frozenset[str] = frozenset()) -> Iterator[Case]:
        assert isinstance(world, CryptoWorld)
        return iter_cases(world, seed, self.card.category_mix, exclude)

    def case_keys(self, world: World) -> dict[str, set[str]]:
        assert isinstance(world, CryptoWorld)
        return case_keys(world, sorted(self.card.category_mix))

    def case_for_key(self, world: World, key: str) -> Case:
        assert isinstance(world, CryptoWorld)
        return case_for_key(world, key)

    def simulated_task_policy(self, defect_rate: float) -> Any:
        from simulation.domains.crypto.analyst import CryptoAnalystPolicy

        return CryptoAnalystPolicy(defect_rate)
