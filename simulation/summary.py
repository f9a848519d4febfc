"""The run summary: what a batch did, printed at the end and saved beside the dataset."""

from __future__ import annotations

import shlex
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from agents.metering import ModelStats, Spend
from rubrics.methods import tool_call_scores
from simulation.console import DEFAULT_OUTPUT, queue_command
from simulation.episode import Episode
from store.records import Attempt, Strict, TokenUsage

if TYPE_CHECKING:
    from agents.batch import BatchStats
    from simulation.revalidate import RevalidationSummary


class CategoryShare(Strict):
    """A share of the run's episodes: as configured (the domain's category_mix), drawn, and accepted."""

    configured: float
    drawn: float
    accepted: float


class F1Distribution(Strict):
    """Tool-call F1 (called vs needed tools) over a set of attempts: the mean and how many fall in each band."""

    attempts: int
    mean: float
    bands: dict[str, int]  # "1.0", "0.8-1.0", "0.5-0.8", "<0.5": attempts per band


class RunSummary(Strict):
    run_id: str
    dataset: str
    domain: str
    version: int | None
    seed: int
    world_seed: int
    models: dict[str, str | list[str]]
    planned: int
    episodes: int
    resumed: int = 0  # episodes found checkpointed when the run started (resumed with --run-id)
    committed_before: int = 0  # accepted examples an earlier attempt of this run had already committed
    interrupted: bool = False
    world_exhausted: bool = False  # the world had no more distinct cases for this dataset before `planned`
    cases_left: dict[str, int] = {}  # per category: distinct cases of the world the dataset does not hold yet
    accepted: int
    rejected: int
    failed: int
    duplicates: int
    added: int
    top_reasons: dict[str, int]
    rounds_histogram: dict[str, int]
    accepted_by_category: dict[str, int]
    adversarial_accepted: int
    category_mix: dict[str, CategoryShare] = {}
    adversarial_share: CategoryShare | None = None
    tool_calls: int
    tool_call_f1: dict[str, F1Distribution] = {}  # "first attempts" (as drafted) and "accepted" (as stored)
    conversations: dict[str, dict[str, int]] = {}  # multi-turn accepted: turns histogram, endings, end states
    tokens: TokenUsage
    cost_usd: float
    cost_per_accepted_usd: float | None
    budget_usd: float | None = None
    stopped_by_budget: bool = False
    model_stats: dict[str, ModelStats] = {}
    jury_agreement: dict[str, float] = {}
    judged: dict[str, int] = {}  # judged criterion scores: scored, unscored, inconsistent (flag vs score), restated
    wall_time_s: float
    review_file: str | None = None
    output_dir: str = DEFAULT_OUTPUT
    truth: dict[str, int] = {}  # accepted examples by where their truth came from, when not all the world's


def summarise(
    results: list[Episode],
    *,
    added: int,
    duplicates: int,
    wall_time_s: float,
    category_mix: dict[str, float] | None = None,
    adversarial: set[str] = frozenset(),
    action_names: frozenset[str] = frozenset(),
    **fields: object,
) -> RunSummary:
    reasons: Counter[str] = Counter()
    for result in results:
        if result.status != "accepted":
            reasons.update(result.reasons)
    rounds = Counter(str(r.rounds) for r in results if r.rounds)
    accepted = [r for r in results if r.status == "accepted"]
    spend = Spend()
    for result in results:
        spend += result.spend
    judged: Counter[str] = Counter()
    for result in results:
        for critique in result.critiques:
            for r in critique.criteria:
                if r.method == "judge":
                    judged["unscored" if r.details.get("unscored") else "scored"] += 1
                    judged["inconsistent"] += bool(r.details.get("judge_inconsistent"))
                    judged["restated"] += bool(r.details.get("restated"))
    return RunSummary(
        judged={k: judged.get(k, 0) for k in ("scored", "unscored", "inconsistent", "restated")},
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
        tool_call_f1=tool_call_f1(results, accepted, action_names),
        conversations=conversations(accepted),
        truth=truth if set(truth := dict(Counter(e.example.truth for e in accepted if e.example))) - {"world"} else {},
        tokens=spend.tokens,
        cost_usd=round(spend.cost_usd, 6),
        cost_per_accepted_usd=round(spend.cost_usd / len(accepted), 6) if accepted else None,
        jury_agreement=jury_agreement(results),
        **(mix(results, accepted, category_mix, adversarial) if category_mix is not None else {}),
        wall_time_s=round(wall_time_s, 2),
        **fields,
    )


