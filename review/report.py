"""The run report of one dataset version: what made it, gathered from the files its runs left beside it.

The runs behind `NAME@vN` are those of vN and its ancestors (one per version: a generate run's append, an
import, a re-validation). A generate run saved its summary (`runs/<run>/summary.json`, simulation/summary.py) and
its episode checkpoints (every critique round); a re-validation saved its own summary; an import saves none. Each
section uses what exists and says what does not. Runs that committed no version are not among them.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from pydantic import BaseModel, ValidationError

from review.calibrate import CalibrationReport, calibrate, no_labels_problem
from review.decisions import DecisionLog
from simulation.audit import Audit, audit
from simulation.revalidate import CriterionChange, RevalidationSummary
from simulation.summary import F1_BANDS, F1Distribution, RunSummary
from store.dataset import REPLACING, Dataset, Manifest, Operation
from store.journal import RunJournal
from store.records import Critique, Example, ReviewItem, Strict, TokenUsage
from store.review import queue_items

SAMPLES = 3  # example queue items shown per failure reason
EXAMPLE_IDS = 5  # example ids listed per criterion failed in an earlier round
PROMPT_CHARS = 600


class RunEntry(Strict):
    """One run behind the version, and what it left."""

    run_id: str
    version: int
    operation: Operation
    created_at: str
    summary: RunSummary | None = None
    revalidation: RevalidationSummary | None = None
    note: str = ""


class MixRow(Strict):
    """A category's share: as configured, as drawn and accepted by the runs, as held by the version."""

    category: str
    configured: float | None
    drawn: float | None
    accepted: float | None
    version: float


class Sample(Strict):
    """An episode or example shown as an example of a failure."""

    anchor: str
    ref: str
    category: str
    status: str
    prompt: str
    problems: list[str]


class FailureReason(Strict):
    reason: str
    count: int
    samples: list[Sample]


class EarlierFailure(Strict):
    """A criterion the critic failed in an earlier round of an example it accepted later."""

    criterion: str
    count: int
    example_ids: list[str]


class ModelUse(Strict):
    model: str
    roles: list[str]
    runs: int
    calls: int
    tokens: TokenUsage
    cost_usd: float
    priced: bool


class Decisions(Strict):
    total: int
    by_action: dict[str, int]
    by_reviewer: dict[str, dict[str, int]]
    targets: dict[str, int]


class _Committed(BaseModel):
    id: str


class _Rounds(BaseModel):
    """The part of an episode checkpoint (simulation/episode.py: Episode) the report reads: its outcome, every
    round's critique and the example it made; the rest (the case, the attempts) is skipped, three times faster."""

    status: str
    critiques: list[Critique] = []
    example: _Committed | None = None


class RunReport(Strict):
    dataset: str
    version: int
    domain: str
    created_at: str
    records: int
    operation: str
    rubric: dict[str, str]
    runs: list[RunEntry]
    generate_runs: int
    mix: list[MixRow]
    adversarial: MixRow
    tags: dict[str, int]
    difficulties: dict[str, int]
    rounds_episodes: dict[str, int]
    rounds_records: dict[str, int]
    reasons: list[FailureReason]
    queue_items: int
    earlier: list[EarlierFailure]
    earlier_note: str
    revalidation_failures: dict[str, CriterionChange]
    tool_f1: dict[str, F1Distribution]
    tool_f1_stored: F1Distribution | None
    tool_f1_note: str
    models: list[ModelUse]
    other_spend: list[tuple[str, TokenUsage, float]]
    jury_records: dict[str, float]
    jury_runs: dict[str, float]
    decisions: Decisions
    audit: Audit
    calibration: CalibrationReport
    calibration_note: str | None


def lineage(dataset: Dataset, manifest: Manifest) -> list[Manifest]:
    """The version and its ancestors, oldest first."""
    chain = [manifest]
    while chain[-1].parent is not None:
        chain.append(dataset.manifest(chain[-1].parent))
    return chain[::-1]


