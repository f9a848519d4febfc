"""The run summary: what a batch did, printed at the end and saved beside the dataset."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from simulation.episode import EpisodeResult
from store.records import Strict, TokenUsage

if TYPE_CHECKING:
    from simulation.revalidate import RevalidationSummary


class RunSummary(Strict):
    run_id: str
    dataset: str
    domain: str
    version: int | None
    seed: int
    world_seed: int
    models: dict[str, str]
    planned: int
    episodes: int
    interrupted: bool = False
    accepted: int
    rejected: int
    failed: int
    duplicates: int
    added: int
    top_reasons: dict[str, int]
    rounds_histogram: dict[str, int]
    accepted_by_category: dict[str, int]
    adversarial_accepted: int
    tool_calls: int
    tokens: TokenUsage
    wall_time_s: float
    review_file: str | None = None


def summarise(
    results: list[EpisodeResult], *, added: int, duplicates: int, wall_time_s: float, **fields: object
) -> RunSummary:
    reasons: Counter[str] = Counter()
    for result in results:
        if result.status != "accepted":
            reasons.update(result.reasons)
    rounds = Counter(str(r.rounds) for r in results if r.rounds)
    accepted = [r for r in results if r.status == "accepted"]
    tokens = TokenUsage()
    for result in results:
        tokens += result.tokens
    return RunSummary(
        episodes=len(results),
        accepted=len(accepted),
        rejected=sum(r.status == "rejected" for r in results),
        failed=sum(r.status == "failed" for r in results),
        duplicates=duplicates,
        added=added,
        top_reasons=dict(reasons.most_common(5)),
        rounds_histogram=dict(sorted(rounds.items())),
        accepted_by_category=dict(sorted(Counter(r.case.category for r in accepted).items())),
        adversarial_accepted=sum(r.case.difficulty == "adversarial" for r in accepted),
        tool_calls=sum(r.tool_calls for r in results),
        tokens=tokens,
        wall_time_s=round(wall_time_s, 2),
        **fields,
    )


@contextmanager
def progress_bar(total: int, label: str = "episodes") -> Iterator[Callable[[Any], None]]:
    """A Rich progress bar; yields the callback that advances it with an outcome (anything with a `status`)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    counts: Counter[str] = Counter()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()) as bar:
        task = bar.add_task(label, total=total)

        def advance(outcome: Any) -> None:
            counts[outcome.status] += 1
            bar.update(task, advance=1, description=" · ".join(f"{k} {v}" for k, v in sorted(counts.items())))

        yield advance


def render_summary(summary: RunSummary) -> None:
    """Print the run summary as a table."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"run {summary.run_id}", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    version = f"{summary.dataset}@v{summary.version}" if summary.version else f"{summary.dataset} (no new version)"
    rows = [
        ("dataset", version),
        (
            "episodes",
            f"{summary.episodes} of {summary.planned}"
            + (" (interrupted: finished ones kept)" if summary.interrupted else ""),
        ),
        ("accepted", f"{summary.accepted} ({summary.added} new, {summary.duplicates} already in the dataset)"),
        ("rejected", str(summary.rejected)),
        ("failed", str(summary.failed)),
        ("top reasons", ", ".join(f"{k} ×{v}" for k, v in summary.top_reasons.items()) or "-"),
        ("critique rounds", "  ".join(f"{k}: {v}" for k, v in summary.rounds_histogram.items()) or "-"),
        ("accepted by category", ", ".join(f"{k} {v}" for k, v in summary.accepted_by_category.items()) or "-"),
        ("adversarial accepted", str(summary.adversarial_accepted)),
        ("tool calls", str(summary.tool_calls)),
        ("tokens in / out", f"{summary.tokens.input:,} / {summary.tokens.output:,}"),
        ("wall time", f"{summary.wall_time_s:.1f} s"),
        ("review queue", summary.review_file or "-"),
    ]
    for key, value in rows:
        table.add_row(key, value)
    Console().print(table)


def render_revalidation(summary: RevalidationSummary) -> None:
    """Print what a re-validation changed, overall and per criterion."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(
        f"{summary.dataset}@v{summary.from_version} → {summary.dataset}@v{summary.version} "
        f"(rubric {summary.rubric_id}@{summary.rubric_version}): {summary.examples} examples, "
        f"kept {summary.kept}, repaired {summary.repaired}, removed {summary.removed}"
    )
    if summary.by_criterion:
        table = Table("criterion", "failed", "repaired", "removed", title="failing criteria", title_justify="left")
        for criterion, change in summary.by_criterion.items():
            table.add_row(criterion, str(change.failed), str(change.repaired), str(change.removed))
        console.print(table)
    if summary.review_file:
        console.print(f"removed examples and their reasons: {summary.review_file}")