def mix(
    results: list[Episode], accepted: list[Episode], configured: dict[str, float], adversarial: set[str]
) -> dict[str, Any]:
    """Each category's share of the run as configured, drawn and accepted; the same for adversarial cases."""

    def share(episodes: list[Episode], categories: set[str]) -> float:
        return round(sum(e.case.category in categories for e in episodes) / len(episodes), 3) if episodes else 0.0

    total = sum(configured.values()) or 1.0
    categories = sorted(set(configured) | {r.case.category for r in results})
    shares = {
        c: CategoryShare(
            configured=round(configured.get(c, 0) / total, 3), drawn=share(results, {c}), accepted=share(accepted, {c})
        )
        for c in categories
    }
    return {
        "category_mix": shares,
        "adversarial_share": CategoryShare(
            configured=round(sum(w for c, w in configured.items() if c in adversarial) / total, 3),
            drawn=share(results, adversarial),
            accepted=share(accepted, adversarial),
        ),
    }


F1_BANDS = (("1.0", 1.0), ("0.8-1.0", 0.8), ("0.5-0.8", 0.5), ("<0.5", 0.0))


def tool_call_f1(
    results: list[Episode], accepted: list[Episode], actions: frozenset[str] = frozenset()
) -> dict[str, F1Distribution]:
    """The F1 of the tools each first draft called (before the critic) and each accepted answer called (what
    the dataset stores), against the tools its case needs; action tools are left to the end-state check, as
    the rubric's tool-call criterion leaves them. Cases that do not state which tools they need are left out."""

    def distribution(pairs: list[tuple[Episode, Attempt]]) -> F1Distribution:
        scores = [
            tool_call_scores(
                [c.name for c in e.case.expected_tool_calls],
                [t.name for t in a.tool_trace if t.name not in actions],
                [c.name for c in e.case.allowed_tool_calls],
            )[2]
            for e, a in pairs
        ]
        bands = dict.fromkeys((name for name, _ in F1_BANDS), 0)
        for score in scores:
            bands[next(name for name, floor in F1_BANDS if score >= floor)] += 1
        return F1Distribution(attempts=len(scores), mean=round(sum(scores) / len(scores), 3), bands=bands)

    known = [e for e in results if e.case.expected_tool_calls is not None]  # a seed case may not state its calls
    firsts = [(e, e.attempts[0]) for e in known if e.attempts]
    finals = [(e, e.attempts[-1]) for e in accepted if e.case.expected_tool_calls is not None]
    return {name: distribution(pairs) for name, pairs in (("first attempts", firsts), ("accepted", finals)) if pairs}


def conversations(accepted: list[Episode]) -> dict[str, dict[str, int]]:
    """The accepted multi-turn examples: how many turns, how the user ended them, how many ended with actions."""
    talks = [e.example for e in accepted if e.example is not None and e.example.scenario is not None]
    if not talks:
        return {}
    ended = Counter(a.ended.reason for e in accepted if (a := e.attempts[-1]).conversation and a.ended)
    return {
        "turns": dict(sorted(Counter(str(len(x.conversation)) for x in talks).items())),
        "ended": dict(ended.most_common()),
        "actions": {
            "multi-turn": len(talks),
            "with actions": sum(bool(x.expected_actions) for x in talks),
            "end state as expected": sum(x.end_state == x.expected_end_state for x in talks),
        },
    }