def read_runs(dataset: Dataset, manifests: list[Manifest]) -> list[RunEntry]:
    """Each version's run, with the summary it saved when there is one this Goldsmith can read."""
    entries = []
    for manifest in manifests:
        entry = RunEntry(
            run_id=manifest.run_id,
            version=manifest.version,
            operation=manifest.operation,
            created_at=manifest.created_at,
        )
        data = dataset.storage.read(dataset.key("runs", manifest.run_id, "summary.json"))
        model = RevalidationSummary if manifest.operation == "revalidate" else RunSummary
        if manifest.operation == "review":
            decisions = len(manifest.generation.get("decisions", []))
            entry.note = f"SME review: {decisions} decisions published by {manifest.generation.get('published_by')}"
        elif data is None:
            entry.note = "no summary (an import saves none)" if manifest.operation == "import" else "no summary saved"
        else:
            try:
                parsed = model.model_validate_json(data)
            except ValidationError as error:
                entry.note = f"summary not readable by this Goldsmith ({error.errors()[0]['msg']})"
            else:
                if isinstance(parsed, RunSummary):
                    entry.summary = parsed
                else:
                    entry.revalidation = parsed
        entries.append(entry)
    return entries


def build_report(dataset: Dataset, version: int | None = None) -> RunReport:
    """The report of one version of `dataset` (the latest when None)."""
    manifest = dataset.manifest(version)
    records = list(dataset.records(manifest))
    runs = read_runs(dataset, lineage(dataset, manifest))
    summaries = [r.summary for r in runs if r.summary]
    checked = audit(dataset, manifest.version)
    reasons, queued = failure_reasons(dataset, {r.run_id for r in runs})
    earlier, earlier_note = earlier_failures(dataset, [r for r in runs if r.summary])
    decisions = DecisionLog(dataset).all()
    calibration = calibrate(dataset, manifest.version)
    mix, adversarial = category_mix(summaries, checked, records)
    f1, stored, f1_note = tool_f1(runs, records)
    models, other = model_use(runs)
    by_reviewer: dict[str, Counter[str]] = defaultdict(Counter)
    for decision in decisions:
        by_reviewer[decision.reviewer][decision.action] += 1
    return RunReport(
        dataset=dataset.name,
        version=manifest.version,
        domain=manifest.domain,
        created_at=manifest.created_at,
        records=manifest.records,
        operation=manifest.operation,
        rubric=manifest.rubric,
        runs=runs,
        generate_runs=len(summaries),
        mix=mix,
        adversarial=adversarial,
        tags=dict(Counter(tag for r in records for tag in set(r.tags)).most_common()),
        difficulties=dict(sorted(Counter(r.difficulty for r in records).items())),
        rounds_episodes=_sorted_numeric(sum((Counter(s.rounds_histogram) for s in summaries), Counter())),
        rounds_records=_sorted_numeric(Counter(str(r.critique.rounds) for r in records)),
        reasons=reasons,
        queue_items=queued,
        earlier=earlier,
        earlier_note=earlier_note,
        revalidation_failures=revalidation_failures(runs),
        tool_f1=f1,
        tool_f1_stored=stored,
        tool_f1_note=f1_note,
        models=models,
        other_spend=other,
        jury_records=jury_of_records(records),
        jury_runs=_mean_by_key([s.jury_agreement for s in summaries]),
        decisions=Decisions(
            total=len(decisions),
            by_action=dict(Counter(d.action for d in decisions).most_common()),
            by_reviewer={name: dict(counts.most_common()) for name, counts in sorted(by_reviewer.items())},
            targets=dict(Counter(d.target for d in decisions).most_common()),
        ),
        audit=checked,
        calibration=calibration,
        calibration_note=no_labels_problem(calibration),
    )


def _sorted_numeric(counts: Counter[str]) -> dict[str, int]:
    return {k: counts[k] for k in sorted(counts, key=int)}


def _mean_by_key(maps: list[dict[str, float]]) -> dict[str, float]:
    values: dict[str, list[float]] = defaultdict(list)
    for mapping in maps:
        for key, value in mapping.items():
            values[key].append(value)
    return {key: round(sum(v) / len(v), 3) for key, v in sorted(values.items())}


