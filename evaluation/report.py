"""The leaderboard computed from an evaluation's results: per-candidate stats with bootstrap confidence intervals,
the same per category, tag and difficulty, and whether the dataset tells the candidates apart.

`summary()` builds the JSON-ready dict saved as `summary.json`; `print_leaderboard()` shows it in the terminal;
`write_html()` (in `evaluation.report_html`) renders it, with the worst-scored goldens, as one self-contained page.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from evaluation.results import EvalResult

SUMMARY_SCHEMA_VERSION = 1
RESAMPLES = 2000
CONFIDENCE = 0.95
SEED = 20_240_601  # fixed: the same results always give the same intervals

Estimate = dict[str, float | None]  # {"value", "low", "high"}


# ---------------------------------------------------------------- statistics


def bootstrap(columns: np.ndarray, resamples: int = RESAMPLES, seed: int = SEED) -> list[Estimate]:
    """Mean of each column of `columns` (goldens × metrics) with a percentile interval from resampling the rows
    (the goldens) with replacement. The same seed and row count give the same resamples, so candidates whose
    rows are in the same golden order are resampled in pairs."""
    data = np.asarray(columns, dtype=float)
    if data.ndim == 1:
        data = data[:, None]
    n, metrics = data.shape
    if n == 0:
        return [{"value": None, "low": None, "high": None} for _ in range(metrics)]
    means = data.mean(axis=0)
    if n == 1:
        return [_estimate(m, m, m) for m in means]
    counts = np.random.default_rng(seed).multinomial(n, np.full(n, 1 / n), size=resamples)
    resampled = counts @ data / n
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(resampled, [tail, 100 - tail], axis=0)
    return [_estimate(m, lo, hi) for m, lo, hi in zip(means, low, high, strict=True)]


def _estimate(value: float, low: float, high: float, digits: int = 4) -> Estimate:
    """A point estimate and its interval, which always holds it (a skewed percentile interval may not)."""
    value, low, high = float(value), min(float(low), float(value)), max(float(high), float(value))
    return {"value": round(value, digits), "low": round(low, digits), "high": round(high, digits)}


def separate(a: Estimate, b: Estimate) -> bool:
    """The two intervals do not overlap."""
    if a["low"] is None or b["low"] is None:
        return False
    return a["high"] < b["low"] or b["high"] < a["low"]


# ---------------------------------------------------------------- grouping


def candidate_order(results: Iterable[EvalResult], given: Sequence[str] = ()) -> list[str]:
    """The candidates as given (even one without results), then any other candidate in the results (sorted)."""
    ordered = list(dict.fromkeys(given))
    return ordered + sorted({r.candidate for r in results} - set(ordered))


def _by_candidate(results: Iterable[EvalResult], candidates: Sequence[str]) -> dict[str, list[EvalResult]]:
    """Each candidate's results in golden-id order (the same order for every candidate: paired resamples)."""
    groups: dict[str, list[EvalResult]] = {c: [] for c in candidates}
    for result in results:
        groups.setdefault(result.candidate, []).append(result)
    return {c: sorted(rs, key=lambda r: r.golden_id) for c, rs in groups.items()}


def _tokens(result: EvalResult) -> int:
    t = result.tokens
    return t.input + t.output + t.cache_read + t.cache_write


MEAN_METRICS: dict[str, Callable[[EvalResult], float]] = {
    "pass_rate": lambda r: r.passed,
    "verdict_accuracy": lambda r: r.verdict_correct,
    "score": lambda r: r.score,
    "tool_f1": lambda r: r.tool_f1,
    "call_f1": lambda r: r.call_f1,
    "evidence_precision": lambda r: r.evidence_precision,
    "evidence_recall": lambda r: r.evidence_recall,
    "cost_per_golden_usd": lambda r: r.cost_usd,
    "tokens_per_golden": _tokens,
}


def candidate_stats(candidate: str, results: Sequence[EvalResult]) -> dict[str, Any]:
    """One leaderboard row: every rate and mean with its interval, latency percentiles, errors."""
    row: dict[str, Any] = {"candidate": candidate, "goldens": len(results)}
    columns = np.array([[float(f(r)) for f in MEAN_METRICS.values()] for r in results]).reshape(
        len(results), len(MEAN_METRICS)
    )
    for name, estimate in zip(MEAN_METRICS, bootstrap(columns), strict=True):
        row[name] = estimate
    row["cost_per_golden_usd"] = _rounded(row["cost_per_golden_usd"], 6)
    row["tokens_per_golden"] = _rounded(row["tokens_per_golden"], 1)
    for name, values in (
        ("typology_accuracy", [float(r.typology_correct) for r in results if r.typology_correct is not None]),
        ("end_state_match", [float(r.end_state_match) for r in results if r.end_state_match is not None]),
    ):  # rates over the goldens that state what they measure
        row[name] = bootstrap(np.array(values))[0] if values else None
    latencies = np.array([r.latency_s for r in results], dtype=float)
    row["latency_s"] = (
        {"p50": round(float(np.percentile(latencies, 50)), 3), "p95": round(float(np.percentile(latencies, 95)), 3)}
        if len(latencies)
        else {"p50": None, "p95": None}
    )
    row["errors"] = sum(r.error is not None for r in results)
    row["multi_turn"] = sum(r.multi_turn for r in results)
    row["judged"] = _judged(results)
    return row


