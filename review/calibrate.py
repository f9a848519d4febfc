"""`calibrate`: how far to trust each judged criterion, from the judge's pass/fail against SMEs' marks.

For each criterion the critic judged (method `judge`, unscored results left out) and each SME mark on it (from
the decisions saved beside the dataset and from a labels CSV), on the version's examples and on the review queue's
items (their last critique: the judge's failures, which accepted examples rarely hold): n, the share of
agreement, Cohen's κ with a 95 % bootstrap interval, the 2×2 table and the examples where they disagree. A
criterion whose κ is below the rubric's `calibration.min_kappa` is flagged. Where two reviewers marked the same
examples, their κ per criterion as well.

κ = (p_o − p_e) / (1 − p_e): p_o the share of pairs that agree, p_e the agreement expected by chance from each
rater's own pass rate. The interval is a percentile bootstrap over the pairs: the index matrix
`numpy.random.default_rng(SEED).integers(0, n, size=(RESAMPLES, n))`, one resample a row, κ of each, then the
2.5th and 97.5th percentiles (numpy's default linear interpolation). A resample in which both raters gave every
pair one and the same mark has no κ (p_e = 1, so 0/0): such degenerate resamples are left out of the percentiles
and counted (`degenerate`); when no resample has a κ there is no interval.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import combinations
from typing import TYPE_CHECKING

from pydantic import Field

from review.decisions import DecisionLog, Label
from rubrics.model import Calibration, Rubric
from store.dataset import Dataset, Manifest
from store.records import CriterionResult, Critique, Strict

if TYPE_CHECKING:
    import numpy as np

SEED = 0
RESAMPLES = 2000
CONFIDENCE = 0.95
TOO_LOW = "agreement too low to trust this criterion unattended"
NO_LABELS = (
    "have SMEs mark the judged criteria of its examples in the SME workspace (`python main.py review serve`), or give "
    "their marks as a CSV with --labels FILE (header example_id,criterion,passed,reviewer)"
)


class Agreement(Strict):
    """How two raters' pass/fail marks on the same items agree."""

    n: int
    agreement: float | None = Field(description="share of items both marked the same")
    kappa: float | None = Field(description="Cohen's kappa; None when undefined (one and the same mark throughout)")
    low: float | None = Field(description="the 95% bootstrap interval's lower end")
    high: float | None
    degenerate: int = Field(description="bootstrap resamples without a kappa, left out of the interval")


class Confusion(Strict):
    """The judge's pass/fail against the SME's, over the pairs of one criterion."""

    both_pass: int
    judge_pass_sme_fail: int
    judge_fail_sme_pass: int
    both_fail: int


class Disagreement(Strict):
    example_id: str
    category: str
    reviewer: str
    judge: bool
    sme: bool
    rationale: str = Field(description="the judge's rationale")


class CriterionCalibration(Agreement):
    criterion: str
    confusion: Confusion
    disagreements: list[Disagreement]
    flagged: bool
    verdict: str


class ReviewerAgreement(Agreement):
    criterion: str
    reviewers: tuple[str, str]


class Ignored(Strict):
    """SME marks with no judge's mark to compare with."""

    not_in_version: int = Field(0, description="on an example the version does not hold (nor the review queue)")
    not_judged: int = Field(0, description="on a criterion the example's critique did not judge")
    unscored: int = Field(0, description="on a judged criterion the judge left unscored")


class CalibrationReport(Strict):
    dataset: str
    version: int
    threshold: float
    threshold_from: str
    labels: int = Field(description="SME marks read (decisions and --labels)")
    reviewers: list[str]
    criteria: list[CriterionCalibration]
    unmarked: list[str] = Field(description="judged criteria of the version no SME marked")
    between_reviewers: list[ReviewerAgreement]
    ignored: Ignored
    bootstrap: dict[str, float | int]


