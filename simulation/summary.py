"""The run summary: what a batch did, printed at the end and saved beside the dataset."""

from __future__ import annotations

import shlex
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from agents.metering import ModelStats
from rubrics.methods import tool_call_scores
from simulation.console import DEFAULT_OUTPUT, queue_command
from simulation.episode import Episode
from store.records import Strict, TokenUsage

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
    results: Iterable[Episode],
    *,
    added: int,
    duplicates: int,
    wall_time_s: float,
    category_mix: dict[str, float] | None = None,
    adversarial: set[str] = frozenset(),
    action_names: frozenset[str] = frozenset(),
    **fields: object,
) -> RunSummary:
    """The summary of finished episodes: a `Tally` of them."""
    tally = Tally(category_mix=category_mix, adversarial=adversarial, action_names=action_names)
    for result in results:
        tally.add(result)
    return tally.summary(added=added, duplicates=duplicates, wall_time_s=wall_time_s, **fields)


F1_BANDS = (("1.0", 1.0), ("0.8-1.0", 0.8), ("0.5-0.8", 0.5), ("<0.5", 0.0))

Order = tuple[int, int, int]  # (case index, episodes added before, position in the episode): where a key first showed


class ExactSum:
    """A sum of floats kept exactly, so the total does not depend on the order they were added in."""

    def __init__(self) -> None:
        self.total = Fraction(0)
        self.count = 0

    def add(self, value: float) -> None:
        self.total += Fraction(value)
        self.count += 1

    @property
    def value(self) -> float:
        return float(self.total)

    def mean(self) -> float:
        return float(self.total / self.count)


