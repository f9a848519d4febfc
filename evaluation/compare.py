"""Two evaluation runs side by side: per candidate, the goldens that regressed (passed in A, fail in B) and the
ones fixed (the reverse), and the pass rates with their intervals over the goldens both runs scored."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from config import InputError
from evaluation.report import Estimate, bootstrap, candidate_order, percent
from evaluation.results import EvalResult, read_results

RESULTS_FILE = "results.jsonl"


@dataclass
class GoldenChange:
    golden_id: str
    category: str
    candidate: str
    failed_criteria: list[str] = field(default_factory=list)  # in the run where it fails
    error: str | None = None


@dataclass
class CandidateChange:
    candidate: str
    goldens: int  # scored in both runs
    pass_rate_a: Estimate
    pass_rate_b: Estimate
    change: Estimate  # B − A, paired over the same goldens
    regressions: list[GoldenChange] = field(default_factory=list)
    fixes: list[GoldenChange] = field(default_factory=list)


@dataclass
class Comparison:
    dir_a: str
    dir_b: str
    label_a: str
    label_b: str
    candidates: list[CandidateChange]
    candidates_only_in_a: list[str]
    candidates_only_in_b: list[str]
    goldens_in_both: int
    goldens_only_in_a: int
    goldens_only_in_b: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_run(directory: Path) -> list[EvalResult]:
    """The results of an evaluation output directory; an InputError when it is not one."""
    path = Path(directory) / RESULTS_FILE
    if not path.is_file():
        raise InputError(f"{directory}: no {RESULTS_FILE} here (not an evaluation output directory)")
    return read_results(path)


def run_label(directory: Path) -> str:
    """`DIR (kyc@v2)` from the run's summary.json, or just DIR when it has none."""
    try:
        meta = json.loads((Path(directory) / "summary.json").read_text(encoding="utf-8"))
        return f"{directory} ({meta['dataset']}@v{meta['version']})"
    except (OSError, ValueError, KeyError, TypeError):
        return str(directory)


def compare(dir_a: Path | str, dir_b: Path | str) -> Comparison:
    """Compare run B against run A, per candidate present in both and per golden both scored."""
    dir_a, dir_b = Path(dir_a), Path(dir_b)
    results_a, results_b = load_run(dir_a), load_run(dir_b)
    goldens_a, goldens_b = {r.golden_id for r in results_a}, {r.golden_id for r in results_b}
    present_a = {r.candidate for r in results_a}
    candidates_a = [c for c in candidate_order(results_a, _summary_candidates(dir_a)) if c in present_a]
    candidates_b = set(candidate_order(results_b))
    by_key_a = {r.key: r for r in results_a}
    by_key_b = {r.key: r for r in results_b}
    changes = [
        _candidate_change(candidate, by_key_a, by_key_b) for candidate in candidates_a if candidate in candidates_b
    ]
    return Comparison(
        dir_a=str(dir_a),
        dir_b=str(dir_b),
        label_a=run_label(dir_a),
        label_b=run_label(dir_b),
        candidates=changes,
        candidates_only_in_a=[c for c in candidates_a if c not in candidates_b],
        candidates_only_in_b=sorted(candidates_b - set(candidates_a)),
        goldens_in_both=len(goldens_a & goldens_b),
        goldens_only_in_a=len(goldens_a - goldens_b),
        goldens_only_in_b=len(goldens_b - goldens_a),
    )


def _summary_candidates(directory: Path) -> list[str]:
    """The candidate order of the run's summary.json (the order given), if it has one."""
    try:
        candidates = json.loads((directory / "summary.json").read_text(encoding="utf-8"))["candidates"]
        return [c for c in candidates if isinstance(c, str)]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def _candidate_change(
    candidate: str,
    by_key_a: dict[tuple[str, str], EvalResult],
    by_key_b: dict[tuple[str, str], EvalResult],
) -> CandidateChange:
    shared = sorted(g for g, c in by_key_a if c == candidate and (g, c) in by_key_b)
    pairs = [(by_key_a[g, candidate], by_key_b[g, candidate]) for g in shared]
    passed = np.array([[a.passed, b.passed, float(b.passed) - float(a.passed)] for a, b in pairs], dtype=float)
    pass_a, pass_b, change = bootstrap(passed.reshape(len(pairs), 3))
    return CandidateChange(
        candidate=candidate,
        goldens=len(pairs),
        pass_rate_a=pass_a,
        pass_rate_b=pass_b,
        change=change,
        regressions=[_golden_change(b) for a, b in pairs if a.passed and not b.passed],
        fixes=[_golden_change(a) for a, b in pairs if b.passed and not a.passed],
    )


def _golden_change(failing: EvalResult) -> GoldenChange:
    return GoldenChange(
        golden_id=failing.golden_id,
        category=failing.category,
        candidate=failing.candidate,
        failed_criteria=list(failing.failed_criteria),
        error=failing.error,
    )


def print_comparison(comparison: Comparison, console: Any = None) -> None:
    """Pass rates A vs B per candidate, then every regression and every fix (fits 100 columns)."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    console.print(f"A: {comparison.label_a}\nB: {comparison.label_b}", soft_wrap=True, highlight=False)
    console.print(_coverage(comparison), soft_wrap=True)
    if not comparison.candidates:
        console.print("no candidate was evaluated in both runs: nothing to compare")
        return
    table = Table(box=box.SIMPLE_HEAD, title="pass rate, A → B", title_justify="left")
    table.add_column("candidate", overflow="fold")
    for name in ("goldens", "A [95% CI]", "B [95% CI]", "B − A [95% CI]", "regressions", "fixes"):
        table.add_column(name, justify="right", no_wrap=True)
    for change in comparison.candidates:
        table.add_row(
            change.candidate,
            str(change.goldens),
            percent(change.pass_rate_a),
            percent(change.pass_rate_b),
            _points(change.change),
            str(len(change.regressions)),
            str(len(change.fixes)),
        )
    console.print(table)
    for kind, run in (("regressions", "B"), ("fixes", "A")):
        rows = [golden for change in comparison.candidates for golden in getattr(change, kind)]
        if not rows:
            console.print(f"no {kind}")
            continue
        listing = Table(
            box=box.SIMPLE_HEAD,
            title=f"{kind} ({'passed in A, fail in B' if run == 'B' else 'failed in A, pass in B'})",
            title_justify="left",
        )
        for name in ("golden", "category", "candidate", f"failed criteria in {run}"):
            listing.add_column(name, overflow="fold")
        for golden in rows:
            why = ", ".join(golden.failed_criteria) or "-"
            if golden.error:
                why += f" (error: {golden.error})"
            listing.add_row(golden.golden_id, golden.category, golden.candidate, why)
        console.print(listing)


def _coverage(comparison: Comparison) -> str:
    line = f"{comparison.goldens_in_both} goldens in both runs"
    if comparison.goldens_only_in_a or comparison.goldens_only_in_b:
        line += f"; not compared: {comparison.goldens_only_in_a} only in A, {comparison.goldens_only_in_b} only in B"
    for run, only in (("A", comparison.candidates_only_in_a), ("B", comparison.candidates_only_in_b)):
        if only:
            line += f"; candidates only in {run}: {', '.join(only)}"
    return line


def _points(estimate: Estimate) -> str:
    """`-3.0 pts [-6.5, +0.5]`: a change of pass rate in percentage points."""
    if estimate["value"] is None:
        return "-"
    value, low, high = (estimate[k] * 100 for k in ("value", "low", "high"))
    return f"{value:+.1f} pts [{low:+.1f}, {high:+.1f}]"