def kappa(a: np.ndarray, b: np.ndarray) -> float | None:
    """Cohen's kappa of two boolean arrays; None when undefined (both all pass, or both all fail)."""
    import numpy as np  # here, not at the top: `generate` writes a report, most often with no mark to calibrate

    observed = float(np.mean(a == b))
    expected = float(np.mean(a) * np.mean(b) + np.mean(~a) * np.mean(~b))
    return None if expected >= 1 else (observed - expected) / (1 - expected)


def bootstrap_kappas(a: np.ndarray, b: np.ndarray, seed: int = SEED, resamples: int = RESAMPLES) -> np.ndarray:
    """κ of each bootstrap resample of the pairs (NaN where undefined), from the index matrix in the docstring."""
    import numpy as np

    index = np.random.default_rng(seed).integers(0, len(a), size=(resamples, len(a)))
    x, y = a[index], b[index]
    observed = np.mean(x == y, axis=1)
    px, py = np.mean(x, axis=1), np.mean(y, axis=1)
    expected = px * py + (1 - px) * (1 - py)
    defined = expected < 1
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(defined, (observed - expected) / np.where(defined, 1 - expected, 1), np.nan)


def agreement(a: list[bool], b: list[bool]) -> Agreement:
    """n, share of agreement, κ and its bootstrap interval for two raters' marks on the same items."""
    import numpy as np

    x, y = np.array(a, dtype=bool), np.array(b, dtype=bool)
    if not len(x):
        return Agreement(n=0, agreement=None, kappa=None, low=None, high=None, degenerate=0)
    kappas = bootstrap_kappas(x, y)
    defined = kappas[~np.isnan(kappas)]
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(defined, [tail, 100 - tail]) if len(defined) else (None, None)
    value = kappa(x, y)
    return Agreement(
        n=len(x),
        agreement=round(float(np.mean(x == y)), 4),
        kappa=None if value is None else round(value, 4),
        low=None if low is None else round(float(low), 4),
        high=None if high is None else round(float(high), 4),
        degenerate=int(len(kappas) - len(defined)),
    )


def threshold_of(dataset: Dataset, manifest: Manifest, override: float | None) -> tuple[float, str]:
    """The κ a criterion must reach, and where it came from: --threshold, else the `calibration.min_kappa` of the
    rubric the version was judged with (as kept beside the dataset), else the default."""
    if override is not None:
        return override, "--threshold"
    kept = dataset.kept_rubric(manifest.rubric.get("version", ""))
    if kept is None:
        return Calibration().min_kappa, "the default (the version's rubric is not kept beside the dataset)"
    rubric = Rubric.model_validate(kept)
    if "calibration" in rubric.model_fields_set:
        return rubric.calibration.min_kappa, f"calibration.min_kappa of rubric {rubric.id}@{rubric.version}"
    return rubric.calibration.min_kappa, f"the default: rubric {rubric.id}@{rubric.version} sets no calibration"


def calibrate(
    dataset: Dataset, version: int | None = None, extra: list[Label] | None = None, threshold: float | None = None
) -> CalibrationReport:
    """The judge against SMEs on one version (the latest when None): the decisions' marks, with `extra` (a labels
    CSV) replacing a reviewer's mark on the same example and criterion."""
    manifest = dataset.manifest(version)
    merged = {(x.example_id, x.criterion, x.reviewer): x for x in [*DecisionLog(dataset).labels(), *(extra or [])]}
    labels = list(merged.values())
    records = judged_items(dataset, manifest) if labels else {}  # without marks, nothing to read
    limit, origin = threshold_of(dataset, manifest, threshold)
    ignored = Ignored()
    pairs: dict[str, list[tuple[Judged, CriterionResult, Label]]] = defaultdict(list)
    for label in labels:
        record = records.get(label.example_id)
        result = next((r for r in record.critique.criteria if r.id == label.criterion), None) if record else None
        if record is None:
            ignored.not_in_version += 1
        elif result is None or result.method != "judge":
            ignored.not_judged += 1
        elif result.details.get("unscored"):
            ignored.unscored += 1
        else:
            pairs[label.criterion].append((record, result, label))
    judged = {r.id for x in records.values() for r in x.critique.criteria if r.method == "judge"}
    in_version = [x for x in labels if x.example_id in records]
    return CalibrationReport(
        dataset=dataset.name,
        version=manifest.version,
        threshold=limit,
        threshold_from=origin,
        labels=len(labels),
        reviewers=sorted({x.reviewer for x in labels}),
        criteria=[_criterion(name, pairs[name], limit) for name in sorted(pairs)],
        unmarked=sorted(judged - set(pairs)),
        between_reviewers=between_reviewers(in_version),
        ignored=ignored,
        bootstrap={"resamples": RESAMPLES, "seed": SEED, "confidence": CONFIDENCE},
    )