def _rounded(estimate: Estimate, digits: int) -> Estimate:
    return {k: None if v is None else round(v, digits) for k, v in estimate.items()}


def _judged(results: Sequence[EvalResult]) -> dict[str, dict[str, float | int]]:
    """Per judged criterion: the mean score and pass share over the scored goldens."""
    scores: dict[str, list[tuple[float, bool]]] = {}
    for result in results:
        for name, judged in result.judged.items():
            if not judged.unscored:
                scores.setdefault(name, []).append((judged.score, judged.passed))
    return {
        name: {
            "n": len(pairs),
            "mean": round(sum(s for s, _ in pairs) / len(pairs), 4),
            "pass_rate": round(sum(p for _, p in pairs) / len(pairs), 4),
        }
        for name, pairs in sorted(scores.items())
    }


def breakdown(
    results: Iterable[EvalResult], keys: Callable[[EvalResult], Iterable[str]], candidates: Sequence[str]
) -> dict[str, dict[str, dict[str, Any]]]:
    """group -> candidate -> n, pass rate and verdict accuracy (with intervals); groups sorted by name."""
    grouped: dict[str, dict[str, list[EvalResult]]] = {}
    for result in results:
        for key in keys(result):
            grouped.setdefault(key, {}).setdefault(result.candidate, []).append(result)
    table: dict[str, dict[str, dict[str, Any]]] = {}
    for key in sorted(grouped):
        table[key] = {}
        for candidate in candidates:
            rows = sorted(grouped[key].get(candidate, []), key=lambda r: r.golden_id)
            if not rows:
                continue
            pass_rate, verdict = bootstrap(np.array([[r.passed, r.verdict_correct] for r in rows], dtype=float))
            table[key][candidate] = {"n": len(rows), "pass_rate": pass_rate, "verdict_accuracy": verdict}
    return table


