"""Dedup across runs (exact and near-duplicate prompts) and the category mix in the run summary."""

from pathlib import Path

import pytest

from simulation.domains import get_domain
from simulation.runner import Run, RunConfig
from store.dataset import Dataset
from store.records import ReviewItem


def run(out: Path, dataset: str, seed: int = 5, count: int = 8):
    return Run(RunConfig(output_dir=str(out), dataset=dataset, count=count, seed=seed)).execute()


def reviewed(out: Path, dataset: str) -> list[ReviewItem]:
    return [
        ReviewItem.model_validate_json(line)
        for path in (out / dataset / "review").glob("*.jsonl")
        for line in path.read_text().splitlines()
    ]


def paraphrase(prompt: str) -> str:
    """A near-duplicate: one word inserted, casing and final punctuation changed."""
    words = prompt.split()
    return " ".join([*words[:2], "please", *words[2:]]).upper().rstrip(".?!") + " !"


def test_planted_near_duplicates_are_rejected_with_reason_near_duplicate(tmp_path):
    out = tmp_path / "output"
    run(out, "probe")  # what this seed's requests will be
    probe = Dataset(out, "probe")
    accepted = list(probe.records(probe.latest()))
    planted = [  # other cases (keys), so the next run draws the probe's cases again
        e.model_copy(
            update={"id": f"planted{i:02d}", "dataset": "kyc", "prompt": paraphrase(e.prompt), "case_key": f"p:{i}"}
        )
        for i, e in enumerate(accepted)
    ]
    target = Dataset(out, "kyc")
    domain = get_domain("kyc")
    target.bind(domain="kyc", domain_version=domain.version, world_seed=None, default_world_seed=1)
    target.append(planted, run_id="planted", rubric={}, models={}, generation={})

    summary = run(out, "kyc")
    near = [item for item in reviewed(out, "kyc") if item.reasons == ["near_duplicate"]]
    assert summary.added == 0 and len(near) == len(planted) > 0
    assert {item.prompt for item in near} == {e.prompt for e in accepted}
    assert all(item.attempts == [] for item in near), "turned away before the task agent ran"
    assert summary.top_reasons == {"near_duplicate": len(planted)}


def test_a_later_run_draws_cases_the_dataset_does_not_hold(tmp_path):
    out = tmp_path / "output"
    first = run(out, "kyc")
    dataset = Dataset(out, "kyc")
    before = {r.case_key for r in dataset.records(dataset.latest())}
    second = run(out, "kyc")  # the same seed: it would draw the same cases, but the dataset holds them
    assert first.added > 0 and second.added > 0 and "duplicate" not in second.top_reasons
    records = list(dataset.records(dataset.latest()))
    after = {r.case_key for r in records} - before
    assert len(after) == second.added and not after & before
    assert len({r.id for r in records}) == len(records) == first.added + second.added


def test_an_exact_duplicate_request_is_turned_away(tmp_path):
    out = tmp_path / "output"
    run(out, "probe")
    probe = Dataset(out, "probe")
    accepted = list(probe.records(probe.latest()))
    target = Dataset(out, "kyc")
    target.bind(domain="kyc", domain_version=get_domain("kyc").version, world_seed=None, default_world_seed=1)
    copies = [e.model_copy(update={"id": f"copy{i:02d}", "case_key": f"p:{i}"}) for i, e in enumerate(accepted)]
    target.append(copies, run_id="copies", rubric={}, models={}, generation={})
    summary = run(out, "kyc")  # the same cases, the same requests as the probe's
    assert summary.added == 0 and summary.top_reasons == {"duplicate": len(accepted)}


def test_the_summary_reports_the_category_mix_against_the_configured_mix(tmp_path):
    summary = run(tmp_path / "output", "kyc", count=40)
    mix = summary.category_mix
    configured = get_domain("kyc").card.category_mix
    assert set(configured) <= set(mix)
    assert abs(sum(s.configured for s in mix.values()) - 1) < 0.01
    assert abs(sum(s.drawn for s in mix.values()) - 1) < 0.01
    adversarial = [c for c, kind in get_domain("kyc").categories.items() if kind == "adversarial"]
    assert summary.adversarial_share.drawn == round(sum(mix[c].drawn for c in adversarial if c in mix), 3)
    assert 0 < summary.adversarial_share.configured < 0.2


@pytest.mark.slow
def test_which_of_two_equal_requests_wins_does_not_depend_on_concurrency(tmp_path, monkeypatch):
    """Off-topic requests come from a handful of questions, so a mix heavy in them repeats requests."""
    from simulation.domains.kyc import KycDomain

    card = get_domain("kyc").card
    heavy = card.model_copy(update={"category_mix": {"out_of_scope": 1.0, "structuring": 1.0}})
    monkeypatch.setattr(KycDomain, "card", property(lambda self: heavy))
    out = tmp_path / "output"
    outcomes = []
    for concurrency in (1, 8):
        name = f"c{concurrency}"
        Run(RunConfig(output_dir=str(out), dataset=name, count=60, seed=3, concurrency=concurrency)).execute()
        dataset = Dataset(out, name)
        accepted = {(r.provenance.episode, r.id) for r in dataset.records(dataset.latest())}
        turned_away = {(item.episode, tuple(item.reasons)) for item in reviewed(out, name)}
        outcomes.append((accepted, turned_away))
    assert outcomes[0] == outcomes[1]
    assert any(reasons == ("duplicate",) for _, reasons in outcomes[0][1]), "this mix repeats some requests"