class Judged(Strict):
    """What the judge judged: an example of the version, or a review-queue item's last attempt."""

    id: str
    category: str
    critique: Critique


def judged_items(dataset: Dataset, manifest: Manifest) -> dict[str, Judged]:
    """The version's examples by id and the review queue's judged items by `<run_id>:<episode>`."""
    from review.publish import queue_by_ref

    found = {r.id: Judged(id=r.id, category=r.category, critique=r.critique) for r in dataset.records(manifest)}
    for ref, item in queue_by_ref(dataset).items():
        if item.critiques:
            found[ref] = Judged(id=ref, category=item.category, critique=item.critiques[-1])
    return found


def _criterion(name: str, pairs: list[tuple[Judged, CriterionResult, Label]], limit: float) -> CriterionCalibration:
    judge = [result.passed for _, result, _ in pairs]
    sme = [label.passed for _, _, label in pairs]
    stats = agreement(judge, sme)
    if stats.kappa is None:
        mark = "pass" if judge[0] else "fail"
        flagged, verdict = (
            True,
            f"κ undefined: the judge and the SMEs marked every example {mark}; mark some that do not",
        )
    elif stats.kappa < limit:
        constant = ""
        if len(set(judge)) == 1:
            constant = f"; the judge {'passed' if judge[0] else 'failed'} every one"
            constant += ": mark review-queue items too, they hold its failures" if judge[0] else ""
        flagged, verdict = True, f"{TOO_LOW} (κ {stats.kappa:.2f} < {limit:g}{constant})"
    elif stats.low is not None and stats.low < limit:
        flagged, verdict = False, f"κ ≥ {limit:g}, but its interval reaches below it: mark more examples"
    else:
        flagged, verdict = False, f"κ ≥ {limit:g}"
    return CriterionCalibration(
        criterion=name,
        **stats.model_dump(),
        confusion=Confusion(
            both_pass=sum(j and s for j, s in zip(judge, sme, strict=True)),
            judge_pass_sme_fail=sum(j and not s for j, s in zip(judge, sme, strict=True)),
            judge_fail_sme_pass=sum(s and not j for j, s in zip(judge, sme, strict=True)),
            both_fail=sum(not (j or s) for j, s in zip(judge, sme, strict=True)),
        ),
        disagreements=[
            Disagreement(
                example_id=record.id,
                category=record.category,
                reviewer=label.reviewer,
                judge=result.passed,
                sme=label.passed,
                rationale=result.rationale,
            )
            for record, result, label in pairs
            if result.passed != label.passed
        ],
        flagged=flagged,
        verdict=verdict,
    )


def between_reviewers(labels: list[Label]) -> list[ReviewerAgreement]:
    """κ between each two reviewers, per criterion, over the examples both marked."""
    marks: dict[str, dict[str, dict[str, bool]]] = defaultdict(lambda: defaultdict(dict))
    for label in labels:
        marks[label.criterion][label.reviewer][label.example_id] = label.passed
    found = []
    for criterion, by_reviewer in sorted(marks.items()):
        for first, second in combinations(sorted(by_reviewer), 2):
            common = sorted(by_reviewer[first].keys() & by_reviewer[second].keys())
            if common:
                stats = agreement([by_reviewer[first][e] for e in common], [by_reviewer[second][e] for e in common])
                found.append(ReviewerAgreement(criterion=criterion, reviewers=(first, second), **stats.model_dump()))
    return found