def discrimination(leaderboard: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The spread of pass rates and, for every pair of candidates, whether their pass-rate intervals separate."""
    rated = [row for row in leaderboard if row["pass_rate"]["value"] is not None]
    rates = [row["pass_rate"]["value"] for row in rated]
    pairs = [
        {
            "a": a["candidate"],
            "b": b["candidate"],
            "pass_rate_a": a["pass_rate"]["value"],
            "pass_rate_b": b["pass_rate"]["value"],
            "separate": separate(a["pass_rate"], b["pass_rate"]),
        }
        for a, b in combinations(rated, 2)
    ]
    return {
        "spread": round(max(rates) - min(rates), 4) if rates else None,
        "pairs": pairs,
        "separated_pairs": sum(p["separate"] for p in pairs),
        "verdict": _verdict(pairs, len(rated)),
    }


def _verdict(pairs: Sequence[Mapping[str, Any]], candidates: int) -> str:
    if candidates < 2:
        return "one candidate: nothing to tell apart"
    apart = sum(p["separate"] for p in pairs)
    count = f"{apart} of {len(pairs)} pair{'s' if len(pairs) != 1 else ''} separate"
    overlapping = [f"{p['a']} ~ {p['b']}" for p in pairs if not p["separate"]]
    if apart == len(pairs):
        return f"the dataset tells these candidates apart: {count} (pass-rate 95% CIs disjoint)"
    if apart == 0:
        return f"the dataset does not tell these candidates apart: {count} (pass-rate 95% CIs overlap)"
    shown = ", ".join(overlapping[:3]) + (f" and {len(overlapping) - 3} more" if len(overlapping) > 3 else "")
    return f"the dataset tells some of these candidates apart: {count}; overlapping: {shown}"


# ---------------------------------------------------------------- the summary


def summary(results: Sequence[EvalResult], meta: Mapping[str, Any]) -> dict[str, Any]:
    """Everything the leaderboard shows, JSON-ready and deterministic for the same results and meta.

    `meta` is copied in as given (datetimes as ISO strings); the keys read are `candidates` (the order given
    on the command line) and, for display, `dataset`, `version`, `rubric_id`, `rubric_version`, `judge`,
    `created_at`."""
    candidates = candidate_order(results, meta.get("candidates", ()))
    groups = _by_candidate(results, candidates)
    leaderboard = [candidate_stats(c, groups[c]) for c in candidates]
    return {
        "schema_version": SUMMARY_SCHEMA_VERSION,
        **{k: _jsonable(v) for k, v in meta.items()},
        "candidates": candidates,
        "goldens": len({r.golden_id for r in results}),
        "results": len(results),
        "bootstrap": {"resamples": RESAMPLES, "confidence": CONFIDENCE, "seed": SEED},
        "leaderboard": leaderboard,
        "by_category": breakdown(results, lambda r: [r.category], candidates),
        "by_difficulty": breakdown(results, lambda r: [r.difficulty], candidates),
        "by_tag": breakdown(results, lambda r: r.tags, candidates),
        "discrimination": discrimination(leaderboard),
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    return value


def write_summary(summary: Mapping[str, Any], path: Path) -> None:
    """`summary.json`: indented, keys in the order built, a trailing newline."""
    path.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


# ---------------------------------------------------------------- the terminal


def title(summary: Mapping[str, Any]) -> str:
    """`kyc@v3 · rubric kyc-investigation@abc · judge simulated · 200 goldens × 3 candidates`."""
    dataset = summary.get("dataset", "dataset")
    version = summary.get("version")
    parts = [f"{dataset}@v{version}" if version is not None else str(dataset)]
    if summary.get("rubric_id"):
        parts.append(f"rubric {summary['rubric_id']}@{summary.get('rubric_version', '?')}")
    if summary.get("judge"):
        parts.append(f"judge {summary['judge']}")
    parts.append(f"{summary['goldens']} goldens × {len(summary['candidates'])} candidates")
    return " · ".join(parts)


def percent(estimate: Estimate | None, interval: bool = True) -> str:
    """`95% [91–98]`, or `-` when there is nothing to rate."""
    if not estimate or estimate["value"] is None:
        return "-"
    text = f"{estimate['value']:.0%}"
    if interval:
        text += f" [{estimate['low'] * 100:.0f}–{estimate['high'] * 100:.0f}]"
    return text


def decimal(estimate: Estimate | None) -> str:
    return "-" if not estimate or estimate["value"] is None else f"{estimate['value']:.2f}"


def latency(row: Mapping[str, Any], unit: str = " s") -> str:
    p50, p95 = row["latency_s"]["p50"], row["latency_s"]["p95"]
    return "-" if p50 is None else f"{p50:.1f}/{p95:.1f}{unit}"


def dollars(estimate: Estimate) -> str:
    value = estimate["value"]
    return "-" if value is None else f"${value:.4f}"


def print_leaderboard(summary: Mapping[str, Any], console: Any = None) -> None:
    """The leaderboard, pass rate per category and difficulty, and the discrimination line (fits 100 columns)."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    console.print(title(summary), highlight=False)
    rows = summary["leaderboard"]
    board = Table(box=box.SIMPLE_HEAD, title="leaderboard (rates with 95% CI)", title_justify="left", pad_edge=False)
    board.add_column("candidate", overflow="fold", min_width=12)
    for name in ("pass rate", "verdict acc.", "tool F1", "call F1", "end state", "p50/p95 s", "$/golden"):
        board.add_column(name, justify="right", no_wrap=True)
    for row in rows:
        board.add_row(
            row["candidate"],
            percent(row["pass_rate"]),
            percent(row["verdict_accuracy"]),
            decimal(row["tool_f1"]),
            decimal(row["call_f1"]),
            percent(row["end_state_match"], interval=False),
            latency(row, unit=""),
            dollars(row["cost_per_golden_usd"]),
        )
    console.print(board)
    errors = [f"{row['candidate']} ×{row['errors']}" for row in rows if row["errors"]]
    if errors:
        console.print(f"errors (counted as failed goldens): {', '.join(errors)}", highlight=False)
    if summary["by_category"]:
        console.print(_group_table(summary))
    console.print(summary["discrimination"]["verdict"], highlight=False)


def _group_table(summary: Mapping[str, Any]) -> Any:
    """Pass rate (n) per category, then per difficulty: one column per candidate."""
    from rich import box
    from rich.table import Table

    candidates = summary["candidates"]
    table = Table(
        box=box.SIMPLE_HEAD,
        title="pass rate (goldens) by category and difficulty",
        title_justify="left",
        pad_edge=False,
    )
    table.add_column("category", overflow="fold")
    for candidate in candidates:
        table.add_column(candidate, justify="right", overflow="fold")
    for section in ("by_category", "by_difficulty"):
        if section == "by_difficulty":
            table.add_section()
        for group, cells in summary[section].items():
            table.add_row(group, *(_cell(cells.get(c)) for c in candidates))
    return table


def _cell(stats: Mapping[str, Any] | None) -> str:
    return "-" if not stats else f"{percent(stats['pass_rate'], interval=False)} ({stats['n']})"


def write_html(summary: Mapping[str, Any], results: Sequence[EvalResult], path: Path) -> None:
    """`report.html`: one self-contained page (see `evaluation.report_html`)."""
    from evaluation.report_html import render

    path.write_text(render(summary, results), encoding="utf-8")
