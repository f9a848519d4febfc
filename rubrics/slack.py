"""How much a rubric lets slide: the judged criteria that can fail together while an attempt still passes.

Programmatic and `required` criteria are gates: failing one fails the attempt. The other judged criteria only
lower the weighted score, so a rubric whose threshold sits low lets some of them fail. For each set of
criteria that applies to some category, this finds the largest combinations of those criteria that can all
fail (every other criterion passing) with the score still at the threshold, so an SME sees what the rubric
really demands.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

from rubrics.model import Criterion, Rubric


@dataclass(frozen=True)
class Slack:
    """Judged criteria that can all fail at once in `categories` while the attempt passes with `score`."""

    criteria: tuple[str, ...]
    categories: tuple[str, ...]
    score: float
    every_judged: bool  # no judged criterion is left that must pass


def slack(rubric: Rubric, categories: list[str]) -> list[Slack]:
    """The maximal combinations of non-required judged criteria that can fail together and still pass."""
    found: dict[tuple[str, ...], list[str]] = {}
    scores: dict[tuple[str, ...], tuple[float, bool]] = {}
    for category in categories:
        criteria = rubric.criteria_for(category)
        soft = [c for c in criteria if c.method == "judge" and not c.required]
        judged = [c for c in criteria if c.method == "judge"]
        for combo in _maximal_passing(rubric, criteria, soft):
            key = tuple(c.id for c in combo)
            found.setdefault(key, []).append(category)
            scores[key] = (_score(criteria, combo), len(combo) == len(judged))
    return [Slack(key, tuple(cats), *scores[key]) for key, cats in found.items()]


def _score(criteria: list[Criterion], failing: tuple[Criterion, ...]) -> float:
    failed = {c.id for c in failing}
    total = sum(c.weight for c in criteria)
    return round(sum(c.weight for c in criteria if c.id not in failed) / total, 4) if total else 0.0


def _maximal_passing(rubric: Rubric, criteria: list[Criterion], soft: list[Criterion]) -> list[tuple[Criterion, ...]]:
    """Combinations of `soft` that can fail with the score still at the threshold, none inside a larger one."""
    passing = [
        combo
        for size in range(1, len(soft) + 1)
        for combo in combinations(soft, size)
        if _score(criteria, combo) >= rubric.pass_threshold
    ]
    ids = [{c.id for c in combo} for combo in passing]
    return [combo for combo, mine in zip(passing, ids, strict=True) if not any(mine < other for other in ids)]


def warnings(rubric: Rubric, categories: list[str], where: str) -> list[str]:
    """`rubric check` warnings: combinations of more than one judged criterion that can fail together."""
    lines = []
    for found in slack(rubric, categories):
        if len(found.criteria) < 2 and not found.every_judged:
            continue
        what = "every judged criterion" if found.every_judged else "these judged criteria"
        where_in = "every category" if len(found.categories) == len(categories) else ", ".join(found.categories)
        lines.append(
            f"{where}: warning: {what} can fail together and an attempt still passes "
            f"(score {found.score:.2f} ≥ pass_threshold {rubric.pass_threshold}): {', '.join(found.criteria)}; "
            f"in {where_in}. Mark one required, raise its weight or the threshold."
        )
    return lines
