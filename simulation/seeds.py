"""Seed cases: real user requests (`generate --cases FILE`) turned into cases a run plays like any other.

A cases file is JSON Lines (one object a line) or CSV (a header row). Each line is one real request, and
optionally the conversation before it, the subject it is about, the facts an SME knows (the verdict, and the ids
an answer must cite), the tool calls the request needs, a category of the domain and tags. The user simulator
opens with the request as written (or paraphrased, `--paraphrase`); the task agent works with the domain's tools.

Truth: a line with `facts` gives the case `sme` truth (its verdict must be one the domain's finding model allows,
its ids must exist in the world); a line without is `judged`: only the critic's criteria that need no stated truth
are scored, and the example must be signed off by an SME before it counts (`review serve`). `tools_used` and
`source` (what `cases from-traces` writes) are read and kept out of the truth: a traced agent's calls are not
what the request needs.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator

from config import InputError
from config.yamlfile import dotted_path
from rubrics.methods import vocabulary_of
from simulation.domains.base import Case, Domain, World
from store.records import Facts, Strict, ToolCall, Turn, content_id

SEED_PREFIX = "seed:"  # the case keys of seed requests
SEEDED = "seeded"  # the category and request type of a seed line that names no category of the domain
CSV_LISTS = ("evidence_ids", "expected_tool_calls", "tags")  # CSV cells holding `;`-separated lists
CSV_COLUMNS = ("request", "subject_id", "category", "verdict", "typology", *CSV_LISTS)


class SeedTurn(Strict):
    role: Literal["user", "assistant"]
    content: str = Field(min_length=1)


class SeedFacts(Strict):
    """What an SME knows about a request: the verdict, and the ids a correct answer must cite."""

    verdict: str = Field(min_length=1)
    typology: str | None = None
    evidence_ids: list[str] = Field(default_factory=list)


class SeedLine(Strict):
    """One line of a cases file."""

    id: str | None = Field(None, description="the line's own id (from-traces: trace and span)")
    request: str = Field(min_length=1, description="the user's request, as they wrote it")
    conversation: list[SeedTurn] = Field(default_factory=list, description="the turns before the request")
    subject_id: str | None = None
    category: str | None = None
    facts: SeedFacts | None = None
    expected_tool_calls: list[ToolCall] | None = None
    tags: list[str] = Field(default_factory=list)
    tools_used: list[ToolCall] = Field(default_factory=list, description="what a traced agent called: not truth")
    source: dict[str, Any] = Field(default_factory=dict, description="where the line came from: not truth")

    @field_validator("conversation")
    @classmethod
    def _before_a_request(cls, turns: list[SeedTurn]) -> list[SeedTurn]:
        roles = [turn.role for turn in turns]
        if roles != ["user", "assistant"] * (len(roles) // 2):
            raise ValueError("turns before the request go user, assistant, ... and end with the assistant")
        return turns


def read_seed_lines(path: Path) -> tuple[list[tuple[int, SeedLine]], str]:
    """(line number, line) of every request in a JSONL or CSV cases file, and the file's sha256; every bad line
    is reported as `file:line: field: what is wrong`, all at once."""
    lines, sha256, problems = _read(path)
    if problems:
        raise InputError.capped([problem for _, problem in problems])
    return lines, sha256


def _read(path: Path) -> tuple[list[tuple[int, SeedLine]], str, list[tuple[int, str]]]:
    """The lines that parse, the file's sha256, and (line number, problem) for those that do not."""
    try:
        data = path.read_bytes()
        text = data.decode("utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot be read as UTF-8 text ({exc})") from None
    rows = _csv_rows(path, text) if path.suffix.lower() == ".csv" else _json_rows(path, text)
    lines, problems = [], []
    for number, row in rows:
        if isinstance(row, str):
            problems.append((number, f"{path}:{number}: {row}"))
            continue
        try:
            lines.append((number, SeedLine.model_validate(row)))
        except ValidationError as exc:
            for error in exc.errors():
                field = dotted_path(error["loc"]) or "(line)"
                problems.append((number, f"{path}:{number}: {field}: {error['msg'].removeprefix('Value error, ')}"))
    if not lines and not problems:
        raise InputError(f"{path}: no requests")
    return lines, hashlib.sha256(data).hexdigest(), problems


