"""The leaderboard, its intervals and discrimination, summary.json, report.html and comparing two runs, all from
synthetic results with known pass rates."""

import io
import json

import numpy as np
import pytest
from rich.console import Console

from config import InputError
from evaluation.compare import compare, print_comparison
from evaluation.report import print_leaderboard, summary, write_html, write_summary
from evaluation.results import EvalResult, ResultsFile
from store.records import TokenUsage

CATEGORIES = ["structuring", "pep_match", "no_hit", "push_back", "out_of_scope"]
RATES = {"good": 0.95, "sloppy": 0.5, "baseline": 0.05}
META = {
    "dataset": "kyc",
    "version": 3,
    "rubric_id": "kyc-investigation",
    "rubric_version": "abc123",
    "judge": "simulated",
    "candidates": list(RATES),
    "created_at": "2026-01-01T00:00:00+00:00",
}


def golden(index: int) -> dict:
    """What a golden contributes to every result: id, category, difficulty, tags, turns."""
    multi_turn = index % 7 == 0
    return {
        "golden_id": f"g-{index:04d}",
        "category": CATEGORIES[index % len(CATEGORIES)],
        "difficulty": "adversarial" if index % 5 == 4 else "standard",
        "tags": ["near_threshold"] if index % 3 == 0 else [],
        "multi_turn": multi_turn,
        "turns": 3 if multi_turn else 1,
    }


def make_results(rates: dict[str, float], goldens: int = 200, seed: int = 0) -> list[EvalResult]:
    """Each candidate passes exactly round(rate × goldens) goldens, picked at random (seeded) across categories."""
    results = []
    for number, (candidate, rate) in enumerate(rates.items()):
        order = np.random.default_rng(seed + number).permutation(goldens)
        passing = set(order[: round(rate * goldens)].tolist())
        for index in range(goldens):
            passed = index in passing
            results.append(
                EvalResult(
                    **golden(index),
                    candidate=candidate,
                    passed=passed,
                    score=0.9 if passed else 0.2 + (index % 10) / 50,
                    failed_criteria=[] if passed else ["verdict_correct"],
                    verdict="suspicious",
                    verdict_correct=passed or index % 4 == 0,
                    evidence_precision=1.0 if passed else 0.5,
                    evidence_recall=0.9 if passed else 0.4,
                    tool_precision=1.0,
                    tool_recall=1.0 if passed else 0.5,
                    tool_f1=1.0 if passed else (index % 10) / 10,
                    call_precision=1.0,
                    call_recall=0.8,
                    call_f1=0.89 if passed else 0.3,
                    end_state_match=passed,
                    judge="simulated",
                    latency_s=1.0 + (index % 20) / 10,
                    tokens=TokenUsage(input=1000, output=200),
                    cost_usd=0.002,
                    answer=f"{candidate} answer to golden {index}: <b>not markup</b> " + "x" * 300,
                )
            )
    return results


def row(report: dict, candidate: str) -> dict:
    return next(r for r in report["leaderboard"] if r["candidate"] == candidate)


@pytest.fixture(scope="module")
def results() -> list[EvalResult]:
    return make_results(RATES)


@pytest.fixture(scope="module")
def report(results) -> dict:
    return summary(results, META)


def test_rates_and_means_are_the_shares_of_the_results(results, report):
    for candidate, rate in RATES.items():
        mine = [r for r in results if r.candidate == candidate]
        stats = row(report, candidate)
        assert stats["goldens"] == 200
        assert stats["pass_rate"]["value"] == pytest.approx(rate)
        assert stats["verdict_accuracy"]["value"] == pytest.approx(np.mean([r.verdict_correct for r in mine]), abs=1e-4)
        assert stats["tool_f1"]["value"] == pytest.approx(np.mean([r.tool_f1 for r in mine]), abs=1e-4)
        assert stats["end_state_match"]["value"] == pytest.approx(rate)
        assert stats["latency_s"]["p50"] == pytest.approx(np.percentile([r.latency_s for r in mine], 50), abs=1e-3)
        assert stats["latency_s"]["p95"] == pytest.approx(np.percentile([r.latency_s for r in mine], 95), abs=1e-3)
        assert stats["cost_per_golden_usd"]["value"] == pytest.approx(0.002)
        assert stats["tokens_per_golden"]["value"] == pytest.approx(1200)
        assert stats["errors"] == 0
        assert stats["multi_turn"] == sum(golden(i)["multi_turn"] for i in range(200))
    assert report["candidates"] == list(RATES)
    assert report["goldens"] == 200 and report["results"] == 600


