"""What a run prints, and what it keeps off the console: the agent frameworks' log lines (throttling retries,
failed event-loop cycles, HTTP requests) go to the run's log file instead of between the progress bar and
the summary."""

from __future__ import annotations

import json
import logging
import shlex
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from store.dataset import Dataset
from store.records import Attempt, ReviewItem
from store.storage import LocalStorage

if TYPE_CHECKING:
    from agents.metering import ModelStats
    from simulation.audit import Audit

# the loggers of the libraries under the agents; their records go to the run log, never to the console
FRAMEWORK_LOGGERS = ("strands", "botocore", "boto3", "urllib3", "crewai", "LiteLLM", "httpx", "openai", "mcp")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
DEFAULT_OUTPUT = "output"  # the CLI's default --output-dir


def queue_command(dataset: str, output_dir: str = DEFAULT_OUTPUT) -> str:
    """The command that lists a dataset's review queue."""
    where = "" if output_dir == DEFAULT_OUTPUT else f" --output-dir {shlex.quote(output_dir)}"
    return f"python main.py dataset queue {shlex.quote(dataset)}{where}"


def run_log_path(dataset: Dataset, run_id: str) -> Path:
    """`<output>/<dataset>/runs/<run>/run.log` for a local dataset; for one on S3, the same layout under the
    system's temp directory (`<tmp>/goldsmith/<dataset>/runs/<run>/run.log`): log lines are appended as they
    come, which S3 objects cannot do."""
    if isinstance(dataset.storage, LocalStorage):
        return dataset.storage.root / dataset.key("runs", run_id, "run.log")
    return Path(tempfile.gettempdir()) / "goldsmith" / dataset.key("runs", run_id, "run.log")


class _Counter(logging.Handler):
    """Counts the records at WARNING and above."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


class _LazyFile(logging.FileHandler):
    """A log file made (with its folder) on the first record; if it cannot be written, the record is dropped
    rather than reported on the console."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, encoding="utf-8", delay=True)

    def _open(self) -> TextIO:
        Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
        return super()._open()

    def emit(self, record: logging.LogRecord) -> None:
        with suppress(OSError):  # the file could not be made: drop the record, never print it
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:
        pass


@dataclass
class RunLog:
    """The run's log file and how many warnings (or worse) went to it."""

    path: Path
    _counter: _Counter = field(default_factory=_Counter, repr=False)

    @property
    def warnings(self) -> int:
        return self._counter.count

    def describe(self) -> str | None:
        """How many warnings (or worse) went to the log, and where it is; None when there were none."""
        if not self.warnings or not self.path.exists():
            return None
        return f"{self.warnings} warning{'s' if self.warnings != 1 else ''} or worse: {self.path}"


@contextmanager
def framework_logs(path: Path) -> Iterator[RunLog]:
    """Send the frameworks' log records (INFO and above) to `path`, created on the first record, and not to
    the console; count the warnings. The loggers are restored on exit. Never raises."""
    log = RunLog(path)
    handler = _LazyFile(path)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    saved = []
    for name in FRAMEWORK_LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, logger.level, logger.propagate))
        logger.addHandler(handler)
        logger.addHandler(log._counter)
        logger.propagate = False  # else Python's last-resort handler prints WARNING and above to stderr
        if logger.level == logging.NOTSET or logger.level > logging.INFO:
            logger.setLevel(logging.INFO)
    try:
        yield log
    finally:
        for logger, level, propagate in saved:
            logger.removeHandler(handler)
            logger.removeHandler(log._counter)
            logger.setLevel(level)
            logger.propagate = propagate
        handler.close()


def progress_note(stats: Mapping[str, ModelStats], log: RunLog | None = None) -> str:
    """One short note for the progress bar: the model calls retried so far (throttled or unavailable), else the
    warnings sent to the run log."""
    retried = sum(s.transient_errors + s.client_retries for s in stats.values())
    if retried:
        return f"{retried} retried (throttled)"
    if log is not None and log.warnings:
        return f"{log.warnings} warning{'s' if log.warnings != 1 else ''} in {log.path.name}"
    return ""


