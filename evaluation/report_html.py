"""`report.html`: the evaluation summary as one self-contained page (inline CSS and SVG, nothing fetched).

Every piece of text from the results (candidate specs, golden ids, answers) goes through `html.escape`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any
from urllib.parse import quote

import numpy as np

from evaluation.report import Estimate, decimal, dollars, latency, percent, title
from evaluation.results import EvalResult

WORST_GOLDENS = 20
ANSWER_CHARS = 4000  # an answer longer than this is cut in the report (the full text is in results.jsonl)
HISTOGRAM_BINS = 10
PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f"]

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1100px;
padding:0 16px;color:#222}
h1{font-size:20px;margin-bottom:4px}h2{font-size:16px;margin-top:28px;border-bottom:1px solid #ddd}
.meta{color:#666}.verdict{font-weight:600;padding:8px 12px;background:#f4f6f8;border-left:4px solid #4e79a7}
table{border-collapse:collapse;margin:8px 0}th,td{padding:3px 8px;border-bottom:1px solid #eee;text-align:right}
td{white-space:nowrap}td:first-child{white-space:normal;overflow-wrap:anywhere;max-width:260px}
th{background:#fafafa}td:first-child,th:first-child{text-align:left}
.swatch{display:inline-block;width:10px;height:10px;margin-right:6px;border-radius:2px}
.pass{color:#2e7d32;font-weight:600}.fail{color:#c62828;font-weight:600}
.charts{display:flex;flex-wrap:wrap;gap:16px}svg text{font:11px system-ui,sans-serif;fill:#333}
details{margin:8px 0;border:1px solid #ddd;border-radius:4px;padding:4px 10px}
details:target{border-color:#4e79a7}summary{cursor:pointer}
pre{white-space:pre-wrap;background:#f7f7f7;padding:8px;max-height:320px;overflow:auto;font-size:12px}
.answer{margin:8px 0 12px}
"""

# opens the <details> a link points to
SCRIPT = """
function openTarget(){var id=decodeURIComponent(location.hash.slice(1));var el=id&&document.getElementById(id);
if(el&&el.tagName==="DETAILS"){el.open=true;}}
window.addEventListener("hashchange",openTarget);openTarget();
"""


def render(summary: Mapping[str, Any], results: Sequence[EvalResult]) -> str:
    """The whole page as a string."""
    candidates = summary["candidates"]
    colors = {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(candidates)}
    body = [
        f"<h1>Evaluation: {escape(title(summary))}</h1>",
        f'<p class="meta">{escape(_meta_line(summary))}</p>',
        f'<p class="verdict" id="discrimination">{escape(summary["discrimination"]["verdict"])}{_spread(summary)}</p>',
        "<h2>Leaderboard</h2>",
        _leaderboard(summary, colors),
        "<h2>Pass rate by category</h2>",
        _legend(colors),
        _category_bars(summary, colors),
        "<h2>Pass rate by difficulty</h2>",
        _group_table(summary["by_difficulty"], candidates, "difficulty"),
        *(
            ["<h2>Pass rate by tag</h2>", _group_table(summary["by_tag"], candidates, "tag")]
            if summary["by_tag"]
            else []
        ),
        "<h2>Tool F1 distribution</h2>",
        f'<div class="charts">{"".join(_histogram(c, results, colors[c]) for c in candidates)}</div>',
        *_worst(results, candidates),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title(summary))}</title><style>{STYLE}</style></head>\n<body>\n"
        + "\n".join(body)
        + f"\n<script>{SCRIPT}</script>\n</body></html>\n"
    )


def _meta_line(summary: Mapping[str, Any]) -> str:
    boot = summary["bootstrap"]
    parts = [f"{summary['results']} results"]
    if summary.get("created_at"):
        parts.append(f"created {summary['created_at']}")
    parts.append(f"{boot['confidence']:.0%} intervals: bootstrap over goldens, {boot['resamples']} resamples")
    return " · ".join(parts)


def _spread(summary: Mapping[str, Any]) -> str:
    spread = summary["discrimination"]["spread"]
    return "" if spread is None else escape(f" · pass-rate spread {spread * 100:.0f} points")


def _name(candidate: str, colors: Mapping[str, str]) -> str:
    return f'<span class="swatch" style="background:{colors[candidate]}"></span>{escape(candidate)}'


