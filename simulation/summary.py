"""The run summary: what a batch did, printed at the end and saved beside the dataset."""

from __future__ import annotations

from collections import Counter

from simulation.episode import EpisodeResult
from store.records import Strict, TokenUsage


class RunSummary(Strict):
    run_id: str
    dataset: str
    domain: str
    version: int | None
    seed: int
    world_seed: int
    models: dict[str, str]
    episodes: int
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


def summarise(results: list[EpisodeResult], *, added: int, duplicates: int, wall_time_s: float,
              **fields: object) -> RunSummary:
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
        episodes=len(results), accepted=len(accepted), rejected=sum(r.status == "rejected" for r in results),
        failed=sum(r.status == "failed" for r in results), duplicates=duplicates, added=added,
        top_reasons=dict(reasons.most_common(5)), rounds_histogram=dict(sorted(rounds.items())),
        accepted_by_category=dict(sorted(Counter(r.case.category for r in accepted).items())),
        adversarial_accepted=sum(r.case.difficulty == "adversarial" for r in accepted),
        tool_calls=sum(r.tool_calls for r in results), tokens=tokens, wall_time_s=round(wall_time_s, 2),
        **fields)
