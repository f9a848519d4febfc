"""`calibrate`: the judge's pass/fail against SMEs' marks, κ and its bootstrap interval recomputed independently
(scikit-learn's κ, a plain resampling loop), flagged criteria, the labels CSV and its errors, reviewers' κ."""

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.metrics import cohen_kappa_score

from main import cli
from review.calibrate import RESAMPLES, SEED, TOO_LOW, agreement
from review.decisions import DecisionLog, new_decision
from rubrics.check import load_checked
from store.dataset import Dataset

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def sklearn_kappa(a, b) -> float:
    with warnings.catch_warnings():  # one label only: scikit-learn warns and answers NaN
        warnings.simplefilter("ignore")
        return cohen_kappa_score(a, b)


def loop_interval(a: np.ndarray, b: np.ndarray) -> tuple[float, float, int]:
    """The percentile bootstrap written out plainly: the same index matrix, κ of each row by scikit-learn, the rows
    where it is undefined left out."""
    index = np.random.default_rng(SEED).integers(0, len(a), size=(RESAMPLES, len(a)))
    kappas = []
    for row in index:
        value = sklearn_kappa(a[row], b[row])
        if not np.isnan(value):
            kappas.append(value)
    low, high = np.percentile(kappas, [2.5, 97.5])
    return low, high, RESAMPLES - len(kappas)


@pytest.mark.parametrize(
    "n, flip, share",
    [(60, 0.15, 0.6), (25, 0.3, 0.5), (8, 0.1, 0.9)],  # the last: mostly pass, many degenerate resamples
)
def test_kappa_and_interval_match_an_independent_computation(n, flip, share):
    rng = np.random.default_rng(n)
    judge = rng.random(n) < share
    sme = np.where(rng.random(n) < flip, ~judge, judge)
    sme[0], judge[0] = True, False  # at least one disagreement
    stats = agreement(judge.tolist(), sme.tolist())

    assert stats.n == n and stats.agreement == pytest.approx(np.mean(judge == sme), abs=1e-4)
    assert stats.kappa == pytest.approx(sklearn_kappa(judge, sme), abs=1e-4)
    low, high, degenerate = loop_interval(judge, sme)
    assert (stats.low, stats.high, stats.degenerate) == (pytest.approx(low, abs=1e-4), pytest.approx(high, abs=1e-4),
                                                         degenerate)  # fmt: skip
    assert stats.low <= stats.kappa <= stats.high


def test_kappa_is_undefined_when_both_raters_give_one_mark():
    stats = agreement([True] * 5, [True] * 5)
    assert stats.agreement == 1 and stats.kappa is None and stats.low is None and stats.degenerate == RESAMPLES


def mark(output: Path, name: str, marks: dict[str, dict[str, dict[str, bool]]]) -> None:
    """Save `reviewer → example id → criterion → pass` as 'mark' decisions, as the SME workspace does."""
    dataset = Dataset(output, name)
    log = DecisionLog(dataset)
    version = dataset.manifest().version
    for reviewer, examples in marks.items():
        for example_id, criteria in examples.items():
            log.save(new_decision(name, version, target="example", ref=example_id, action="mark", reviewer=reviewer,
                                  marks=criteria))  # fmt: skip


def judged(output: Path, name: str, criterion: str) -> dict[str, bool]:
    """Example id → the judge's pass on `criterion`, for the examples whose critique scored it."""
    dataset = Dataset(output, name)
    return {
        r.id: c.passed
        for r in dataset.records(dataset.manifest())
        for c in r.critique.criteria
        if c.id == criterion and c.method == "judge" and not c.details.get("unscored")
    }


