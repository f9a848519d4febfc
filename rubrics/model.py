"""The rubric file format (`rubrics/*.yaml`), validated strictly; its version is a hash of its content."""

from __future__ import annotations

import hashlib
import json
import re
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from config import InputError, load_yaml_model
from config.yamlfile import dotted_path, line_for_path
from store.records import CriterionResult, Strict

PROGRAMMATIC = ("tool_calls", "facts", "regex", "json_schema")
Method = Literal["judge", "tool_calls", "facts", "regex", "json_schema"]


class Examples(Strict):
    """Snippets the judge sees: what passing and failing look like."""

    passing: list[str] = Field(default_factory=list, alias="pass")
    failing: list[str] = Field(default_factory=list, alias="fail")


class AppliesTo(Strict):
    domain: str
    categories: list[str] | None = None


class Criterion(Strict):
    """One thing a good answer must get right, and how it is checked."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str = Field(min_length=1)
    method: Method
    weight: float = Field(gt=0)
    required: bool = False
    scale: Literal["binary", "1-5"] = "binary"
    examples: Examples | None = None
    applies_to: list[str] | None = None
    min_f1: float | None = Field(default=None, ge=0, le=1)
    check: Literal["verdict", "evidence"] | None = None
    pattern: str | None = None
    must_match: bool = True
    json_schema: dict[str, Any] | None = None

    @field_validator("weight", mode="before")
    @classmethod
    def _number(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("must be a number > 0")
        return value

    @model_validator(mode="after")
    def _options_fit_method(self) -> Criterion:
        needs = {"tool_calls": "min_f1", "facts": "check", "regex": "pattern", "json_schema": "json_schema"}
        for method, option in needs.items():
            given = getattr(self, option) is not None
            if self.method == method and not given:
                raise ValueError(f"method '{method}' needs '{option}'")
            if self.method != method and given:
                raise ValueError(f"'{option}' only applies to method '{method}'")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"pattern is not a valid regular expression: {exc}") from None
        if self.examples is not None and self.method != "judge":
            raise ValueError("'examples' only apply to method 'judge'")
        return self

    @property
    def programmatic(self) -> bool:
        return self.method in PROGRAMMATIC


class Rubric(Strict):
    """A rubric: criteria, each weighted, some required, and the weighted score needed to pass."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    title: str
    description: str = ""
    applies_to: AppliesTo
    pass_threshold: float = Field(ge=0, le=1)
    criteria: list[Criterion] = Field(min_length=1)

    @field_validator("criteria")
    @classmethod
    def _unique_ids(cls, criteria: list[Criterion]) -> list[Criterion]:
        seen: set[str] = set()
        for criterion in criteria:
            if criterion.id in seen:
                raise ValueError(f"duplicate criterion id '{criterion.id}'")
            seen.add(criterion.id)
        return criteria

    @cached_property
    def version(self) -> str:
        """Hash of the normalised content: formatting and comments do not change it."""
        canonical = json.dumps(self.model_dump(mode="json", by_alias=True), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]

    def decide(self, results: list[CriterionResult]) -> tuple[float, bool, list[str]]:
        """(weighted score, passed, reasons). Required and programmatic criteria are gates; the weighted
        score must also reach the threshold."""
        total = sum(r.weight for r in results)
        score = round(sum(r.weight * r.score for r in results) / total, 4) if total else 0.0
        reasons = [r.id for r in results if not r.passed and (r.required or r.method in PROGRAMMATIC)]
        if score < self.pass_threshold:
            reasons.append("below_threshold")
        return score, not reasons, reasons

    def criteria_for(self, category: str) -> list[Criterion]:
        """The criteria that apply to a case of `category`."""
        return [c for c in self.criteria if c.applies_to is None or category in c.applies_to]


def load_rubric(path: str | Path, *, domain: str, categories: set[str]) -> Rubric:
    """Load and validate a rubric for `domain`; category names must be ones the domain knows."""
    rubric = load_yaml_model(path, Rubric)
    problems = []
    if rubric.applies_to.domain != domain:
        problems.append(
            f"{path}:{line_for_path(path, ('applies_to', 'domain'))}: applies_to.domain: "
            f"rubric is for '{rubric.applies_to.domain}', not '{domain}'"
        )
    scopes = [(("applies_to", "categories"), rubric.applies_to.categories or [])]
    scopes += [(("criteria", i, "applies_to"), c.applies_to or []) for i, c in enumerate(rubric.criteria)]
    for loc, named in scopes:
        for j, name in enumerate(named):
            if name not in categories:
                problems.append(
                    f"{path}:{line_for_path(path, (*loc, j))}: {dotted_path((*loc, j))}: "
                    f"unknown category '{name}'; known: {', '.join(sorted(categories))}"
                )
    if problems:
        raise InputError(problems)
    return rubric
