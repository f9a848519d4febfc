"""Exports of a dataset version to the files downstream evaluation tools load without edits.

One module per target tool; each turns the selected records into files (`exports.base.Files`). This module
picks the records (`--filter`, `--sample`), finds the rubric the version was judged with, and writes the
files, locally or to S3, only after every file has been built.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from pydantic import Field

from config import InputError
from exports.agentcore import write_agentcore, write_agentcore_simulated
from exports.base import Context, Files
from exports.bedrock import identifier, write_bedrock, write_bedrock_rag
from exports.deepeval import write_deepeval
from exports.promptfoo import write_promptfoo
from exports.ragas import write_ragas
from exports.strands_evals import write_strands_evals
from rubrics.model import Rubric, load_rubric
from simulation.domains import get_domain
from store.dataset import Dataset, Manifest
from store.records import Example, Strict
from store.storage import Storage, open_file
from store.streams import write_stream


def write_jsonl(records: list[Example], ctx: Context) -> Files:
    """Goldsmith's own records, one JSON object per line, exactly as the version stores them."""
    return {"": b"".join(jsonl_lines(records))}


def jsonl_lines(records: Iterable[Example]) -> Iterator[bytes]:
    """`write_jsonl`'s lines, one record at a time (what `dataset export --format jsonl` streams)."""
    for record in records:
        yield (record.model_dump_json() + "\n").encode()


@dataclass(frozen=True)
class Format:
    write: Callable[[list[Example], Context], Files]
    suffixes: tuple[str, ...]
    help: str


FORMATS: dict[str, Format] = {
    "jsonl": Format(write_jsonl, (".jsonl",), "Goldsmith records (input of `dataset import`)"),
    "bedrock": Format(write_bedrock, (".jsonl",), "Amazon Bedrock model evaluation (LLM as a judge)"),
    "bedrock-rag": Format(write_bedrock_rag, (".jsonl",), "Amazon Bedrock RAG / knowledge-base evaluation"),
    "strands-evals": Format(write_strands_evals, (".json",), "Strands Evals Experiment file"),
    "deepeval": Format(write_deepeval, (".json",), "DeepEval goldens"),
    "ragas": Format(write_ragas, (".jsonl",), "Ragas EvaluationDataset samples"),
    "promptfoo": Format(write_promptfoo, (".yaml", ".yml"), "promptfoo tests"),
    "agentcore": Format(write_agentcore, (".jsonl",), "Amazon Bedrock AgentCore Evaluations, predefined scenarios"),
    "agentcore-simulated": Format(
        write_agentcore_simulated, (".jsonl",), "Amazon Bedrock AgentCore Evaluations, simulated-user scenarios"
    ),
}
FILTER_KEYS = ("category", "difficulty", "persona")


class ExportRequest(Strict):
    """What `dataset export` was asked for."""

    format: str
    out: str = Field(description="a file path or an s3://bucket/key URL")
    filters: dict[str, list[str]] = Field(default_factory=dict, description="field → accepted values")
    sample: int | None = Field(None, ge=1)
    seed: int = 0
    rubric: Path | None = None
    with_responses: bool = False
    role_arn: str | None = None
    evaluator_model: str = "amazon.nova-pro-v1:0"
    grader: str | None = Field(None, description="promptfoo: the provider id that grades llm-rubric assertions")


@dataclass(frozen=True)
class ExportResult:
    manifest: Manifest
    records: int
    files: list[str]


def parse_filters(texts: tuple[str, ...] | list[str]) -> dict[str, list[str]]:
    """`category=a,difficulty=standard` (repeatable; a field given twice accepts either value)."""
    filters: dict[str, list[str]] = defaultdict(list)
    for text in texts:
        for part in text.split(","):
            key, eq, value = (s.strip() for s in part.partition("="))
            if not eq or not value:
                raise InputError(f"--filter: {part!r} is not FIELD=VALUE")
            if key not in FILTER_KEYS:
                raise InputError(f"--filter: unknown field {key!r}; fields: {', '.join(FILTER_KEYS)}")
            filters[key].append(value)
    return dict(filters)


def select(records: list[Example], filters: dict[str, list[str]], sample: int | None, seed: int) -> list[Example]:
    """The records matching every filter; with `sample`, N of them stratified by category (each category's
    share kept, largest remainders rounded up), chosen with `seed`, in dataset order."""
    picked = Selection(filters)
    matching = [r for r in records if picked.matches(r)]
    picked.check()
    chosen = picked.chosen(sample, seed)
    return matching if chosen is None else [r for i, r in enumerate(matching) if i in chosen]