def category_mix(summaries: list[RunSummary], checked: Audit, records: list[Example]) -> tuple[list[MixRow], MixRow]:
    """Per category: configured (the domain's mix), drawn and accepted over the generate runs (weighted by their
    episodes and acceptances), and the version's records; the adversarial share last."""
    drawn: Counter[str] = Counter()
    accepted: Counter[str] = Counter()
    episodes = sum(s.episodes for s in summaries if s.category_mix)
    taken = sum(s.accepted for s in summaries if s.category_mix)
    for summary in summaries:  # back to counts (the shares are rounded to 3 decimals)
        for category, share in summary.category_mix.items():
            drawn[category] += round(share.drawn * summary.episodes)
            accepted[category] += round(share.accepted * summary.accepted)

    def ratio(part: float, whole: int) -> float | None:
        return round(part / whole, 4) if whole else None

    rows = [
        MixRow(
            category=category,
            configured=share.configured,
            drawn=ratio(drawn[category], episodes),
            accepted=ratio(accepted[category], taken),
            version=share.records,
        )
        for category, share in checked.mix.items()
    ]
    adversarial = [s for s in summaries if s.adversarial_share]
    first = adversarial[0].adversarial_share if adversarial else None
    return rows, MixRow(
        category="(adversarial, all)",
        configured=first.configured if first else None,
        drawn=ratio(sum(round(s.adversarial_share.drawn * s.episodes) for s in adversarial), episodes),
        accepted=ratio(sum(round(s.adversarial_share.accepted * s.accepted) for s in adversarial), taken),
        version=round(sum(r.difficulty == "adversarial" for r in records) / len(records), 4) if records else 0.0,
    )


def failure_reasons(dataset: Dataset, runs: set[str]) -> tuple[list[FailureReason], int]:
    """The review queue of the runs, by reason, most common first, each with a few of its items; and the number
    of items."""
    items = [item for item in queue_items(dataset) if item.run_id in runs]
    counts = Counter(reason for item in items for reason in item.reasons)
    found = []
    for reason, count in counts.most_common():
        samples = [_sample(n, item) for n, item in enumerate(items) if reason in item.reasons][:SAMPLES]
        found.append(FailureReason(reason=reason, count=count, samples=samples))
    return found, len(items)


def _sample(number: int, item: ReviewItem) -> Sample:
    """Item `number` of the queue, as the report shows it (its anchor: `q<number>`, whatever the run id holds)."""
    last = item.critiques[-1] if item.critiques else None
    problems = [f"{r.id}: {r.rationale}" for r in last.criteria if not r.passed and r.counted] if last else []
    if item.error:
        problems.append(f"error: {item.error}")
    ref = f"{item.run_id}:{item.episode}"
    return Sample(
        anchor=f"q{number}",
        ref=ref,
        category=item.category,
        status=item.status,
        prompt=(item.prompt or "")[:PROMPT_CHARS],
        problems=problems,
    )


def earlier_failures(dataset: Dataset, runs: list[RunEntry]) -> tuple[list[EarlierFailure], str]:
    """The criteria failed in an earlier round of the examples accepted later, from the generate runs' episode
    checkpoints; and a note on the runs whose checkpoints are gone."""
    counts: Counter[str] = Counter()
    examples: dict[str, list[str]] = defaultdict(list)
    missing = []
    for run in runs:
        episodes = RunJournal(dataset, run.run_id).load(_Rounds)
        if not episodes:
            missing.append(run.run_id)
        for episode in episodes.values():
            if episode.status != "accepted" or episode.example is None:
                continue
            for criterion in {c for critique in episode.critiques[:-1] for c in critique.failed_criteria()}:
                counts[criterion] += 1
                examples[criterion].append(episode.example.id)
    note = f"no episode checkpoints for run {', '.join(missing)}" if missing else ""
    found = [
        EarlierFailure(criterion=c, count=n, example_ids=examples[c][:EXAMPLE_IDS]) for c, n in counts.most_common()
    ]
    return found, note


