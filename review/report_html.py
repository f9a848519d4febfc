"""`report.html`: a run report (review/report.py) as one self-contained page.

The charts are plotly figures, drawn in the browser by plotly.js, which the page embeds once, inline, with the
first chart; nothing is fetched (no CDN, no MathJax, no fonts). The page comes from the Jinja template
`templates/report.html` with autoescaping on, so every piece of text from records, queue items and decisions is
escaped; chart data goes through plotly's JSON encoder, which escapes `<`, `>` and `/` inside the script.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import plotly.io as pio
from jinja2 import Environment, FileSystemBytecodeCache, FileSystemLoader
from markupsafe import Markup

from review.calibrate import RESAMPLES, SEED
from review.report import RunReport, build_report
from store.dataset import Dataset
from store.files import atomic_write
from store.storage import LocalStorage

TEMPLATES = Path(__file__).resolve().parent / "templates"
CONFIG = {"displaylogo": False, "responsive": True}
COLORS = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f"]
BAR_HEIGHT = 22  # pixels per category of a horizontal bar chart


Figure = dict[str, Any]  # a plotly figure as plain data: {"data": [traces], "layout": {...}}


def _figure(traces: list[dict[str, Any]], height: int, **layout: Any) -> Figure:
    """A figure as plain data (plotly.js's own defaults: white, light grid), so building it costs no validation."""
    base = {
        "height": height,
        "margin": {"l": 10, "r": 10, "t": 30, "b": 10},
        "legend": {"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0, "traceorder": "normal"},
        "font": {"family": "system-ui, sans-serif", "size": 12},
    }
    for axis in ("xaxis", "yaxis"):
        base[axis] = {"automargin": True, **layout.pop(axis, {})}
    return {"data": traces, "layout": {**base, **layout}}


def _bar(name: str, index: int, **values: Any) -> dict[str, Any]:
    return {"type": "bar", "name": name, "marker": {"color": COLORS[index % len(COLORS)]}, **values}


def _counts(values: list[float]) -> dict[str, Any]:
    """An axis of counts: whole-number ticks when the counts are small."""
    return {"dtick": 1, "rangemode": "tozero"} if max(values, default=0) <= 10 else {"rangemode": "tozero"}


def _hbars(labels: list[str], series: dict[str, list[float]], *, percent: bool = False) -> Figure:
    """Horizontal bars, one colour per series, the first label on top."""
    traces = [_bar(name, i, y=labels, x=values, orientation="h") for i, (name, values) in enumerate(series.items())]
    axis = {"tickformat": ".0%"} if percent else _counts([v for values in series.values() for v in values])
    height = 80 + BAR_HEIGHT * len(labels) * len(series)
    return _figure(traces, height, barmode="group", yaxis={"autorange": "reversed"}, xaxis=axis,
                   showlegend=len(series) > 1)  # fmt: skip


def _vbars(labels: list[str], series: dict[str, list[float]], *, title: str, stack: bool = False) -> Figure:
    """Vertical bars of counts, grouped (or stacked), one colour per series."""
    traces = [_bar(name, i, x=labels, y=values) for i, (name, values) in enumerate(series.items())]
    columns = list(zip(*series.values(), strict=True))
    tops = [sum(column) if stack else max(column) for column in columns]
    return _figure(traces, 300, barmode="stack" if stack else "group", bargap=0.4, xaxis={"type": "category"},
                   yaxis={"title": {"text": title}, **_counts(tops)}, showlegend=True)  # fmt: skip


def mix_chart(report: RunReport) -> Figure:
    rows = [*report.mix, report.adversarial]
    series = {
        "configured": [r.configured for r in rows],
        "drawn (runs)": [r.drawn for r in rows],
        "accepted (runs)": [r.accepted for r in rows],
        f"in v{report.version}": [r.version for r in rows],
    }
    traces = [
        _bar(name, i, x=[r.category for r in rows], y=values)
        for i, (name, values) in enumerate(series.items())
        if any(v is not None for v in values)
    ]
    return _figure(traces, 440, barmode="group", bargap=0.2, yaxis={"tickformat": ".0%"}, xaxis={"tickangle": -45})


def tags_chart(report: RunReport) -> Figure:
    return _hbars(list(report.tags), {"records": list(report.tags.values())})


def rounds_chart(report: RunReport) -> Figure:
    counts = {"all episodes (runs)": report.rounds_episodes, f"records of v{report.version}": report.rounds_records}
    counts = {name: c for name, c in counts.items() if c}
    rounds = sorted({k for c in counts.values() for k in c}, key=int)
    labels = [f"{k} round{'s' if k != '1' else ''}" for k in rounds]
    return _vbars(labels, {name: [c.get(k, 0) for k in rounds] for name, c in counts.items()}, title="count")


def reasons_chart(report: RunReport) -> Figure:
    return _hbars([r.reason for r in report.reasons], {"queue items": [r.count for r in report.reasons]})


def f1_chart(report: RunReport) -> Figure:
    sets = dict(report.tool_f1)
    if report.tool_f1_stored:
        sets[f"stored in v{report.version}"] = report.tool_f1_stored
    bands = list(next(iter(sets.values())).bands)
    series = {f"{name} (mean {d.mean:.2f})": [d.bands.get(b, 0) for b in bands] for name, d in sets.items()}
    return _vbars([f"F1 {b}" for b in bands], series, title="answers")


def tokens_chart(report: RunReport) -> Figure:
    models = [m.model for m in report.models]
    traces = []
    for i, kind in enumerate(("input", "output", "cache_read", "cache_write")):
        values = [getattr(m.tokens, kind) for m in report.models]
        if any(values):
            traces.append(_bar(kind.replace("_", " "), i, y=models, x=values, orientation="h"))
    return _figure(traces, 120 + 40 * len(models), barmode="stack", xaxis={"title": {"text": "tokens"}})


def jury_chart(report: RunReport) -> Figure:
    return _hbars(list(report.jury_records), {"mean agreement": list(report.jury_records.values())}, percent=True)


def decisions_chart(report: RunReport) -> Figure:
    actions = list(report.decisions.by_action)
    series = {name: [counts.get(a, 0) for a in actions] for name, counts in report.decisions.by_reviewer.items()}
    return _vbars(actions, series, title="decisions", stack=True)


def audit_chart(report: RunReport) -> Figure:
    types = report.audit.request_types
    return _hbars(
        list(types), {"majority-verdict accuracy": [t.majority_accuracy for t in types.values()]}, percent=True
    )


def kappa_chart(report: RunReport) -> Figure:
    rows = [c for c in report.calibration.criteria if c.kappa is not None]
    point = {
        "type": "scatter",
        "mode": "markers",
        "name": "κ (judge vs SMEs)",
        "x": [c.kappa for c in rows],
        "y": [c.criterion for c in rows],
        "marker": {"size": 11, "color": [COLORS[3] if c.flagged else COLORS[2] for c in rows]},
        "error_x": {
            "type": "data",
            "color": "#555",
            "symmetric": False,
            "array": [(c.high - c.kappa) if c.high is not None else 0 for c in rows],
            "arrayminus": [(c.kappa - c.low) if c.low is not None else 0 for c in rows],
        },
    }
    threshold = {
        "type": "line",
        "xref": "x",
        "yref": "paper",
        "x0": report.calibration.threshold,
        "x1": report.calibration.threshold,
        "y0": 0,
        "y1": 1,
        "line": {"dash": "dash", "color": "#888"},
    }
    axis = {"range": [-1.05, 1.05], "title": {"text": "Cohen's κ, 95% interval"}}
    return _figure([point], 100 + 40 * len(rows), xaxis=axis, yaxis={"autorange": "reversed"}, showlegend=False,
                   shapes=[threshold])  # fmt: skip


CHARTS: dict[str, Callable[[RunReport], Figure]] = {
    "mix": mix_chart,
    "tags": tags_chart,
    "rounds": rounds_chart,
    "reasons": reasons_chart,
    "f1": f1_chart,
    "tokens": tokens_chart,
    "jury": jury_chart,
    "decisions": decisions_chart,
    "audit": audit_chart,
    "kappa": kappa_chart,
}


class Charts:
    """Renders the charts as the template reaches them: the first one carries plotly.js, the others reuse it."""

    def __init__(self, report: RunReport):
        self.report = report
        self.drawn = 0

    def __call__(self, name: str) -> Markup:
        first = self.drawn == 0
        self.drawn += 1
        html = pio.to_html(
            CHARTS[name](self.report),
            full_html=False,
            include_plotlyjs=first,
            include_mathjax=False,
            config=CONFIG,
            validate=False,
            div_id=f"chart-{name}",
            default_width="100%",
        )
        return Markup(f'<div class="chart">{html}</div>')  # plotly's own markup, its data JSON-escaped


def _percent(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value:.{digits}%}"


def _number(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _bytecode_cache() -> FileSystemBytecodeCache | None:
    """The compiled template kept in Jinja's private temp dir, so `generate` does not compile it on every run; none
    where that dir cannot be made safely."""
    try:
        return FileSystemBytecodeCache()
    except (OSError, RuntimeError):
        return None


def render(report: RunReport) -> str:
    """The whole page as a string."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        bytecode_cache=_bytecode_cache(),
    )
    env.filters["percent"] = _percent
    env.filters["number"] = _number
    template = env.get_template("report.html")
    return template.render(r=report, chart=Charts(report), resamples=RESAMPLES, seed=SEED)


def write_report(report: RunReport, path: Path) -> Path:
    """Write the page to `path` atomically (a browser never reads half of it)."""
    atomic_write(path, render(report).encode())
    return path


AUTOMATIC_MAX_RECORDS = 10_000  # the report reads every record (about 2 ms each): above this, generate leaves it


def write_latest(dataset: Dataset) -> Path | str | None:
    """`<output>/<name>/report.html`, the report of the dataset's latest version (what `generate` writes after each
    run); None, writing nothing, for an S3 output or a dataset with no version; why not, for a version too large to
    report after every run."""
    if not isinstance(dataset.storage, LocalStorage) or not dataset.versions():
        return None
    records = dataset.manifest().records
    if records > AUTOMATIC_MAX_RECORDS:
        return (
            f"not written after a run for a version of {records:,} records (more than {AUTOMATIC_MAX_RECORDS:,}); "
            f"python main.py report {dataset.name} --out report.html"
        )
    return write_report(build_report(dataset), dataset.storage.root / dataset.key("report.html"))