def _leaderboard(summary: Mapping[str, Any], colors: Mapping[str, str]) -> str:
    head = [
        "candidate",
        "goldens",
        "pass rate [95% CI]",
        "verdict acc. [95% CI]",
        "score",
        "tool F1",
        "call F1",
        "end state",
        "evidence P / R",
        "latency p50/p95",
        "$/golden",
        "tokens/golden",
        "errors",
    ]
    rows = []
    for row in summary["leaderboard"]:
        cells = [
            _name(row["candidate"], colors),
            str(row["goldens"]),
            percent(row["pass_rate"]),
            percent(row["verdict_accuracy"]),
            decimal(row["score"]),
            decimal(row["tool_f1"]),
            decimal(row["call_f1"]),
            percent(row["end_state_match"], interval=False),
            f"{decimal(row['evidence_precision'])} / {decimal(row['evidence_recall'])}",
            latency(row),
            dollars(row["cost_per_golden_usd"]),
            _count(row["tokens_per_golden"]),
            str(row["errors"]),
        ]
        rows.append("<tr>" + "".join(f"<td>{c if i == 0 else escape(c)}</td>" for i, c in enumerate(cells)) + "</tr>")
    return _table("leaderboard", head, rows)


def _count(estimate: Estimate) -> str:
    return "-" if estimate["value"] is None else f"{estimate['value']:,.0f}"


def _table(table_id: str, head: Sequence[str], rows: Sequence[str]) -> str:
    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    return f'<table id="{table_id}"><thead><tr>{header}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _group_table(groups: Mapping[str, Mapping[str, Any]], candidates: Sequence[str], label: str) -> str:
    rows = []
    for group, cells in groups.items():
        values = [_group_cell(cells.get(c)) for c in candidates]
        rows.append(f"<tr><td>{escape(group)}</td>" + "".join(f"<td>{escape(v)}</td>" for v in values) + "</tr>")
    return _table(f"by-{label}", [label, *candidates], rows)


def _group_cell(stats: Mapping[str, Any] | None) -> str:
    return "-" if not stats else f"{percent(stats['pass_rate'])} (n={stats['n']})"


def _legend(colors: Mapping[str, str]) -> str:
    return "<p>" + " &nbsp; ".join(_name(c, colors) for c in colors) + "</p>"