def test_errors_are_counted_and_fail():
    results = make_results({"flaky": 1.0}, goldens=20)
    results[3] = results[3].model_copy(update={"error": "timed out", "passed": False, "answer": ""})
    stats = row(summary(results, {"candidates": ["flaky"]}), "flaky")
    assert stats["errors"] == 1
    assert stats["pass_rate"]["value"] == pytest.approx(0.95)


def test_intervals_hold_the_estimate_and_narrow_with_more_goldens(report):
    for stats in report["leaderboard"]:
        for name in ("pass_rate", "verdict_accuracy", "tool_f1", "call_f1", "end_state_match", "evidence_recall"):
            assert stats[name]["low"] <= stats[name]["value"] <= stats[name]["high"], (stats["candidate"], name)
    sloppy = row(report, "sloppy")["pass_rate"]
    assert 0.35 < sloppy["low"] < 0.5 < sloppy["high"] < 0.65

    def width(goldens: int) -> float:
        estimate = row(summary(make_results({"sloppy": 0.5}, goldens), {}), "sloppy")["pass_rate"]
        return estimate["high"] - estimate["low"]

    assert width(50) > width(200) > width(800)


def test_the_three_candidates_separate_and_identical_ones_do_not(report):
    discrimination = report["discrimination"]
    assert discrimination["spread"] == pytest.approx(0.9)
    assert [p["separate"] for p in discrimination["pairs"]] == [True, True, True]
    assert "tells these candidates apart: 3 of 3 pairs separate" in discrimination["verdict"]

    twin_rates = {"twin-a": 0.6, "twin-b": 0.6, "baseline": 0.05}
    twins = summary(make_results(twin_rates), {"candidates": list(twin_rates)})["discrimination"]
    separated = {(p["a"], p["b"]): p["separate"] for p in twins["pairs"]}
    assert separated == {("twin-a", "twin-b"): False, ("twin-a", "baseline"): True, ("twin-b", "baseline"): True}
    assert "2 of 3 pairs separate" in twins["verdict"] and "twin-a ~ twin-b" in twins["verdict"]
    one = summary(make_results({"only": 0.5}, 20), {})["discrimination"]
    assert one["pairs"] == [] and one["verdict"] == "one candidate: nothing to tell apart"


def test_per_category_tag_and_difficulty(results, report):
    for category, cells in report["by_category"].items():
        for candidate, stats in cells.items():
            mine = [r for r in results if r.candidate == candidate and r.category == category]
            assert stats["n"] == len(mine) == 40
            assert stats["pass_rate"]["value"] == pytest.approx(np.mean([r.passed for r in mine]), abs=1e-4)
            assert stats["verdict_accuracy"]["value"] == pytest.approx(
                np.mean([r.verdict_correct for r in mine]), abs=1e-4
            )
    assert list(report["by_category"]) == sorted(CATEGORIES)
    assert set(report["by_difficulty"]) == {"standard", "adversarial"}
    assert report["by_difficulty"]["adversarial"]["good"]["n"] == 40
    assert list(report["by_tag"]) == ["near_threshold"]
    assert report["by_tag"]["near_threshold"]["sloppy"]["n"] == 67


def test_summary_json_round_trips_and_is_deterministic(results, report, tmp_path):
    assert json.loads(json.dumps(report)) == report
    write_summary(report, tmp_path / "one.json")
    write_summary(summary(list(reversed(results)), META), tmp_path / "two.json")
    assert (tmp_path / "one.json").read_bytes() == (tmp_path / "two.json").read_bytes()
    saved = json.loads((tmp_path / "one.json").read_text())
    assert saved["dataset"] == "kyc" and saved["rubric_version"] == "abc123" and saved["judge"] == "simulated"
    assert saved["created_at"] == META["created_at"]


def test_a_given_candidate_without_results_is_listed_but_not_rated():
    report = summary(make_results({"a": 0.5, "b": 0.9}, 30), {"candidates": ["b", "missing", "a"]})
    assert report["candidates"] == ["b", "missing", "a"]
    missing = row(report, "missing")
    assert missing["goldens"] == 0 and missing["pass_rate"]["value"] is None
    assert [p["a"] + "/" + p["b"] for p in report["discrimination"]["pairs"]] == ["b/a"]
    json.dumps(report)


def test_the_terminal_leaderboard_fits_100_columns(report):
    console = Console(width=100, file=io.StringIO(), record=True, color_system=None)
    print_leaderboard(report, console)
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 100
    assert "kyc@v3 · rubric kyc-investigation@abc123 · judge simulated · 200 goldens × 3 candidates" in text
    assert "95% [" in text and "structuring" in text and "adversarial" in text
    assert "3 of 3 pairs separate" in text


