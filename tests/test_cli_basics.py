"""The command line's basics: --version, the exit codes in --help, a run that accepts nothing, the review
queue command, framework log lines kept off the console, and a resumed run's progress bar."""

import os
import re
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ALL_REJECTED = ("--count", "6", "--seed", "3", "--sim-defect-rate", "1", "--max-rounds", "1")


def test_version(cli):
    result = cli("--version")
    assert result.exit_code == 0
    assert result.output.strip() == f"goldsmith {metadata.version('goldsmith')}"


def test_help_documents_the_exit_codes(cli):
    result = cli("--help")
    assert result.exit_code == 0
    text = result.output
    assert "Exit codes:" in text
    for code, meaning in (("0", "ok"), ("1", "a run failed"), ("2", "bad input"), ("130", "interrupted")):
        assert re.search(rf"^\s+{code}\s+{meaning}", text, re.MULTILINE), (code, text)


def test_a_run_that_accepts_nothing_exits_1_after_the_summary_with_the_reasons(cli, tmp_path):
    result = cli("generate", *ALL_REJECTED)
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert any("review queue" in line for line in lines), "the summary is printed first"
    assert re.fullmatch(
        r"no example accepted: 6 of 6 episodes rejected or failed \(top reasons: \w+ ×\d+.*\); "
        r"see python main\.py dataset queue kyc --output-dir \S+",
        lines[-1],
    ), lines[-1]
    assert not (tmp_path / "output" / "kyc" / "versions").exists()


def test_a_run_that_accepts_something_exits_0(cli):
    result = cli("generate", "--count", "6", "--seed", "3", "--sim-defect-rate", "1", "--max-rounds", "2")
    assert result.exit_code == 0, result.output
    assert "no example accepted" not in result.output


def test_the_review_queue_lists_items_and_shows_one_in_full(cli):
    assert cli("generate", *ALL_REJECTED).exit_code == 1
    listing = cli("dataset", "queue", "kyc")
    assert listing.exit_code == 0, listing.output
    assert listing.output.startswith("kyc: 6 items in the review queue, from 1 run\nrun ")
    assert re.search(r"^\s+1\. episode 0  \w+, rejected: \w+", listing.output, re.MULTILINE), listing.output
    assert "--show N" in listing.output

    shown = cli("dataset", "queue", "kyc", "--show", "2")
    assert shown.exit_code == 0, shown.output
    text = shown.output
    assert text.startswith("item 2 of 6: run ") and ", episode 1 (" in text
    assert "\nrequest:\n  " in text and "\nattempt 1:\n  answer:\n" in text
    assert re.search(r"tool calls \(\d+\):\n    - \w+\(.*\) → success", text), text
    assert re.search(r"critique: failed, score [\d.]+ \(rubric kyc-investigation@\w+\)\n    - \w+ \(\w+, score", text)


def test_the_review_queue_of_a_run_without_rejections_is_empty(cli):
    assert cli("generate", "--count", "3", "--seed", "1", "--sim-defect-rate", "0").exit_code == 0
    result = cli("dataset", "queue", "kyc")
    assert result.exit_code == 0 and result.output.strip() == "kyc: the review queue is empty"


def test_the_review_queue_refuses_an_unknown_dataset_run_or_item(cli):
    assert cli("dataset", "queue", "nope").exit_code == 2
    assert cli("generate", *ALL_REJECTED, "--run-id", "r1").exit_code == 1
    unknown_run = cli("dataset", "queue", "kyc", "--run", "r2")
    assert unknown_run.exit_code == 2 and "runs with items: r1" in unknown_run.output
    too_far = cli("dataset", "queue", "kyc", "--show", "7")
    assert too_far.exit_code == 2 and too_far.output.strip() == "--show: there are 6 items; give a number from 1 to 6"


def test_the_review_queue_on_s3(cli, s3, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # an S3 run's log goes under the temp directory
    where = "s3://goldens/team"
    result = cli("generate", *ALL_REJECTED, "--run-id", "s1", output_dir=where)
    assert result.exit_code == 1 and "dataset queue kyc --output-dir s3://goldens/team" in result.output
    listing = cli("dataset", "queue", "kyc", output_dir=where)
    assert listing.exit_code == 0 and "kyc: 6 items in the review queue" in listing.output, listing.output
    assert cli("dataset", "queue", "kyc", "--show", "6", output_dir=where).output.startswith("item 6 of 6: run s1")


def test_the_summary_names_the_review_queue_command_not_a_cut_path(cli):
    result = cli("generate", *ALL_REJECTED)
    row = next(line for line in result.output.splitlines() if "review queue" in line)
    assert "6 items: python main.py dataset queue kyc" in row and "…" not in result.output.split("review queue")[1]


def test_throttling_log_lines_stay_off_the_console_and_go_to_the_run_log(tmp_path):
    out = tmp_path / "output"
    proc = subprocess.run(
        [sys.executable, "main.py", "generate", "--count", "10", "--seed", "4", "--sim-throttle-rate", "0.5"]
        + ["--output-dir", str(out), "--run-id", "t1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},  # the whole progress line, failures included
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stderr == ""
    for noise in ("Traceback", "WARNING", "ERROR", "strands.", "event loop cycle failed"):  # logger names: strands.
        assert noise not in proc.stdout, noise
    assert re.search(r"10/10 \S+ \d+ retried \(throttled\)", proc.stdout), proc.stdout
    log = (out / "kyc" / "runs" / "t1" / "run.log").read_text()
    assert "strands." in log  # the frameworks log there (throttling retries too, when strands reports them)


def test_after_a_resume_the_progress_bar_and_the_summary_count_the_same(cli):
    args = ("generate", "--count", "10", "--seed", "3", "--sim-defect-rate", "0.5", "--max-rounds", "1")
    first = cli(*args, "--run-id", "r1")
    assert first.exit_code == 0, first.output
    resumed = cli("generate", "--run-id", "r1")
    assert resumed.exit_code == 0, resumed.output
    assert "resuming run r1 (10 of 10 done)" in resumed.output
    for result in (first, resumed):
        bar = re.search(r"^accepted (\d+) · rejected (\d+) .*10/10", result.output, re.MULTILINE)
        table = re.search(r"│ accepted\s+│ (\d+) ", result.output)
        rejected = re.search(r"│ rejected\s+│ (\d+) ", result.output)
        assert bar and table and rejected, result.output
        assert bar.group(1) == table.group(1) != "0" and bar.group(2) == rejected.group(1) != "0"