def _head(text: str | None, width: int = 100) -> str:
    """`text` on one line, cut to `width` characters."""
    flat = " ".join((text or "").split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def queue_lines(items: list[ReviewItem]) -> list[str]:
    """The review queue, run by run: each item's number (for --show), episode, category, status, reasons and
    the head of its request."""
    lines: list[str] = []
    run = None
    for number, item in enumerate(items, 1):
        if item.run_id != run:
            run = item.run_id
            lines.append(f"run {run}")
        lines.append(
            f"  {number:>3}. episode {item.episode}  {item.category}, {item.status}: {', '.join(item.reasons) or '-'}"
        )
        lines.append(f"       {_head(item.prompt) or '(no request: the episode failed before it had one)'}")
    return lines


def item_lines(item: ReviewItem, number: int, total: int) -> list[str]:
    """One review item in full: the request, each attempt (answer, tool calls) with the critique that judged
    it (the failed criteria and why), and the error of a failed episode."""
    lines = [
        f"item {number} of {total}: run {item.run_id}, episode {item.episode} ({item.case_key}), "
        f"{item.category} ({item.difficulty}), {item.status}",
        f"reasons: {', '.join(item.reasons) or '-'}",
        f"filed: {item.created_at}",
        "request:",
        *_indent(item.prompt or "(none: the episode failed before the user simulator wrote one)", 2),
    ]
    for index in range(max(len(item.attempts), len(item.critiques))):
        attempt = item.attempts[index] if index < len(item.attempts) else None
        critique = item.critiques[index] if index < len(item.critiques) else None
        lines.append(f"attempt {attempt.round if attempt else index + 1}:")
        if attempt is not None and attempt.conversation:
            lines += _conversation_lines(attempt)
        elif attempt is not None:
            lines += ["  answer:", *_indent(attempt.answer or "(empty)", 4)]
            lines += _call_lines(attempt.tool_trace, 2)
        if critique is None:
            lines.append("  critique: none (not judged)")
            continue
        lines.append(
            f"  critique: {'passed' if critique.passed else 'failed'}, score {critique.score:.2f} "
            f"(rubric {critique.rubric_id}@{critique.rubric_version})"
        )
        failed = [c for c in critique.criteria if not c.passed and c.counted]
        for criterion in failed:
            lines.append(f"    - {criterion.id} ({criterion.method}, score {criterion.score:.2f}):")
            lines += _indent(criterion.rationale or "(no rationale)", 8)
        if not failed and not critique.passed:
            lines.append("    - below_threshold: every criterion passed, the weighted score fell short")
        if critique.feedback:
            lines += ["    feedback:", *_indent(critique.feedback, 6)]
    if item.error:
        lines += ["error:", *_indent(item.error, 2)]
    return lines


def _call_lines(trace: list, spaces: int) -> list[str]:
    lines = [f"{' ' * spaces}tool calls ({len(trace)}):"]
    for call in trace:
        arguments = ", ".join(f"{k}={v!r}" for k, v in call.input.items())
        lines.append(f"{' ' * spaces}  - {call.name}({arguments}) → {call.status}: {_head(call.output, 160)}")
    return lines


def _conversation_lines(attempt: Attempt) -> list[str]:
    """A multi-turn attempt: each turn after the opening (an answer with its tool calls), how it ended, and the
    state its actions left."""
    assert attempt.conversation is not None
    lines = ["  conversation:"]
    for turn in attempt.conversation[1:]:
        lines += [f"    {turn.role}:", *_indent(turn.content or "(empty)", 6)]
        if turn.tool_trace:
            lines += _call_lines(turn.tool_trace, 6)
    if attempt.ended:
        lines.append(f"  ended: {attempt.ended.reason.replace('_', ' ')}")
    state = json.dumps(attempt.end_state, sort_keys=True) if attempt.end_state else "(no action)"
    lines.append(f"  end state: {state}")
    return lines


def _indent(text: str, spaces: int) -> list[str]:
    return [" " * spaces + line if line.strip() else "" for line in text.splitlines() or [""]]


def print_audit(audit: Audit) -> None:
    """The audit as two tables: per request type (with the shortcut score), then the dataset's variety."""
    from rich.console import Console
    from rich.table import Table

    types = Table(title=f"{audit.dataset}@v{audit.version}: {audit.records} records", title_justify="left")
    for column in ("request type", "records", "verdicts (most common first)", "shortcut", "tool sets"):
        types.add_column(column, overflow="fold")
    for name, t in audit.request_types.items():
        verdicts = ", ".join(f"{v} {n}" for v, n in t.verdicts.items())
        label = f"{name} (adversarial)" if t.adversarial else name
        types.add_row(label, str(t.records), verdicts, f"{t.majority_accuracy:.2f}", str(t.tool_sets))
    variety = Table(show_header=False)
    variety.add_column(style="bold")
    variety.add_column(overflow="fold")
    mix = "\n".join(f"{category} {share.configured:.0%} → {share.records:.0%}" for category, share in audit.mix.items())
    tags = " · ".join(f"{t} {s:.0%}" for t, s in audit.tags.items()) or "-"
    rows = [
        ("shortcut", f"{audit.majority_accuracy:.2f} overall, {audit.majority_accuracy_standard:.2f} standard types"),
        ("distinct cases", f"{audit.distinct_cases} ({audit.repeated_cases} repeated records)"),
        ("tagged hard", f"{audit.tagged_share:.0%}: {tags}"),
        ("category mix", f"configured → in the records\n{mix}"),
        ("verbatim fills", f"{audit.verbatim_fill_share:.0%} of requests are an example question filled in"),
        ("tool ambiguity", f"{audit.ambiguous_tool_share:.0%} of records are of a type with several tool sets"),
    ]
    for key, value in rows:
        variety.add_row(key, value)
    console = Console()
    console.print(types)
    console.print(variety)
    console.print("shortcut: how often always giving a request type's most common verdict, calling no tool, is right")


def print_rubric_test(rubric_file: Path, verdicts: list, table: bool) -> None:
    """A rubric test's outcome: a table of every answer (with `table`), then one line per surprise and a total."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if table:
        grid = Table(title=f"{rubric_file}: {len(verdicts)} known answers", title_justify="left")
        for column in ("answer", "expected", "got", "failed criteria"):
            grid.add_column(column, overflow="fold")
        for v in verdicts:
            got = "pass" if v.critique.passed else "fail"
            style = "bold red" if v.surprise else None
            failed = ", ".join(f"{c} (unscored)" if c in v.unscored else c for c in v.failed) or "-"
            grid.add_row(v.known.entry.label, v.known.expect, got, failed, style=style)
        console.print(grid)
    surprises = [v for v in verdicts if v.surprise]
    for v in surprises:
        console.print(
            f"{v.known.where}: {v.known.entry.label}: expected {v.known.expect}, {v.surprise}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    unscored = sum(bool(v.unscored) for v in verdicts)
    console.print(
        f"{rubric_file}: {len(verdicts)} known answers, {len(verdicts) - len(surprises)} as expected, "
        f"{len(surprises)} surprise(s)" + (f"; {unscored} with unscored judged criteria" if unscored else ""),
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
