"""The rubric file format (`rubrics/*.yaml`), validated strictly; its version is a hash of its content."""

from __future__ import annotations

import hashlib
import json
import math
import re
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, field_validator, model_validator

from config import InputError, load_yaml_model
from config.errors import FieldError
from config.yamlfile import dotted_path, line_for_path
from store.records import CriterionResult, Strict

BUNDLED = Path(__file__).resolve().parent  # the rubric for domain D is BUNDLED / "D.yaml"
PROGRAMMATIC = ("tool_calls", "facts", "regex", "json_schema", "consistency", "end_state", "behaviour")
Method = Literal["judge", "tool_calls", "facts", "regex", "json_schema", "consistency", "end_state", "behaviour"]
# what `check` names, per method that takes one
CHECKS = {
    "facts": ("verdict", "evidence"),
    "behaviour": ("ignores_injection", "runs_required_tools", "asks_which", "declines_out_of_scope"),
}


def _identifier(extra: str, allowed: str):
    pattern = re.compile(rf"[a-z][a-z0-9_{extra}]*")

    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(f"must start with a lowercase letter and contain only lowercase letters, digits{allowed}")
        return value

    return AfterValidator(check)


def _number(what: str):
    """A YAML number: text (even '3' in quotes), true/false, .inf and .nan are refused, with `what` a number
    must be."""

    def check(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"must be {what}")
        if not math.isfinite(value):
            raise ValueError(f"must be a finite number ({what})")
        return value

    return BeforeValidator(check)


CriterionId = Annotated[str, _identifier("", " and '_'")]
RubricId = Annotated[str, _identifier("-", ", '_' and '-'")]
Fraction = Annotated[float, _number("a number between 0 and 1"), Field(ge=0, le=1)]
Weight = Annotated[float, _number("a number > 0"), Field(gt=0)]


class Examples(Strict):
    """Snippets the judge sees: what passing and failing look like."""

    passing: list[str] = Field(default_factory=list, alias="pass")
    failing: list[str] = Field(default_factory=list, alias="fail")


class AppliesTo(Strict):
    domain: str
    categories: list[str] | None = None


# the options each method takes; giving one to another method is an error
METHOD_OPTIONS = {
    "tool_calls": ("min_f1",),
    "facts": ("check", "min_precision"),
    "behaviour": ("check",),
    "regex": ("pattern", "must_match"),
    "json_schema": ("json_schema",),
    "judge": ("scale", "examples", "pass_mark"),
}
REQUIRED_OPTIONS = {
    "tool_calls": "min_f1",
    "facts": "check",
    "behaviour": "check",
    "regex": "pattern",
    "json_schema": "json_schema",
}


def _check_schema(schema: dict[str, Any]) -> None:
    """Refuse a schema the json_schema method could not run, naming the key inside it that is wrong."""
    from jsonschema import Draft202012Validator  # the validator rubrics.methods runs it with
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise FieldError(f"not a valid JSON Schema: {exc.message}", "json_schema", *exc.path) from None


class Criterion(Strict):
    """One thing a good answer must get right, and how it is checked."""

    id: CriterionId
    description: str = Field(min_length=1)
    method: Method
    weight: Weight
    required: bool = False
    scale: Literal["binary", "1-5"] = "binary"
    pass_mark: Fraction | None = Field(
        None, description="judge: the normalised score (0-1) a criterion passes at  [default: the scale's midpoint]"
    )
    examples: Examples | None = None
    applies_to: list[str] | None = None
    min_f1: Fraction | None = None
    check: str | None = Field(None, description="facts: verdict or evidence; behaviour: which behaviour (CHECKS)")
    min_precision: Fraction | None = Field(
        None, description="facts/evidence: the share of cited ids that must be evidence behind the verdict [0.5]"
    )
    pattern: str | None = None
    must_match: bool = True
    json_schema: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _options_fit_method(self) -> Criterion:
        needed = REQUIRED_OPTIONS.get(self.method)
        if needed and getattr(self, needed) is None:
            raise ValueError(f"method '{self.method}' needs '{needed}'")
        for option in sorted(self.model_fields_set):
            takers = [method for method, options in METHOD_OPTIONS.items() if option in options]
            if takers and self.method not in takers:
                raise FieldError(f"only applies to method {' or '.join(repr(m) for m in takers)}", option)
        if self.check is not None and self.check not in CHECKS[self.method]:
            raise FieldError(
                f"'{self.check}' is not a {self.method} check; one of: {', '.join(CHECKS[self.method])}", "check"
            )
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise FieldError(f"not a valid regular expression: {exc}", "pattern") from None
        if self.json_schema is not None:
            _check_schema(self.json_schema)
        return self

    @property
    def programmatic(self) -> bool:
        return self.method in PROGRAMMATIC

    @property
    def passing_score(self) -> float:
        """The normalised score a judged criterion passes at: its pass mark, else the scale's midpoint."""
        return 0.5 if self.pass_mark is None else self.pass_mark


class Calibration(Strict):
    """How closely the judge must agree with SMEs' marks before a judged criterion runs unattended (`calibrate`)."""

    min_kappa: Fraction = Field(0.6, description="Cohen's kappa, judge vs SMEs, below which a criterion is flagged")


class Rubric(Strict):
    """A rubric: criteria, each weighted, some required, and the weighted score needed to pass."""

    id: RubricId
    title: str
    description: str = ""
    applies_to: AppliesTo
    pass_threshold: Fraction
    criteria: list[Criterion] = Field(min_length=1)
    calibration: Calibration = Field(default_factory=Calibration)

    @field_validator("criteria")
    @classmethod
    def _unique_ids(cls, criteria: list[Criterion]) -> list[Criterion]:
        seen: set[str] = set()
        for index, criterion in enumerate(criteria):
            if criterion.id in seen:
                raise FieldError(f"duplicate criterion id '{criterion.id}'", index, "id")
            seen.add(criterion.id)
        return criteria

    @cached_property
    def version(self) -> str:
        """Hash of the normalised content: formatting and comments do not change it (nor an option left unset
        that later Goldsmiths added, so a rubric keeps its version)."""
        unset: dict[str, Any] = {
            "criteria": {
                i: {name for name in ("pass_mark", "min_precision") if getattr(c, name) is None}
                for i, c in enumerate(self.criteria)
            }
        }
        if "calibration" not in self.model_fields_set:
            unset["calibration"] = True
        content = self.model_dump(mode="json", by_alias=True, exclude=unset)
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]

    def snapshot(self) -> dict[str, Any]:
        """The rubric as data, in the file's field names; `Rubric.model_validate` reads it back."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)

    def decide(self, results: list[CriterionResult]) -> tuple[float, bool, list[str]]:
        """(weighted score, passed, reasons). Required and programmatic criteria are gates; the weighted
        score must also reach the threshold. Checks the case's truth cannot score (not `counted`) are left out."""
        results = [r for r in results if r.counted]
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