def no_labels_problem(report: CalibrationReport) -> str | None:
    """Why there is nothing to calibrate (no marks at all, or none on a judged criterion of the version); None
    when there is."""
    where = f"{report.dataset}@v{report.version}"
    how = NO_LABELS
    if not report.labels:
        return f"{where}: no SME marks to compare the judge with; {how}"
    if not report.criteria:
        i = report.ignored
        return (
            f"{where}: none of the {report.labels} SME marks is on a judged criterion of an example it holds "
            f"({i.not_in_version} on other examples, {i.not_judged} on criteria not judged, {i.unscored} on unscored "
            f"results); {how}"
        )
    return None


def _interval(stats: Agreement) -> str:
    if stats.kappa is None:
        return "undefined"
    if stats.low is None:
        return f"{stats.kappa:.2f}"
    return f"{stats.kappa:.2f} [{stats.low:.2f}, {stats.high:.2f}]"


def render_calibration(report: CalibrationReport, disagreements: int = 5) -> None:
    """Print the calibration: one row per judged criterion, the flagged ones' verdicts, some disagreements, and the
    reviewers' agreement."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = Console()
    title = f"calibration of {report.dataset}@v{report.version}: judge vs SMEs"
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("criterion", no_wrap=True)
    for column in ("n", "agree", "κ [95% CI]", "2×2"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("", no_wrap=True)
    for c in report.criteria:
        m = c.confusion
        status = "[red]flagged[/red]" if c.flagged else ("ok" if c.low is None or c.low >= report.threshold else "ok?")
        confusion = f"{m.both_pass}/{m.judge_pass_sme_fail}/{m.judge_fail_sme_pass}/{m.both_fail}"
        table.add_row(c.criterion, str(c.n), f"{c.agreement:.0%}", _interval(c), confusion, status)
    console.print(table)
    console.print(
        "2×2: judge pass & SME pass / judge pass & SME fail / judge fail & SME pass / both fail. "
        f"Threshold κ {report.threshold:g} ({report.threshold_from}); {report.labels} SME marks by "
        f"{', '.join(report.reviewers)}; 95% intervals: percentile bootstrap, {RESAMPLES} resamples, seed {SEED}.",
        soft_wrap=True,
    )
    for c in report.criteria:
        if c.flagged or c.verdict != f"κ ≥ {report.threshold:g}":
            console.print(f"{c.criterion}: {c.verdict}", soft_wrap=True, markup=False)
    i = report.ignored
    if i.not_in_version or i.not_judged or i.unscored:
        console.print(
            f"not compared: {i.not_in_version} marks on examples not in v{report.version}, {i.not_judged} on "
            f"criteria not judged, {i.unscored} on results the judge left unscored",
            soft_wrap=True,
        )
    if report.unmarked:
        console.print(f"judged criteria no SME marked: {', '.join(report.unmarked)}", soft_wrap=True)
    for c in report.criteria:
        for d in c.disagreements[:disagreements]:
            judge, sme = ("pass" if d.judge else "fail"), ("pass" if d.sme else "fail")
            console.print(
                f"  {c.criterion}: {d.example_id} [{d.category}] judge {judge}, {d.reviewer} {sme}: {d.rationale}",
                soft_wrap=True,
                markup=False,
            )
        if len(c.disagreements) > disagreements:
            console.print(f"  {c.criterion}: ... and {len(c.disagreements) - disagreements} more (see --json)")
    if report.between_reviewers:
        pairs = Table(title="between reviewers", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
        for column in ("criterion", "reviewers", "n", "agree", "κ [95% CI]"):
            pairs.add_column(column, justify="left" if column in ("criterion", "reviewers") else "right", no_wrap=True)
        for p in report.between_reviewers:
            pairs.add_row(p.criterion, " · ".join(p.reviewers), str(p.n), f"{p.agreement:.0%}", _interval(p))
        console.print(pairs)