def test_calibrate_flags_a_criterion_below_the_threshold(fresh_dataset, tmp_path):
    output, name = fresh_dataset
    judge = judged(output, name, "clear_conclusion")
    ids = sorted(judge)
    assert len(ids) >= 6
    ana = {i: {"clear_conclusion": judge[i] if k % 3 else not judge[i]} for k, i in enumerate(ids)}
    ben = {i: {"clear_conclusion": judge[i] if k % 4 else not judge[i]} for k, i in enumerate(ids)}
    mark(output, name, {"ana": ana, "ben": ben})
    numbers = tmp_path / "calibration.json"

    result = run("calibrate", name, "--output-dir", str(output), "--json", str(numbers))
    assert result.exit_code == 0, result.output  # a flagged criterion is a finding, not a failure
    assert "clear_conclusion" in result.output and "flagged" in result.output and TOO_LOW in result.output
    report = json.loads(numbers.read_text())
    assert report["threshold"] == 0.6 and "sets no calibration" in report["threshold_from"]
    [row] = report["criteria"]
    pairs = [(judge[i], marks[i]["clear_conclusion"]) for marks in (ana, ben) for i in ids]
    j, s = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    assert row["n"] == len(pairs) and row["kappa"] == pytest.approx(sklearn_kappa(j, s), abs=1e-4)
    assert row["flagged"] and row["verdict"].startswith(TOO_LOW)
    confusion = row["confusion"]
    assert confusion == {
        "both_pass": int(np.sum(j & s)),
        "judge_pass_sme_fail": int(np.sum(j & ~s)),
        "judge_fail_sme_pass": int(np.sum(~j & s)),
        "both_fail": int(np.sum(~j & ~s)),
    }
    assert len(row["disagreements"]) == int(np.sum(j != s))
    assert {d["example_id"] for d in row["disagreements"]} <= set(ids)

    [pair] = report["between_reviewers"]  # the two SMEs on the same examples
    a = np.array([ana[i]["clear_conclusion"] for i in ids])
    b = np.array([ben[i]["clear_conclusion"] for i in ids])
    assert pair["reviewers"] == ["ana", "ben"] and pair["n"] == len(ids)
    assert pair["kappa"] == pytest.approx(sklearn_kappa(a, b), abs=1e-4)
    assert pair["agreement"] == pytest.approx(np.mean(a == b), abs=1e-4)

    relaxed = run("calibrate", name, "--output-dir", str(output), "--threshold", "0", "--json", str(numbers))
    assert relaxed.exit_code == 0 and not json.loads(numbers.read_text())["criteria"][0]["flagged"]


def test_the_rubric_sets_the_threshold(tmp_path):
    rubric = tmp_path / "kyc.yaml"
    rubric.write_text((ROOT / "rubrics" / "kyc.yaml").read_text() + "calibration:\n  min_kappa: 0.8\n")
    output = tmp_path / "output"
    assert (
        run("generate", "--count", "4", "--seed", "2", "--rubric", str(rubric), "--output-dir", str(output)).exit_code
        == 0
    )
    judge = judged(output, "kyc", "actionable_next_step")
    labels = tmp_path / "labels.csv"
    labels.write_text("example_id,criterion,passed,reviewer\n" + "".join(
        f"{i},actionable_next_step,{'pass' if passed else 'fail'},carla\n" for i, passed in judge.items()))  # fmt: skip
    numbers = tmp_path / "calibration.json"
    assert (
        run("calibrate", "kyc", "--output-dir", str(output), "--labels", str(labels), "--json", str(numbers)).exit_code
        == 0
    )
    report = json.loads(numbers.read_text())
    assert report["threshold"] == 0.8
    assert (
        report["threshold_from"] == f"calibration.min_kappa of rubric kyc-investigation@{load_checked(rubric).version}"
    )


def test_rubrics_without_a_calibration_section_keep_their_version(tmp_path):
    assert load_checked(ROOT / "rubrics" / "kyc.yaml").version == "676e3e1f6876"
    assert load_checked(ROOT / "rubrics" / "crypto.yaml").version == "6e163a42d028"
    rubric = load_checked(ROOT / "rubrics" / "kyc.yaml")
    assert rubric.calibration.min_kappa == 0.6 and "calibration" not in rubric.snapshot()
    bad = tmp_path / "bad.yaml"
    bad.write_text((ROOT / "rubrics" / "kyc.yaml").read_text() + "calibration:\n  min_kappa: 1.5\n")
    result = CliRunner().invoke(cli, ["rubric", "check", str(bad)])
    assert result.exit_code == 2
    assert (
        f"{bad}:" in result.output and "calibration.min_kappa: Input should be less than or equal to 1" in result.output
    )