class Selection:
    """`select` one record at a time, so that a version can be streamed: `matches` each record in dataset
    order, then `check` the filters (an unknown value or no match at all is an InputError) and, with a sample,
    take the `chosen` positions among the matches (a second pass writes them)."""

    def __init__(self, filters: dict[str, list[str]]):
        self.filters = filters
        self.present: dict[str, set[str]] = {key: set() for key in filters}
        self.groups: dict[str, list[int]] = defaultdict(list)  # category -> positions among the matches
        self.count = 0

    def matches(self, record: Example) -> bool:
        for key, seen in self.present.items():
            seen.add(getattr(record, key))
        if not all(getattr(record, key) in values for key, values in self.filters.items()):
            return False
        self.groups[record.category].append(self.count)
        self.count += 1
        return True

    def check(self) -> None:
        for key, values in self.filters.items():
            present = self.present[key]
            unknown = sorted(set(values) - present)
            if unknown:
                raise InputError(
                    f"--filter: no record has {key} {', '.join(map(repr, unknown))}; "
                    f"present: {', '.join(sorted(present))}"
                )
        if not self.count:
            raise InputError("--filter: no record matches all the filters together")

    def chosen(self, sample: int | None, seed: int) -> set[int] | None:
        """The positions (among the matches) a sample of `sample` keeps; None for all of them."""
        if sample is None or sample >= self.count:
            return None
        quotas = {c: sample * len(ix) / self.count for c, ix in self.groups.items()}
        counts = {c: int(q) for c, q in quotas.items()}
        by_remainder = sorted(quotas, key=lambda c: (counts[c] - quotas[c], c))
        for category in by_remainder[: sample - sum(counts.values())]:
            counts[category] += 1
        rng = random.Random(seed)
        return {i for c, ix in sorted(self.groups.items()) for i in rng.sample(ix, counts[c])}


def export_jsonl(dataset: Dataset, manifest: Manifest, request: ExportRequest, storage: Storage, key: str) -> int:
    """Stream the selected records of `manifest` to `key` with flat memory (one batch at a time): a second pass
    only with --sample. Nothing is written when the filters turn out wrong. Returns the records written."""
    picked = Selection(request.filters)
    chosen: set[int] | None = None
    written = 0
    if request.sample is not None:
        for record in dataset.records(manifest):
            picked.matches(record)
        picked.check()
        chosen = picked.chosen(request.sample, request.seed)
        picked = Selection(request.filters)

    def lines() -> Iterator[bytes]:
        nonlocal written
        for record in dataset.records(manifest):
            position = picked.count
            if picked.matches(record) and (chosen is None or position in chosen):
                written += 1
                yield (record.model_dump_json() + "\n").encode()
        picked.check()

    write_stream(storage, key, lines())
    return written


def judged_with(dataset: Dataset, manifest: Manifest, path: Path | None) -> tuple[Rubric | None, str]:
    """The rubric `manifest` was judged with: the copy the dataset keeps, else `path` (or the bundled rubric)
    when its version matches; otherwise (None, why not)."""
    version = manifest.rubric.get("version", "")
    kept = dataset.kept_rubric(version)
    if kept is not None:
        return Rubric.model_validate(kept), ""
    domain = get_domain(manifest.domain)
    path = path or domain.rubric_path
    rubric = load_rubric(path, domain=domain.name, categories=set(domain.categories))
    if rubric.version == version:
        return rubric, ""
    return None, (
        f"{dataset.name}@v{manifest.version} was judged with rubric {manifest.rubric.get('id')}@{version}, which the "
        f"dataset does not keep, and {path} is @{rubric.version}; pass --rubric with the file it was judged with"
    )


def export_context(dataset: Dataset, manifest: Manifest, rubric: Path | None = None) -> Context:
    """What every format is given about a dataset version: its name, the domain card's words for the user, and
    the rubric it was judged with."""
    user = get_domain(manifest.domain).card.user_simulator
    return Context(
        dataset=dataset.name,
        version=manifest.version,
        mission=user.mission.strip(),
        persona=user.persona.strip(),
        find_rubric=lambda: judged_with(dataset, manifest, rubric),
    )


def export(dataset: Dataset, version: int | None, request: ExportRequest) -> ExportResult:
    """Write `dataset` at `version` (latest when None) as `request` asks; nothing is written on bad input."""
    fmt = FORMATS.get(request.format)
    if fmt is None:
        raise InputError(f"--format: unknown format {request.format!r}; available: {', '.join(FORMATS)}")
    storage, filename = open_file(request.out)
    out = PurePosixPath(filename)
    if out.suffix not in fmt.suffixes:
        raise InputError(
            f"--out: --format {request.format} writes a {' or '.join(fmt.suffixes)} file, not {out.name!r}"
        )
    for option, given in (("--with-responses", request.with_responses), ("--role-arn", request.role_arn)):
        if given and request.format != "bedrock":
            raise InputError(f"{option}: only --format bedrock takes it")
    if request.grader is not None and request.format != "promptfoo":
        raise InputError("--grader: only --format promptfoo takes it")
    if request.grader is not None and not request.grader.strip():
        raise InputError("--grader: empty; give a promptfoo provider id, e.g. openai:gpt-4.1-mini")
    manifest = dataset.manifest(version)

    def name(tag: str) -> str:
        return out.name if not tag else f"{out.stem}-{tag}{'.json' if tag.endswith('job') else out.suffix}"

    if request.format == "jsonl":  # streamed: the other formats need every record at once
        written = export_jsonl(dataset, manifest, request, storage, name(""))
        return ExportResult(manifest, written, [storage.url(name(""))])
    records = select(list(dataset.records(manifest)), request.filters, request.sample, request.seed)

    ctx = export_context(dataset, manifest, request.rubric)
    ctx = replace(
        ctx,
        responses={r.id: r.reference_answer for r in records} if request.with_responses else None,
        responder=identifier(str(manifest.models.get("task", "task"))) if request.with_responses else None,
        options={
            "role_arn": request.role_arn,
            "evaluator_model": request.evaluator_model,
            "grader": request.grader,
            "rubric": request.rubric,
        },
        locate=lambda tag: storage.url(name(tag)),
    )
    files = fmt.write(records, ctx)
    for tag, data in files.items():
        storage.write(name(tag), data)
    return ExportResult(manifest, len(records), [storage.url(name(tag)) for tag in files])
