"""Runs survive interruption: checkpoints per stage, resume with --run-id, each accepted example committed once,
Ctrl-C once (finish and commit) or twice (stop now), and two writers on one dataset."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agents.user_simulator import UserSimulator
from simulation.episode import Episode
from simulation.runner import Run, RunConfig
from store.dataset import Dataset
from store.history import verify
from store.journal import RunJournal

ROOT = Path(__file__).resolve().parent.parent


def config(out: Path, **fields) -> RunConfig:
    return RunConfig(output_dir=str(out), count=6, seed=4, run_id="r1", **fields)


def checkpoints(out: Path, run_id: str = "r1") -> dict[int, Episode]:
    return RunJournal(Dataset(out, "kyc"), run_id).load(Episode)


def test_every_stage_is_checkpointed_and_a_finished_run_resumes_to_nothing_new(tmp_path):
    out = tmp_path / "output"
    first = Run(config(out)).execute()
    states = checkpoints(out)
    assert sorted(states) == list(range(6)) and all(s.finished for s in states.values())
    assert sum(s.status == "accepted" for s in states.values()) == first.accepted == first.added > 0
    again = Run(config(out)).execute()
    assert (again.version, again.added, again.committed_before, again.resumed) == (None, 0, first.added, 6)
    assert Dataset(out, "kyc").versions() == [1]


def test_an_interrupted_episode_continues_from_its_last_stage(tmp_path, monkeypatch):
    out = tmp_path / "output"
    Run(config(out)).execute()
    dataset = Dataset(out, "kyc")
    journal = RunJournal(dataset, "r1")
    done = journal.load(Episode)[2]
    # as if killed after the first attempt was checkpointed, before its critique and before any commit
    journal.save(
        2,
        done.model_copy(
            update={"status": "in_progress", "critiques": [], "example": None, "attempts": done.attempts[:1]}
        ),
    )
    for version in dataset.versions():
        (out / "kyc" / "versions" / f"v{version:04d}.json").unlink()

    async def no_new_request(*args, **kwargs):
        raise AssertionError("the request stage was checkpointed; it must not run again")

    monkeypatch.setattr(UserSimulator, "request", no_new_request)
    summary = Run(config(out)).execute()
    resumed = checkpoints(out)[2]
    assert resumed.finished and resumed.prompt == done.prompt and resumed.attempts[0] == done.attempts[0]
    assert summary.resumed == 6 and summary.episodes == 6
    records = list(dataset.records(dataset.latest()))
    assert (
        len(records) == len({r.id for r in records}) == sum(s.status == "accepted" for s in checkpoints(out).values())
    )


def test_a_resumed_run_keeps_its_plan(cli, tmp_path):
    assert cli("generate", "--count", "2", "--seed", "4", "--run-id", "r1").exit_code == 0
    result = cli("generate", "--count", "3", "--run-id", "r1")
    assert result.exit_code == 2
    assert result.output == (
        "--count: run r1 was started with 2; a resumed run keeps its plan (leave the option out, or start a new run)\n"
    )
    resumed = cli("generate", "--run-id", "r1", "--concurrency", "1")
    assert resumed.exit_code == 0 and "resuming run r1 (2 of 2 done)" in resumed.output


def test_a_resumed_run_refuses_a_changed_rubric(cli, tmp_path):
    rubric = tmp_path / "kyc.yaml"
    rubric.write_text((ROOT / "rubrics" / "kyc.yaml").read_text())
    assert cli("generate", "--count", "1", "--seed", "4", "--run-id", "r1", "--rubric", str(rubric)).exit_code == 0
    rubric.write_text(rubric.read_text() + "\n# edited\n")
    result = cli("generate", "--run-id", "r1", "--rubric", str(rubric))
    assert result.exit_code == 2 and "not the rubric run r1 started with" in result.output


def generate(out: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "main.py", "generate", "--output-dir", str(out), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for_episodes(out: Path, run_id: str, n: int) -> None:
    folder = out / "kyc" / "runs" / run_id / "episodes"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(folder.glob("*.json"))) < n:
        time.sleep(0.05)


def test_ctrl_c_once_finishes_in_flight_episodes_and_commits_them(tmp_path):
    out = tmp_path / "output"
    proc = generate(
        out, "--count", "400", "--seed", "1", "--sim-latency-ms", "30", "--concurrency", "2", "--run-id", "c1"
    )
    wait_for_episodes(out, "c1", 6)
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output
    summary = json.loads((out / "kyc" / "runs" / "c1" / "summary.json").read_text())
    states = checkpoints(out, "c1")
    assert summary["interrupted"] and 0 < summary["episodes"] < 400
    assert all(s.finished for s in states.values()), "in-flight episodes are finished, not abandoned"
    assert summary["added"] == sum(s.status == "accepted" for s in states.values()) > 0
    assert Dataset(out, "kyc").latest().records == summary["added"]


def test_ctrl_c_twice_stops_now_and_the_run_resumes(tmp_path):
    out = tmp_path / "output"
    proc = generate(out, "--count", "40", "--seed", "1", "--sim-latency-ms", "40", "--run-id", "c2")
    wait_for_episodes(out, "c2", 4)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "resume with --run-id c2" in output, output
    assert Dataset(out, "kyc").versions() == []
    assert any(not s.finished for s in checkpoints(out, "c2").values()), "stopped mid-episode, checkpoints kept"
    resumed = generate(out, "--run-id", "c2")
    output, _ = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, output
    states = checkpoints(out, "c2")
    assert len(states) == 40 and all(s.finished for s in states.values())
    dataset = Dataset(out, "kyc")
    assert dataset.latest().records == sum(s.status == "accepted" for s in states.values())
    assert verify(dataset)[1] == []


def test_two_concurrent_writers_both_land_as_consecutive_versions(tmp_path):
    out = tmp_path / "output"
    procs = [generate(out, "--count", "12", "--seed", str(seed), "--run-id", f"w{seed}") for seed in (1, 2)]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    dataset = Dataset(out, "kyc")
    manifests = [dataset.manifest(v) for v in dataset.versions()]
    assert [(m.version, m.parent) for m in manifests] == [(1, None), (2, 1)]
    assert {m.run_id for m in manifests} == {"w1", "w2"}
    latest = manifests[-1]
    assert dataset.batches(latest) == [manifests[0].own_batch, latest.own_batch]
    ids = [r.id for r in dataset.records(latest)]
    assert len(ids) == len(set(ids)) == latest.records == sum(m.added for m in manifests)
    assert verify(dataset)[1] == []


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_and_duplicates_nothing():
    """bench/crash_resume.py: 3 trials of a 200-episode run, each SIGKILLed at random moments and resumed."""
    from bench.crash_resume import main

    assert main(["--trials", "3", "--episodes", "200", "--kills", "2", "--latency-ms", "20"]) == 0
