"""`dataset audit`: is a dataset worth evaluating an agent on?

A golden dataset discriminates only if the answer cannot be guessed without doing the work. The audit measures
what a shortcut would score and how varied the cases are:

- per request type, the verdicts and the **majority-verdict accuracy**: how often "always answer the most common
  verdict for this kind of request", calling no tool, is right (close to 1: the request gives the answer away);
- **distinct cases** and repeats (the same case key twice);
- **hardness tags**: the share of records that carry one (near a threshold, split across accounts, ...), and each
  tag's share;
- the configured category mix against the records';
- the share of requests that are an example question of the persona filled in **verbatim**;
- **expected-tool ambiguity**: request types whose cases need different sets of tools (which then depend on the
  hidden answer).
"""

from __future__ import annotations

import re
import string
from collections import Counter, defaultdict
from functools import cache

from pydantic import Field

from simulation.domains import Domain, get_domain
from store.dataset import Dataset
from store.records import Example, Strict


class RequestTypeAudit(Strict):
    records: int
    adversarial: bool
    verdicts: dict[str, int]
    majority_verdict: str
    majority_accuracy: float = Field(description="share of records whose verdict is the type's most common one")
    tool_sets: int = Field(description="distinct sets of required tool names among the type's records")


class MixShare(Strict):
    configured: float
    records: float


class Audit(Strict):
    dataset: str
    version: int
    domain: str
    records: int
    request_types: dict[str, RequestTypeAudit]
    majority_accuracy: float = Field(description="the majority-verdict shortcut over every record")
    majority_accuracy_standard: float = Field(description="the same over the non-adversarial request types")
    distinct_cases: int
    repeated_cases: int = Field(description="records whose case key an earlier record of the version has")
    tagged_share: float = Field(description="share of records with at least one hardness tag")
    tags: dict[str, float]
    mix: dict[str, MixShare]
    verbatim_fill_share: float = Field(description="share of requests that are an example question filled in")
    ambiguous_tool_share: float = Field(description="share of records whose request type has several tool sets")


NOT_STATED = "(not stated)"  # the verdict of a judged seed example: no world or SME stated one


def audit(dataset: Dataset, version: int | None = None) -> Audit:
    """The audit of one version of `dataset` (the latest when None)."""
    manifest = dataset.manifest(version)
    domain = get_domain(manifest.domain)
    records = list(dataset.records(manifest))
    request_type = _request_types(domain, manifest.world_seed)
    adversarial = {c for c, kind in domain.categories.items() if kind == "adversarial"}
    by_type: dict[str, list[Example]] = defaultdict(list)
    for record in records:
        by_type[request_type(record)].append(record)
    types: dict[str, RequestTypeAudit] = {}
    for name, group in sorted(by_type.items()):
        verdicts = Counter(r.facts.verdict if r.facts else NOT_STATED for r in group)
        majority, hits = verdicts.most_common(1)[0]
        types[name] = RequestTypeAudit(
            records=len(group),
            adversarial=all(r.category in adversarial for r in group),
            verdicts=dict(verdicts.most_common()),
            majority_verdict=majority,
            majority_accuracy=round(hits / len(group), 4),
            tool_sets=len({frozenset(c.name for c in r.expected_tool_calls or ()) for r in group}),
        )
    standard = [t for t in types.values() if not t.adversarial]
    keys = Counter(domain.case_key_of(r) for r in records)
    tags = Counter(tag for r in records for tag in set(r.tags))
    total = len(records) or 1
    mix_total = sum(domain.card.category_mix.values())
    categories = Counter(r.category for r in records)
    templates = [_pattern(q) for qs in domain.card.user_simulator.example_questions.values() for q in qs]
    return Audit(
        dataset=dataset.name,
        version=manifest.version,
        domain=domain.name,
        records=len(records),
        request_types=types,
        majority_accuracy=_share(sum(t.majority_accuracy * t.records for t in types.values()), total),
        majority_accuracy_standard=_share(
            sum(t.majority_accuracy * t.records for t in standard), sum(t.records for t in standard)
        ),
        distinct_cases=len(keys),
        repeated_cases=sum(n - 1 for n in keys.values()),
        tagged_share=_share(sum(bool(r.tags) for r in records), total),
        tags={tag: _share(n, total) for tag, n in tags.most_common()},
        mix={
            category: MixShare(
                configured=round(domain.card.category_mix.get(category, 0) / mix_total, 4),
                records=_share(categories.get(category, 0), total),
            )
            for category in sorted(set(domain.card.category_mix) | set(categories))
        },
        verbatim_fill_share=_share(sum(any(p.fullmatch(r.prompt) for p in templates) for r in records), total),
        ambiguous_tool_share=_share(sum(t.records for t in types.values() if t.tool_sets > 1), total),
    )


def _share(part: float, whole: float) -> float:
    return round(part / whole, 4) if whole else 0.0


def _pattern(template: str) -> re.Pattern[str]:
    """A regular expression matching `template` with any values in its placeholders."""
    parts = []
    for literal, field, _, _ in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if field is not None:
            parts.append(".+?")
    return re.compile("".join(parts), re.S)


def _request_types(domain: Domain, world_seed: int):
    """A record's request type: stored on records since schema 2, else rebuilt from its case in the world."""

    @cache
    def world():
        return domain.build_world(world_seed)

    def request_type(record: Example) -> str:
        if record.request_type:
            return record.request_type
        try:
            return domain.case_for_key(world(), domain.case_key_of(record)).request_type
        except LookupError:
            return "unknown"

    return request_type