def _category_bars(summary: Mapping[str, Any], colors: Mapping[str, str]) -> str:
    """Horizontal bars: one group per category, one bar per candidate, the interval as a whisker."""
    label_width, bar_width, bar_height, gap = 200, 420, 11, 10
    candidates = summary["candidates"]
    groups = summary["by_category"]
    group_height = len(candidates) * bar_height + gap
    height = max(len(groups) * group_height + 24, 40)
    width = label_width + bar_width + 60
    parts = []
    for tick in (0, 0.25, 0.5, 0.75, 1):
        x = label_width + tick * bar_width
        parts.append(f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{height - 18}" stroke="#e0e0e0"/>')
        parts.append(f'<text x="{x:.1f}" y="{height - 4}" text-anchor="middle">{tick:.0%}</text>')
    for index, (category, cells) in enumerate(groups.items()):
        top = index * group_height
        middle = top + len(candidates) * bar_height / 2 + 4
        parts.append(f'<text x="{label_width - 8}" y="{middle:.1f}" text-anchor="end">{escape(category)}</text>')
        for slot, candidate in enumerate(candidates):
            stats = cells.get(candidate)
            if not stats:
                continue
            rate = stats["pass_rate"]
            y = top + slot * bar_height
            tip = escape(f"{candidate}: {percent(rate)} of {stats['n']}")
            parts.append(
                f'<rect x="{label_width}" y="{y}" width="{rate["value"] * bar_width:.1f}" height="{bar_height - 2}" '
                f'fill="{colors[candidate]}"><title>{tip}</title></rect>'
            )
            low, high = label_width + rate["low"] * bar_width, label_width + rate["high"] * bar_width
            whisker_y = y + (bar_height - 2) / 2
            parts.append(f'<line x1="{low:.1f}" y1="{whisker_y}" x2="{high:.1f}" y2="{whisker_y}" stroke="#333"/>')
            parts.append(f'<text x="{label_width + bar_width + 6}" y="{y + bar_height - 3}">{rate["value"]:.0%}</text>')
    return (
        f'<svg id="category-chart" role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
        f"<title>pass rate by category and candidate</title>{''.join(parts)}</svg>"
    )


def _histogram(candidate: str, results: Sequence[EvalResult], color: str) -> str:
    """Tool F1 of one candidate's goldens in ten bins from 0 to 1."""
    width, height, bottom, left = 260, 150, 30, 28
    values = [r.tool_f1 for r in results if r.candidate == candidate]
    counts, _ = np.histogram(values, bins=HISTOGRAM_BINS, range=(0, 1))
    peak = max(int(counts.max()) if len(values) else 0, 1)
    plot_width, plot_height = width - left - 6, height - bottom - 22
    bin_width = plot_width / HISTOGRAM_BINS
    parts = [f'<text x="{left}" y="13">{escape(candidate)} (n={len(values)})</text>']
    for index, count in enumerate(counts):
        bar = int(count) / peak * plot_height
        x, y = left + index * bin_width, height - bottom - bar
        tip = escape(f"tool F1 {index / HISTOGRAM_BINS:.1f}-{(index + 1) / HISTOGRAM_BINS:.1f}: {count}")
        parts.append(
            f'<rect x="{x + 1:.1f}" y="{y:.1f}" width="{bin_width - 2:.1f}" height="{bar:.1f}" fill="{color}">'
            f"<title>{tip}</title></rect>"
        )
    base = height - bottom
    parts.append(f'<line x1="{left}" y1="{base}" x2="{width - 6}" y2="{base}" stroke="#999"/>')
    for tick in (0, 0.5, 1):
        parts.append(f'<text x="{left + tick * plot_width:.1f}" y="{base + 14}" text-anchor="middle">{tick:g}</text>')
    parts.append(f'<text x="{left - 4}" y="{base - plot_height + 4:.1f}" text-anchor="end">{peak}</text>')
    parts.append(f'<text x="{left + plot_width / 2:.1f}" y="{height - 2}" text-anchor="middle">tool F1</text>')
    return (
        f'<svg class="histogram" role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
        f"<title>tool F1 distribution: {escape(candidate)}</title>{''.join(parts)}</svg>"
    )


def worst_goldens(results: Sequence[EvalResult], limit: int = WORST_GOLDENS) -> list[list[EvalResult]]:
    """The goldens with the lowest score across candidates (then the lowest mean score, then by id), each as
    its results."""
    by_golden: dict[str, list[EvalResult]] = {}
    for result in results:
        by_golden.setdefault(result.golden_id, []).append(result)
    ranked = sorted(
        by_golden.items(),
        key=lambda item: (min(r.score for r in item[1]), sum(r.score for r in item[1]) / len(item[1]), item[0]),
    )
    return [rows for _, rows in ranked[:limit]]


def _worst(results: Sequence[EvalResult], candidates: Sequence[str]) -> list[str]:
    order = {c: i for i, c in enumerate(candidates)}
    goldens = [sorted(rows, key=lambda r: order.get(r.candidate, len(order))) for rows in worst_goldens(results)]
    if not goldens:
        return []
    items = []
    blocks = []
    for rows in goldens:
        first = rows[0]
        anchor = escape(first.golden_id)
        link = escape(quote(first.golden_id, safe="-_.~:@!$'()*+,;="))
        passed = sum(r.passed for r in rows)
        about = f"{first.category} · {first.difficulty}" + (f" · {first.turns} turns" if first.multi_turn else "")
        lowest = min(r.score for r in rows)
        items.append(
            f'<li><a href="#{link}">{anchor}</a> · {escape(about)} · lowest score {lowest:.2f}'
            f" · passed by {passed} of {len(rows)}</li>"
        )
        answers = "".join(_answer(r) for r in rows)
        blocks.append(
            f'<details id="{anchor}"><summary><b>{anchor}</b> · {escape(about)} · lowest score {lowest:.2f}'
            f"</summary>{answers}</details>"
        )
    return [
        f"<h2>Worst-scored goldens ({len(goldens)})</h2>",
        f'<ol id="worst">{"".join(items)}</ol>',
        *blocks,
    ]


def _answer(result: EvalResult) -> str:
    outcome = '<span class="pass">pass</span>' if result.passed else '<span class="fail">fail</span>'
    facts = [f"score {result.score:.2f}", f"verdict {result.verdict or '-'}"]
    facts.append("verdict right" if result.verdict_correct else "verdict wrong")
    facts.append(f"tool F1 {result.tool_f1:.2f}")
    if result.multi_turn:
        facts.append(f"{result.turns} turns")
    if result.failed_criteria:
        facts.append("failed: " + ", ".join(result.failed_criteria))
    if result.error:
        facts.append(f"error: {result.error}")
    text = result.answer
    if len(text) > ANSWER_CHARS:
        text = text[:ANSWER_CHARS] + f"\n… ({len(result.answer) - ANSWER_CHARS} more characters in results.jsonl)"
    return (
        f'<div class="answer"><b>{escape(result.candidate)}</b> {outcome} · {escape(" · ".join(facts))}'
        f"<pre>{escape(text) or '(no answer)'}</pre></div>"
    )