def _json_rows(path: Path, text: str) -> list[tuple[int, dict[str, Any] | str]]:
    rows: list[tuple[int, dict[str, Any] | str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            rows.append((number, f"(line): not JSON ({exc.msg})"))
            continue
        rows.append((number, row if isinstance(row, dict) else "(line): must be a JSON object"))
    return rows


def _csv_rows(path: Path, text: str) -> list[tuple[int, dict[str, Any] | str]]:
    """CSV rows as seed-line objects: `verdict`, `typology` and `evidence_ids` make `facts`; list cells split on `;`
    (`expected_tool_calls` names tools, called without input)."""
    reader = csv.reader(io.StringIO(text))
    header = [name.strip() for name in next(reader, [])]
    unknown = [name for name in header if name not in CSV_COLUMNS]
    if "request" not in header or unknown:
        raise InputError(
            f"{path}:1: header: needs request, may have {', '.join(CSV_COLUMNS[1:])}"
            + (f" (unknown: {', '.join(unknown)})" if unknown else "")
        )
    rows: list[tuple[int, dict[str, Any] | str]] = []
    for number, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(header):
            rows.append((number, f"row: {len(cells)} fields, the header has {len(header)}"))
            continue
        values = {name: cell.strip() for name, cell in zip(header, cells, strict=True) if cell.strip()}
        listed = {
            name: [v.strip() for v in values.pop(name).split(";") if v.strip()] for name in CSV_LISTS if name in values
        }
        row: dict[str, Any] = values
        if "tags" in listed:
            row["tags"] = listed["tags"]
        if "expected_tool_calls" in listed:
            row["expected_tool_calls"] = [{"name": name} for name in listed["expected_tool_calls"]]
        facts = {k: row.pop(k) for k in ("verdict", "typology") if k in row}
        if "evidence_ids" in listed:
            facts["evidence_ids"] = listed["evidence_ids"]
        if facts:
            row["facts"] = facts
        rows.append((number, row))
    return rows


def seed_cases(path: Path, domain: Domain, world: World, *, paraphrase: bool = False) -> tuple[list[Case], str]:
    """The cases of a cases file, checked against the domain and its world (categories, verdicts, ids, tools), in
    file order, and the file's sha256. A request that appears twice (with the same conversation) is one case."""
    lines, sha256, problems = _read(path)
    vocabulary = vocabulary_of(domain.finding_model)
    tools = {getattr(tool, "tool_name", None) for tool in domain.tools(world)} | set(domain.action_names)
    cases, keys = [], set()
    for number, line in lines:
        where = f"{path}:{number}"
        if line.category is not None and line.category not in domain.categories:
            problems.append(
                (number, f"{where}: category: {line.category!r} is not a category of the {domain.name} domain")
            )
        if line.facts is not None:
            found = _fact_problems(where, line, vocabulary.verdicts, vocabulary.typologies, world)
            problems += [(number, problem) for problem in found]
        unknown = sorted({call.name for call in line.expected_tool_calls or []} - tools)
        if unknown:
            problems.append(
                (number, f"{where}: expected_tool_calls: no tool {', '.join(unknown)} in the {domain.name} domain")
            )
        case = seed_case(len(cases), line, paraphrase=paraphrase)
        if case.key not in keys:
            keys.add(case.key)
            cases.append(case)
    if problems:
        raise InputError.capped([problem for _, problem in sorted(problems, key=lambda p: p[0])])
    return cases, sha256


def _fact_problems(where: str, line: SeedLine, verdicts: tuple, typologies: tuple, world: World) -> list[str]:
    facts = line.facts
    assert facts is not None
    problems = []
    if verdicts and facts.verdict not in verdicts:
        problems.append(f"{where}: facts.verdict: {facts.verdict!r} is not one of {', '.join(verdicts)}")
    if facts.typology is not None and typologies and facts.typology not in typologies:
        problems.append(f"{where}: facts.typology: {facts.typology!r} is not one of {', '.join(typologies)}")
    missing = [i for i in facts.evidence_ids if not world.has_id(i)]
    if missing:
        problems.append(f"{where}: facts.evidence_ids: not in the world: {', '.join(missing)}")
    if line.subject_id is not None and not world.has_id(line.subject_id):
        problems.append(f"{where}: subject_id: {line.subject_id!r} is not in the world")
    return problems


def seed_case(index: int, line: SeedLine, *, paraphrase: bool = False) -> Case:
    """The case a seed line makes: keyed by its request and conversation, briefed with the request itself."""
    history = [Turn(role=turn.role, content=turn.content) for turn in line.conversation]
    key = SEED_PREFIX + content_id(line.request, [turn.model_dump() for turn in history])
    facts = None
    if line.facts is not None:
        facts = Facts(
            verdict=line.facts.verdict,
            typology=line.facts.typology,
            evidence_ids=line.facts.evidence_ids,
            subject_id=line.subject_id,
        )
    return Case(
        index=index,
        key=key,
        category=line.category or SEEDED,
        request_type=SEEDED,
        difficulty="standard",
        brief={"request_type": SEEDED, "request": line.request, "paraphrase": paraphrase},
        expected_tool_calls=line.expected_tool_calls,
        tags=line.tags,
        truth="sme" if facts is not None else "judged",
        facts=facts,
        history=history,
    )