class FirstSeen:
    """Counts per key that remember where each key first showed, so ties come out in case order however the
    episodes arrived (what `Counter.most_common` gives over episodes in case order)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.first: dict[str, Order] = {}

    def add(self, key: str, order: Order) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1
        if key not in self.first or order < self.first[key]:
            self.first[key] = order

    def counter(self) -> Counter[str]:
        return Counter({key: self.counts[key] for key in sorted(self.counts, key=self.first.__getitem__)})


class F1Tally:
    """Tool-call F1 scores of a set of attempts: their exact sum and how many fall in each band."""

    def __init__(self) -> None:
        self.scores = ExactSum()
        self.bands = dict.fromkeys((name for name, _ in F1_BANDS), 0)

    def add(self, score: float) -> None:
        self.scores.add(score)
        self.bands[next(name for name, floor in F1_BANDS if score >= floor)] += 1

    def distribution(self) -> F1Distribution:
        return F1Distribution(attempts=self.scores.count, mean=round(self.scores.mean(), 3), bands=dict(self.bands))


class Tally:
    """A run summary's figures, taken one finished episode at a time (`add`) without keeping the episode.

    The episodes may come in any order (as they finish): `summary()` is what they make in case order.
    `category_mix` (the domain's configured weights; None for a seeded run) and `adversarial` (its adversarial
    categories) give the category mix; `action_names` are the tools the tool-call F1 leaves to the end state."""

    def __init__(
        self,
        *,
        category_mix: dict[str, float] | None = None,
        adversarial: set[str] = frozenset(),
        action_names: frozenset[str] = frozenset(),
    ) -> None:
        self.category_mix = category_mix
        self.adversarial = adversarial
        self.action_names = action_names
        self.episodes = 0
        self.statuses: Counter[str] = Counter()
        self.reasons = FirstSeen()
        self.rounds: Counter[str] = Counter()
        self.drawn: Counter[str] = Counter()  # episodes per category
        self.accepted_by_category: Counter[str] = Counter()
        self.adversarial_accepted = 0
        self.tool_calls = 0
        self.f1 = {"first attempts": F1Tally(), "accepted": F1Tally()}
        self.truth = FirstSeen()
        self.talks: Counter[str] = Counter()  # multi-turn accepted: "multi-turn", "with actions", "end state ..."
        self.turns: Counter[str] = Counter()
        self.ended = FirstSeen()
        self.tokens = TokenUsage()
        self.cost = ExactSum()
        self.judged: Counter[str] = Counter()
        self.agreement: dict[str, ExactSum] = {}

    def add(self, episode: Episode) -> None:
        """Count one finished episode."""
        order = (episode.case.index, self.episodes, 0)
        self.episodes += 1
        self.statuses[episode.status] += 1
        accepted = episode.status == "accepted"
        if not accepted:
            for position, reason in enumerate(episode.reasons):
                self.reasons.add(reason, order[:2] + (position,))
        if episode.rounds:
            self.rounds[str(episode.rounds)] += 1
        self.drawn[episode.case.category] += 1
        self.tool_calls += episode.tool_calls
        self.tokens = self.tokens + episode.spend.tokens
        self.cost.add(episode.spend.cost_usd)
        self._critiques(episode)
        self._f1(episode, accepted)
        if accepted:
            self._accepted(episode, order)

    def _critiques(self, episode: Episode) -> None:
        """Judged criterion scores, and the jury's agreement per criterion, over every critique round."""
        for critique in episode.critiques:
            for r in critique.criteria:
                if r.method == "judge":
                    self.judged["unscored" if r.details.get("unscored") else "scored"] += 1
                    self.judged["inconsistent"] += bool(r.details.get("judge_inconsistent"))
                    self.judged["restated"] += bool(r.details.get("restated"))
            for criterion, share in (critique.jury.agreement if critique.jury else {}).items():
                self.agreement.setdefault(criterion, ExactSum()).add(share)

    def _f1(self, episode: Episode, accepted: bool) -> None:
        """The F1 of the tools the first draft called (before the critic) and the accepted answer called (what
        the dataset stores), against the tools the case needs; action tools are left to the end-state check, as
        the rubric's tool-call criterion leaves them. A case that does not state which tools it needs (a seed
        case may not) is left out."""
        case = episode.case
        if case.expected_tool_calls is None:
            return
        attempts = [("first attempts", episode.attempts[0])] if episode.attempts else []
        attempts += [("accepted", episode.attempts[-1])] if accepted else []
        for name, attempt in attempts:
            score = tool_call_scores(
                [c.name for c in case.expected_tool_calls],
                [t.name for t in attempt.tool_trace if t.name not in self.action_names],
                [c.name for c in case.allowed_tool_calls],
            )[2]
            self.f1[name].add(score)

    def _accepted(self, episode: Episode, order: Order) -> None:
        """What only accepted episodes count: categories, where truth came from, conversations."""
        self.accepted_by_category[episode.case.category] += 1
        self.adversarial_accepted += episode.case.difficulty == "adversarial"
        example = episode.example
        if example:
            self.truth.add(example.truth, order)
        last = episode.attempts[-1]
        if last.conversation and last.ended:
            self.ended.add(last.ended.reason, order)
        if example is not None and example.scenario is not None:
            self.talks["multi-turn"] += 1
            self.talks["with actions"] += bool(example.expected_actions)
            self.talks["end state as expected"] += example.end_state == example.expected_end_state
            self.turns[str(len(example.conversation))] += 1

    def conversations(self) -> dict[str, dict[str, int]]:
        """The accepted multi-turn examples: how many turns, how the user ended them, how many ended with
        actions."""
        if not self.talks["multi-turn"]:
            return {}
        return {
            "turns": dict(sorted(self.turns.items())),
            "ended": dict(self.ended.counter().most_common()),
            "actions": {k: self.talks[k] for k in ("multi-turn", "with actions", "end state as expected")},
        }

    def mix(self) -> dict[str, Any]:
        """Each category's share of the run as configured, drawn and accepted; the same for adversarial cases."""
        if self.category_mix is None:
            return {}
        configured = self.category_mix
        accepted = self.statuses["accepted"]

        def share(counts: Counter[str], total: int, categories: set[str]) -> float:
            return round(sum(counts[c] for c in categories) / total, 3) if total else 0.0

        def shares(categories: set[str]) -> tuple[float, float]:
            return share(self.drawn, self.episodes, categories), share(self.accepted_by_category, accepted, categories)

        total = sum(configured.values()) or 1.0
        mix = {}
        for c in sorted(set(configured) | set(self.drawn)):
            drawn, taken = shares({c})
            mix[c] = CategoryShare(configured=round(configured.get(c, 0) / total, 3), drawn=drawn, accepted=taken)
        drawn, taken = shares(self.adversarial)
        adversarial = round(sum(w for c, w in configured.items() if c in self.adversarial) / total, 3)
        return {
            "category_mix": mix,
            "adversarial_share": CategoryShare(configured=adversarial, drawn=drawn, accepted=taken),
        }

    def jury_agreement(self) -> dict[str, float]:
        """Mean agreement of the judge jury per criterion, over every critique round of the run."""
        return {criterion: round(s.mean(), 3) for criterion, s in sorted(self.agreement.items())}

    def summary(self, *, added: int, duplicates: int, wall_time_s: float, **fields: object) -> RunSummary:
        """The run summary of the episodes added so far; `fields` are the run's own (id, dataset, models...)."""
        accepted = self.statuses["accepted"]
        truth = dict(self.truth.counter())
        cost = self.cost.value
        return RunSummary(
            judged={k: self.judged.get(k, 0) for k in ("scored", "unscored", "inconsistent", "restated")},
            episodes=self.episodes,
            accepted=accepted,
            rejected=self.statuses["rejected"],
            failed=self.statuses["failed"],
            duplicates=duplicates,
            added=added,
            top_reasons=dict(self.reasons.counter().most_common(5)),
            rounds_histogram=dict(sorted(self.rounds.items())),
            accepted_by_category=dict(sorted(self.accepted_by_category.items())),
            adversarial_accepted=self.adversarial_accepted,
            tool_calls=self.tool_calls,
            tool_call_f1={name: f1.distribution() for name, f1 in self.f1.items() if f1.scores.count},
            conversations=self.conversations(),
            truth=truth if set(truth) - {"world"} else {},
            tokens=self.tokens,
            cost_usd=round(cost, 6),
            cost_per_accepted_usd=round(cost / accepted, 6) if accepted else None,
            jury_agreement=self.jury_agreement(),
            **self.mix(),
            wall_time_s=round(wall_time_s, 2),
            **fields,
        )


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
def count_bar(label: str) -> Iterator[Callable[[int, int], None]]:
    """A Rich progress bar of things done, on a terminal's stderr and gone when done (the output stays the
    command's own); yields the callback that sets how many are done of how many."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    columns = [TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task(label, total=None)

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