def test_report_html_is_self_contained_and_shows_the_worst_goldens(results, report, tmp_path):
    path = tmp_path / "report.html"
    write_html(report, results, path)
    page = path.read_text()
    assert 'id="leaderboard"' in page and 'id="category-chart"' in page and 'class="histogram"' in page
    assert all(name in page for name in RATES)
    assert "http://" not in page and "https://" not in page and "<link" not in page and "src=" not in page
    assert "<b>not markup</b>" not in page and "&lt;b&gt;not markup&lt;/b&gt;" in page
    assert report["discrimination"]["verdict"] in page
    worst = page[page.index('<ol id="worst">') : page.index("</ol>")]
    assert worst.count("<li>") == 20
    assert 'href="#g-' in worst
    anchors = [part.split('"')[0] for part in worst.split('href="#')[1:]]
    assert all(f'<details id="{anchor}">' in page for anchor in anchors)
    assert "3 turns" in page  # multi-turn goldens among the worst


def test_an_800_result_report_stays_small(tmp_path):
    results = make_results({"a": 0.9, "b": 0.6, "c": 0.3, "d": 0.1}, goldens=200)
    path = tmp_path / "report.html"
    write_html(summary(results, {"candidates": ["a", "b", "c", "d"]}), results, path)
    assert path.stat().st_size < 500_000


def write_run(directory, results: list[EvalResult], meta: dict | None = None):
    directory.mkdir()
    out = ResultsFile(directory / "results.jsonl")
    for result in results:
        out.append(result)
    out.close()
    if meta:
        write_summary(summary(results, meta), directory / "summary.json")
    return directory


def test_compare_finds_a_planted_regression_and_fix(tmp_path):
    before = make_results({"good": 0.95, "sloppy": 0.5}, goldens=60)
    after = [r.model_copy() for r in before]
    regressed = next(i for i, r in enumerate(after) if r.candidate == "good" and r.passed)
    fixed = next(i for i, r in enumerate(after) if r.candidate == "sloppy" and not r.passed)
    after[regressed] = after[regressed].model_copy(update={"passed": False, "failed_criteria": ["evidence_cited"]})
    after[fixed] = after[fixed].model_copy(update={"passed": True, "failed_criteria": []})
    dropped = before[-1].golden_id
    after = [r for r in after if r.golden_id != dropped]
    after.append(before[0].model_copy(update={"golden_id": "g-new", "candidate": "good"}))
    after.append(before[0].model_copy(update={"candidate": "newcomer"}))
    a = write_run(tmp_path / "a", before, META)
    b = write_run(tmp_path / "b", after)

    comparison = compare(a, b)
    assert comparison.label_a == f"{a} (kyc@v3)" and comparison.label_b == str(b)
    assert [c.candidate for c in comparison.candidates] == ["good", "sloppy"]
    good, sloppy = comparison.candidates
    assert [(g.golden_id, g.category, g.failed_criteria) for g in good.regressions] == [
        (before[regressed].golden_id, before[regressed].category, ["evidence_cited"])
    ]
    assert good.fixes == [] and sloppy.regressions == []
    assert [g.golden_id for g in sloppy.fixes] == [before[fixed].golden_id]
    assert good.goldens == sloppy.goldens == 59
    assert good.pass_rate_b["value"] == pytest.approx(good.pass_rate_a["value"] - 1 / 59, abs=1e-4)
    assert good.change["low"] <= good.change["value"] <= good.change["high"]
    assert (comparison.goldens_in_both, comparison.goldens_only_in_a, comparison.goldens_only_in_b) == (59, 1, 1)
    assert comparison.candidates_only_in_b == ["newcomer"] and comparison.candidates_only_in_a == []
    json.dumps(comparison.to_dict())

    console = Console(width=100, file=io.StringIO(), record=True, color_system=None)
    print_comparison(comparison, console)
    text = console.export_text()
    assert before[regressed].golden_id in text and "evidence_cited" in text
    assert "1 only in A, 1 only in B" in text and "candidates only in B: newcomer" in text
    assert max(len(line) for line in text.splitlines()) <= 100


def test_compare_needs_two_evaluation_directories(tmp_path):
    run = write_run(tmp_path / "run", make_results({"good": 0.9}, 5))
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError) as error:
        compare(run, tmp_path / "empty")
    assert str(error.value) == f"{tmp_path / 'empty'}: no results.jsonl here (not an evaluation output directory)"
    with pytest.raises(InputError):
        compare(tmp_path / "nowhere", run)