def test_labels_csv_joins_the_decisions(fresh_dataset, tmp_path):
    output, name = fresh_dataset
    judge = judged(output, name, "actionable_next_step")
    ids = sorted(judge)
    mark(output, name, {"ana": {i: {"actionable_next_step": judge[i]} for i in ids}})
    labels = tmp_path / "labels.csv"
    assert all(judge.values())  # the simulated judge passed every golden
    marks = ["fail", "FALSE", "0"] + ["pass", "True", "1"] * len(ids)
    rows = [f"dev,{i},actionable_next_step,{marks[k]}\n" for k, i in enumerate(ids)]  # columns in another order
    labels.write_text("reviewer,example_id,criterion,passed\n" + "".join(rows) + "dev,unknown0001,goal_met,1\n")
    numbers = tmp_path / "calibration.json"
    result = run("calibrate", name, "--output-dir", str(output), "--labels", str(labels), "--json", str(numbers))
    assert result.exit_code == 0, result.output
    report = json.loads(numbers.read_text())
    assert report["reviewers"] == ["ana", "dev"] and report["labels"] == 2 * len(ids) + 1
    assert report["ignored"]["not_in_version"] == 1
    [row] = report["criteria"]
    assert row["n"] == 2 * len(ids) and row["confusion"]["judge_pass_sme_fail"] == 3
    assert report["between_reviewers"][0]["reviewers"] == ["ana", "dev"]


@pytest.mark.parametrize(
    "content, problems",
    [
        (
            "example_id,criterion,verdict,reviewer\n",
            ["labels.csv:1: header: must be example_id,criterion,passed,reviewer"],
        ),
        ("", ["labels.csv:1: header: must be example_id,criterion,passed,reviewer (in any order), got nothing"]),
        (
            "example_id,criterion,passed,reviewer\nabc123,clear_conclusion,maybe,ana\n\nabc124,Clear,pass,ana\n"
            "abc125,clear_conclusion,pass\nabc126,goal_met,true,<ana>\n",
            [
                "labels.csv:2: passed: 'maybe' is not one of pass, fail, true, false, 1, 0",
                "labels.csv:4: criterion: 'Clear' is not a criterion id",
                "labels.csv:5: row: 3 fields, the header has 4",
                "labels.csv:6: reviewer: '<ana>' is not a reviewer name",
            ],
        ),
        (
            "example_id,criterion,passed,reviewer\nabc123,goal_met,pass,ana\nabc123,goal_met,fail,ana\n",
            ["labels.csv:3: example_id: ana marked goal_met of abc123 already on line 2"],
        ),
    ],
)
def test_a_bad_labels_file_is_exit_2_naming_each_line(small_dataset, tmp_path, content, problems):
    output, name = small_dataset
    labels = tmp_path / "labels.csv"
    labels.write_text(content)
    numbers = tmp_path / "calibration.json"
    result = run("calibrate", name, "--output-dir", str(output), "--labels", str(labels), "--json", str(numbers))
    assert result.exit_code == 2
    lines = result.output.splitlines()
    assert len(lines) == len(problems)
    for line, problem in zip(lines, problems, strict=True):
        assert line.startswith(str(tmp_path / problem.split(":", 1)[0]) + ":" + problem.split(":", 1)[1])
    assert not numbers.exists()


def test_no_marks_or_no_dataset_is_exit_2_saying_how_to_get_marks(small_dataset, tmp_path):
    output, name = small_dataset
    result = run("calibrate", name, "--output-dir", str(output))
    assert result.exit_code == 2
    assert f"{name}@v1: no SME marks" in result.output and "--labels FILE" in result.output
    assert "review serve" in result.output
    missing = run("calibrate", "nope", "--output-dir", str(output))
    assert missing.exit_code == 2 and "dataset 'nope' has no versions" in missing.output
    assert run("calibrate", name, "--output-dir", str(output), "--labels", str(tmp_path / "x.csv")).exit_code == 2
