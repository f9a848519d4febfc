"""The run summary taken one episode at a time, and a run that keeps no finished episode until its commit."""

import gc
import random
import weakref
from pathlib import Path

import pytest

from simulation.episode import Episode
from simulation.runner import Run, RunConfig
from simulation.summary import RunSummary, Tally, summarise
from store.dataset import Dataset
from store.journal import RunJournal

COUNT = 40


def config(out: Path, count: int = COUNT) -> RunConfig:
    return RunConfig(output_dir=str(out), count=count, seed=11, sim_defect_rate=0.6, concurrency=8, run_id="t")


@pytest.fixture(scope="module")
def played(tmp_path_factory) -> tuple[Run, RunSummary, list[Episode]]:
    """A 40-episode run (several categories, multi-turn ones, rejections) and its episodes in case order."""
    out = tmp_path_factory.mktemp("tally")
    run = Run(config(out))
    summary = run.execute()
    episodes = RunJournal(Dataset(out, "kyc"), "t").load(Episode)
    return run, summary, [episodes[i] for i in sorted(episodes)]


def figures(run: Run, summary: RunSummary) -> dict:
    """What `summarise` is given besides the episodes: the run's own fields, as the runner gave them."""
    own = summary.model_dump(
        include={"run_id", "dataset", "domain", "version", "seed", "world_seed", "models", "review_file", "planned"}
        | {"resumed", "committed_before", "interrupted", "world_exhausted", "cases_left", "output_dir", "budget_usd"}
        | {"stopped_by_budget", "model_stats"}
    )
    return {
        **own,
        "added": summary.added,
        "duplicates": summary.duplicates,
        "wall_time_s": summary.wall_time_s,
        "category_mix": run.domain.card.category_mix,
        "adversarial": {c for c, kind in run.domain.categories.items() if kind == "adversarial"},
        "action_names": run.domain.action_names,
    }


def test_the_runs_tally_is_the_summary_of_its_episodes_in_case_order(played):
    run, summary, episodes = played
    assert len(episodes) == summary.episodes == COUNT
    assert len({e.case.category for e in episodes}) > 3 and summary.rejected > 0 and summary.conversations
    assert summary == summarise(episodes, **figures(run, summary))  # the runner's tally took them as they finished


def test_a_tally_in_any_order_equals_summarise_over_the_same_episodes(played):
    run, summary, episodes = played
    given = figures(run, summary)
    expected = summarise(episodes, **given)
    shuffled = episodes[:]
    random.Random(3).shuffle(shuffled)
    tally = Tally(
        category_mix=given.pop("category_mix"),
        adversarial=given.pop("adversarial"),
        action_names=given.pop("action_names"),
    )
    for episode in shuffled:
        tally.add(episode)
    got = tally.summary(**given)
    assert got == expected
    assert list(got.top_reasons.items()) == list(expected.top_reasons.items())  # ties in case order, too
    assert got.accepted + got.rejected + got.failed == COUNT
    assert sum(got.accepted_by_category.values()) == got.accepted == sum(e.status == "accepted" for e in episodes)
    assert got.tool_calls == sum(e.tool_calls for e in episodes)


def test_no_finished_episode_is_kept_until_the_commit(tmp_path, monkeypatch):
    run = Run(config(tmp_path, count=12))
    seen: list[weakref.ref] = []
    alive: list[int] = []
    commit = Run._commit

    def counting_commit(self: Run, started: float) -> RunSummary:
        gc.collect()
        alive.append(sum(ref() is not None for ref in seen))
        return commit(self, started)

    monkeypatch.setattr(Run, "_commit", counting_commit)
    summary = run.execute(lambda episode: seen.append(weakref.ref(episode)))
    assert len(seen) == summary.episodes == 12 and summary.added > 0
    assert alive == [0]


def test_a_resumed_run_keeps_none_of_its_finished_checkpoints(tmp_path):
    first = Run(config(tmp_path, count=6)).execute()
    again = Run(config(tmp_path, count=6))
    assert again.checkpoints == {} and again.finished_before.total() == 6
    summary = again.execute()
    assert (summary.resumed, summary.episodes, summary.accepted, summary.added) == (6, 6, first.accepted, 0)
    assert summary.committed_before == first.added
    assert summary.review_file == first.review_file