def jury_agreement(results: list[Episode]) -> dict[str, float]:
    """Mean agreement of the judge jury per criterion, over every critique round of the run."""
    shares: dict[str, list[float]] = {}
    for result in results:
        for critique in result.critiques or []:
            for criterion, share in (critique.jury.agreement if critique.jury else {}).items():
                shares.setdefault(criterion, []).append(share)
    return {criterion: round(sum(v) / len(v), 3) for criterion, v in sorted(shares.items())}


@contextmanager
def progress_bar(
    total: int,
    label: str = "episodes",
    done: Mapping[str, int] | None = None,
    note: Callable[[], str] | None = None,
) -> Iterator[Callable[[Any], None]]:
    """A Rich progress bar; yields the callback that advances it with an outcome (anything with a `status`).

    `done` counts the outcomes finished before this process started, by status (a resumed run's
    checkpoints), so the bar counts what the summary counts. `note()`, if given, is shown after the bar."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn
    from rich.text import Text

    class Note(ProgressColumn):
        def render(self, task: Any) -> Text:
            return Text(note() if note else "", style="dim", no_wrap=True, overflow="ellipsis")

    counts: Counter[str] = Counter(done or {})

    def description() -> str:
        return " · ".join(f"{k} {v}" for k, v in sorted(counts.items()) if v) or label

    columns = [TextColumn("{task.description}"), BarColumn()]
    columns += [MofNCompleteColumn(), TimeElapsedColumn(), *([Note()] if note else [])]
    with Progress(*columns) as bar:
        task = bar.add_task(description(), total=total, completed=sum(counts.values()))

        def advance(outcome: Any) -> None:
            counts[outcome.status] += 1
            bar.update(task, advance=1, description=description())

        yield advance


@contextmanager
def batch_bar() -> Iterator[Callable[[int, int], None]]:
    """A Rich progress bar for batch jobs; yields the callback that sets records processed of the total."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = [TextColumn("batch jobs: records judged"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns) as bar:
        task = bar.add_task("batch", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield progress


def _judged(summary: RunSummary) -> str:
    """How the judged criteria were scored, and how far to trust the scores."""
    j = summary.judged
    critic = summary.models.get("critic")
    offline = "simulated" in (critic if isinstance(critic, list) else [critic])
    how = " (the simulated judge's heuristic readings)" if offline else ""
    return (
        f"{j['scored']} scored{how} · {j['unscored']} unscored · {j['inconsistent']} with a pass flag the score "
        f"contradicts · {j['restated']} rationales restating the criterion"
    )


def _cases_left(left: dict[str, int]) -> str:
    """How many distinct cases the world still offers, per category: when a dataset has to grow elsewhere."""
    return f"{sum(left.values()):,} in all: " + " · ".join(f"{category} {n}" for category, n in left.items())


def render_summary(summary: RunSummary, log: str | None = None) -> None:
    """Print the run summary as a table; `log` describes the run's framework log, when warnings went to it."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"run {summary.run_id}", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(overflow="fold")  # long values wrap, never end in "…"
    version = f"{summary.dataset}@v{summary.version}" if summary.version else f"{summary.dataset} (no new version)"
    rows = [
        ("dataset", version),
        (
            "episodes",
            f"{summary.episodes} of {summary.planned}"
            + (f" ({summary.resumed} from checkpoints)" if summary.resumed else "")
            + (" (interrupted: finished ones kept; resume with --run-id)" if summary.interrupted else "")
            + (
                " (the world has no more distinct cases for this dataset: start another dataset with another "
                "--world-seed)"
                if summary.world_exhausted
                else ""
            ),
        ),
        (
            "accepted",
            f"{summary.accepted} ({summary.added} new, {summary.duplicates} already in the dataset"
            + (f", {summary.committed_before} committed before the resume" if summary.committed_before else "")
            + ")",
        ),
        ("rejected", str(summary.rejected)),
        ("failed", str(summary.failed)),
        ("top reasons", ", ".join(f"{k} ×{v}" for k, v in summary.top_reasons.items()) or "-"),
        ("critique rounds", "  ".join(f"{k}: {v}" for k, v in summary.rounds_histogram.items()) or "-"),
        ("adversarial accepted", str(summary.adversarial_accepted)),
        *(
            [("category mix", _mix(summary.category_mix, summary.adversarial_share))]
            if summary.category_mix and summary.adversarial_share
            else []
        ),
        *([("cases left", _cases_left(summary.cases_left))] if summary.cases_left else []),
        ("tool calls", str(summary.tool_calls)),
        *([("tool-call F1", _f1(summary.tool_call_f1))] if summary.tool_call_f1 else []),
        *([("conversations", _conversations(summary.conversations))] if summary.conversations else []),
        (
            "tokens",
            f"in {summary.tokens.input:,} · out {summary.tokens.output:,} · "
            f"cache read {summary.tokens.cache_read:,} · cache write {summary.tokens.cache_write:,}",
        ),
        ("cost", _cost(summary)),
        *(("model calls", f"{spec}\n{_model_line(stats)}") for spec, stats in summary.model_stats.items()),
        *(
            [("jury agreement", ", ".join(f"{k} {v:.0%}" for k, v in summary.jury_agreement.items()))]
            if summary.jury_agreement
            else []
        ),
        *([("judged scores", _judged(summary))] if summary.judged else []),
        ("wall time", f"{summary.wall_time_s:.1f} s"),
        *([("truth", _truth(summary))] if summary.truth else []),
        ("review queue", _queue(summary)),
        *([("framework log", log)] if log else []),
    ]
    for key, value in rows:
        table.add_row(key, value)
    Console().print(table)


def _location(review_file: str, dataset: str) -> str:
    """The --output-dir a review file is in (`<location>/<dataset>/review/<run>.jsonl`)."""
    folder = f"/{dataset}/review/"
    if folder in review_file:
        return review_file[: review_file.rindex(folder)] or "/"
    return "." if review_file.startswith(folder[1:]) else DEFAULT_OUTPUT


def _truth(summary: RunSummary) -> str:
    """Where the accepted examples' truth came from; the judged ones wait for an SME."""
    counts = " · ".join(f"{source} {n}" for source, n in sorted(summary.truth.items()))
    judged = summary.truth.get("judged", 0)
    if not judged:
        return counts
    where = "" if summary.output_dir == DEFAULT_OUTPUT else f" --output-dir {shlex.quote(summary.output_dir)}"
    return (
        f"{counts}\n{judged} judged by the critic alone: golden only once an SME signs them off "
        f"(python main.py review serve{where}; until then exports flag them)"
    )


def _queue(summary: RunSummary) -> str:
    if not summary.review_file:
        return "-"
    items = summary.rejected + summary.failed
    command = queue_command(summary.dataset, _location(summary.review_file, summary.dataset))
    return f"{items} item{'s' if items != 1 else ''}: {command}"


def nothing_accepted(summary: RunSummary, output_dir: str = DEFAULT_OUTPUT) -> str | None:
    """Why a run that accepted no example at all (counting resumed episodes) failed, in one line; None when
    something was accepted."""
    if summary.accepted:
        return None
    if not summary.episodes:
        why = f"none of {summary.planned} episodes finished"
    else:
        why = f"{summary.rejected + summary.failed} of {summary.episodes} episodes rejected or failed"
        if summary.episodes < summary.planned:
            why += f", {summary.planned - summary.episodes} not run"
    reasons = ", ".join(f"{k} ×{v}" for k, v in list(summary.top_reasons.items())[:3])
    line = f"no example accepted: {why}" + (f" (top reasons: {reasons})" if reasons else "")
    if summary.review_file:
        line += f"; see {queue_command(summary.dataset, output_dir)}"
    return line


def _mix(categories: dict[str, CategoryShare], adversarial: CategoryShare) -> str:
    """configured → drawn → accepted, one category a line, adversarial cases last."""
    lines = [f"{'':<24} configured  drawn  accepted"]
    for name, s in [*categories.items(), ("(adversarial, all)", adversarial)]:
        lines.append(f"{name:<24} {s.configured:>10.0%} {s.drawn:>6.0%} {s.accepted:>9.0%}")
    return "\n".join(lines)


def _conversations(talks: dict[str, dict[str, int]]) -> str:
    actions = talks["actions"]
    return (
        f"{actions['multi-turn']} accepted multi-turn: "
        + " · ".join(f"{turns} turns ×{n}" for turns, n in talks["turns"].items())
        + "\nended: "
        + " · ".join(f"{reason.replace('_', ' ')} ×{n}" for reason, n in talks["ended"].items())
        + f"\n{actions['with actions']} expected actions · end state as expected in "
        f"{actions['end state as expected']} of {actions['multi-turn']}"
    )


def _f1(distributions: dict[str, F1Distribution]) -> str:
    """Per set of attempts: the mean, then how many attempts in each band."""
    return "\n".join(
        f"{name}: mean {d.mean:.2f}\n  " + " · ".join(f"{band} ×{n}" for band, n in d.bands.items())
        for name, d in distributions.items()
    )


def _cost(summary: RunSummary) -> str:
    per = (
        f"${summary.cost_per_accepted_usd:.4f} per accepted example"
        if summary.cost_per_accepted_usd is not None
        else "-"
    )
    text = f"${summary.cost_usd:.4f} ({per})"
    if summary.budget_usd is not None:
        text += f" · budget ${summary.budget_usd:g}"
        text += ": reached, run stopped early" if summary.stopped_by_budget else ""
    unpriced = [spec for spec, stats in summary.model_stats.items() if not stats.priced]
    if unpriced:
        text += f" · no price for {', '.join(unpriced)} (counted as $0)"
    return text


def _model_line(stats: ModelStats) -> str:
    line = (
        f"{stats.calls} calls · retries: {stats.client_retries} by the client, {stats.transient_errors} by strands"
        f" · ${stats.cost_usd:.4f}"
    )
    return line + (f" · waited {stats.rate_limit_wait_s:.1f} s for rate limits" if stats.rate_limit_wait_s else "")


def batch_line(batch: BatchStats, on_demand: TokenUsage | None = None, on_demand_cost: float = 0.0) -> str:
    """The judge's work split: what batch jobs judged, at batch prices, and (when given) every on-demand call."""
    jobs = f"{batch.jobs} job{'s' if batch.jobs != 1 else ''}"
    status = ", ".join(f"{k}: {v}" for k, v in sorted(batch.job_status.items())) or "none"
    lines = [
        f"judge: {batch.answered} of {batch.requests} requests by batch in {jobs} ({status}), "
        f"{batch.tokens.input:,} + {batch.tokens.output:,} tokens, ${batch.cost_usd:.4f}; "
        f"{batch.on_demand} judged on demand",
    ]
    if on_demand is not None:
        lines.append(
            f"on-demand calls (every role): {on_demand.input + on_demand.cache_read:,} + {on_demand.output:,} "
            f"tokens, ${on_demand_cost:.4f}"
        )
    return "\n".join(lines + [f"  {note}" for note in batch.notes])


def render_revalidation(summary: RevalidationSummary) -> None:
    """Print what a re-validation changed, overall and per criterion."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(
        f"{summary.dataset}@v{summary.from_version} → {summary.dataset}@v{summary.version} "
        f"(rubric {summary.rubric_id}@{summary.rubric_version}): {summary.examples} examples, "
        f"kept {summary.kept}, repaired {summary.repaired}, removed {summary.removed}; "
        f"{summary.tokens.input + summary.tokens.cache_read:,} input tokens, ${summary.cost_usd:.4f}"
    )
    if summary.by_criterion:
        table = Table("criterion", "failed", "repaired", "removed", title="failing criteria", title_justify="left")
        for criterion, change in summary.by_criterion.items():
            table.add_row(criterion, str(change.failed), str(change.repaired), str(change.removed))
        console.print(table)
    if summary.batch is not None:
        console.print(batch_line(summary.batch, summary.tokens, summary.cost_usd), soft_wrap=True)
    if summary.review_file:
        command = queue_command(summary.dataset, _location(summary.review_file, summary.dataset))
        console.print(f"removed examples and their reasons: {command}", soft_wrap=True)