def revalidation_failures(runs: list[RunEntry]) -> dict[str, CriterionChange]:
    """The criteria re-validations failed, summed over the re-validation runs."""
    total: dict[str, CriterionChange] = {}
    for run in runs:
        for criterion, change in (run.revalidation.by_criterion if run.revalidation else {}).items():
            was = total.setdefault(criterion, CriterionChange())
            for field in ("failed", "repaired", "removed"):
                setattr(was, field, getattr(was, field) + getattr(change, field))
    return dict(sorted(total.items(), key=lambda kv: -kv[1].failed))


def tool_f1(
    runs: list[RunEntry], records: list[Example]
) -> tuple[dict[str, F1Distribution], F1Distribution | None, str]:
    """Tool-call F1 of the first drafts and of the accepted answers over the generate runs (as their summaries
    recorded it), the F1 the version's stored answers were judged with, and a note on what is not recorded."""
    merged: dict[str, F1Distribution] = {}
    for run in runs:
        for name, d in (run.summary.tool_call_f1 if run.summary else {}).items():
            was = merged.get(name)
            if was is None:
                merged[name] = d.model_copy(deep=True)
                continue
            attempts = was.attempts + d.attempts
            mean = round((was.mean * was.attempts + d.mean * d.attempts) / attempts, 3) if attempts else 0.0
            bands = {band: was.bands.get(band, 0) + d.bands.get(band, 0) for band in was.bands | d.bands}
            merged[name] = F1Distribution(attempts=attempts, mean=mean, bands=bands)
    without = [r for r in runs if not (r.summary and r.summary.tool_call_f1) and r.operation not in REPLACING]
    note = ""
    if without:
        what = ", ".join(f"v{r.version} ({r.operation})" for r in without)
        note = f"first drafts are not recorded for {what}: only generate runs keep them"
    scores = [
        float(r.details["f1"])
        for x in records
        for r in x.critique.criteria
        if r.method == "tool_calls" and isinstance(r.details.get("f1"), int | float)
    ]
    stored = None
    if scores:
        bands = dict.fromkeys((name for name, _ in F1_BANDS), 0)
        for score in scores:
            bands[next(name for name, floor in F1_BANDS if score >= floor)] += 1
        stored = F1Distribution(attempts=len(scores), mean=round(sum(scores) / len(scores), 3), bands=bands)
    return merged, stored, note


def model_use(runs: list[RunEntry]) -> tuple[list[ModelUse], list[tuple[str, TokenUsage, float]]]:
    """Calls, tokens and cost per model over the generate runs, with the roles each served; and the spend of the
    other runs (re-validations record no per-model split)."""
    uses: dict[str, ModelUse] = {}
    other = []
    for run in runs:
        if run.revalidation:
            other.append(
                (f"v{run.version} revalidate {run.run_id}", run.revalidation.tokens, run.revalidation.cost_usd)
            )
        if not run.summary:
            continue
        roles: dict[str, list[str]] = defaultdict(list)
        for role, spec in run.summary.models.items():
            for one in spec if isinstance(spec, list) else [spec]:
                roles[one].append(role)
        for spec, stats in run.summary.model_stats.items():
            use = uses.setdefault(
                spec,
                ModelUse(model=spec, roles=[], runs=0, calls=0, tokens=TokenUsage(), cost_usd=0.0, priced=True),
            )
            use.roles = sorted(set(use.roles) | set(roles.get(spec, [])))
            use.runs += 1
            use.calls += stats.calls
            use.tokens = use.tokens + stats.tokens
            use.cost_usd = round(use.cost_usd + stats.cost_usd, 6)
            use.priced = use.priced and stats.priced
    return sorted(uses.values(), key=lambda u: -u.cost_usd), other


def jury_of_records(records: list[Example]) -> dict[str, float]:
    """Mean agreement of the judge jury per criterion, over the version's records judged by one."""
    return _mean_by_key([r.critique.jury.agreement for r in records if r.critique.jury])
