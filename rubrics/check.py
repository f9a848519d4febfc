"""`rubric check`: validate rubric files against the format and their domain, reporting every problem."""

from __future__ import annotations

from pathlib import Path

from config import InputError, load_yaml_model
from config.yamlfile import line_for_path
from rubrics.model import Rubric, load_rubric


def load_checked(path: str | Path) -> Rubric:
    """Load a rubric and check it against the domain it names (its categories)."""
    from simulation.domains import DOMAINS, get_domain, load_pack_of

    rubric = load_yaml_model(path, Rubric)
    name = rubric.applies_to.domain
    if name not in DOMAINS:
        load_pack_of(Path(path))  # a pack's own rubric, the pack not installed
    if name not in DOMAINS:
        line = line_for_path(path, ("applies_to", "domain"))
        raise InputError(f"{path}:{line}: applies_to.domain: unknown domain '{name}'; known: {', '.join(DOMAINS)}")
    domain = get_domain(name)
    return load_rubric(path, domain=domain.name, categories=set(domain.categories))


def check_files(paths: list[Path]) -> list[tuple[Path, Rubric]]:
    """Every file checked; all problems of all files raised together as one InputError."""
    problems: list[str] = []
    checked = []
    for path in paths:
        try:
            checked.append((path, load_checked(path)))
        except InputError as exc:
            problems += exc.problems
    if problems:
        raise InputError(problems)
    return checked


def slack_warnings(path: Path, rubric: Rubric) -> list[str]:
    """Combinations of judged criteria the rubric lets fail together (rubrics/slack.py)."""
    from rubrics.slack import warnings
    from simulation.domains import get_domain

    return warnings(rubric, sorted(get_domain(rubric.applies_to.domain).categories), str(path))


def describe(rubric: Rubric) -> str:
    """One line: id, version, criteria by method, threshold."""
    methods: dict[str, int] = {}
    for criterion in rubric.criteria:
        methods[criterion.method] = methods.get(criterion.method, 0) + 1
    mix = ", ".join(f"{m} {n}" for m, n in methods.items())
    required = sum(c.required for c in rubric.criteria)
    return (
        f"{rubric.id} version {rubric.version}: {len(rubric.criteria)} criteria ({mix}), {required} required, "
        f"pass_threshold {rubric.pass_threshold}"
    )
