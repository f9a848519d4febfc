"""`revalidate --judge-batch`: the judge requests go to Bedrock batch inference (a stand-in on 127.0.0.1 speaking
the control plane as botocore does, checked against botocore's model) through S3 (moto's server), and the new
version equals what on-demand judging makes with the same simulated judge behind Converse."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agents.simulated.batch_server import BatchStandIn, serve
from agents.simulated.model import SimSettings
from agents.simulated.servers import SimulatedProvider, start
from store.records import Example
from tests.test_revalidate import TABLE_CRITERION

pytestmark = pytest.mark.slow  # moto's server, three stand-ins and subprocesses: about 2 min

ROOT = Path(__file__).resolve().parents[2]
JUDGE = "bedrock:us.anthropic.claude-haiku-4-5-20251001-v1:0"
ROLE = "arn:aws:iam::123456789012:role/goldsmith-batch"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Aws:
    """moto's S3 server, the Converse stand-in and the batch stand-in, all answered by one simulated provider."""

    def __init__(self, tmp_path: Path, monkeypatch, **batch_options):
        import boto3
        from moto.server import ThreadedMotoServer

        self.moto = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
        self.moto.start()
        self.s3_url = f"http://127.0.0.1:{self.moto._port}"
        self.env = {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL_S3": self.s3_url,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        for key, value in self.env.items():
            monkeypatch.setenv(key, value)
        self.s3 = boto3.client("s3", endpoint_url=self.s3_url, region_name="us-east-1")
        self.s3.create_bucket(Bucket="judging")
        self.provider = SimulatedProvider.for_domain("kyc", SimSettings(seed=0, defect_rate=0.0), seed=7)
        self.converse = start("converse", self.provider)
        self.batch = BatchStandIn(self.provider, self.s3, **batch_options)
        self.control = serve(self.batch)
        self.env["AWS_ENDPOINT_URL_BEDROCK"] = f"http://127.0.0.1:{self.control.server_port}"
        monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK", self.env["AWS_ENDPOINT_URL_BEDROCK"])
        self.config = tmp_path / "goldsmith.yaml"
        self.write_config()

    def write_config(self, **batch) -> None:
        settings = {"s3_uri": "s3://judging/goldsmith", "role_arn": ROLE, "poll_s": 0.05, "min_records": 1, **batch}
        self.config.write_text(json.dumps({"models": {"critic": [JUDGE]}, "batch": settings}))

    @property
    def endpoint(self) -> tuple[str, str]:
        return ("--endpoint-url", f"http://127.0.0.1:{self.converse.server_port}")

    def close(self) -> None:
        self.converse.shutdown()
        self.control.shutdown()
        self.moto.stop()


@pytest.fixture
def aws(tmp_path, monkeypatch):
    made = []

    def make(**options) -> Aws:
        made.append(Aws(tmp_path, monkeypatch, **options))
        return made[-1]

    yield make
    for each in made:
        each.close()


@pytest.fixture
def two_copies(cli, tmp_path) -> tuple[Path, Path]:
    """The same 12-example kyc dataset in two output directories."""
    a = tmp_path / "a"
    assert cli("generate", "--count", "12", "--seed", "4", output_dir=a).exit_code == 0
    b = tmp_path / "b"
    shutil.copytree(a, b)
    return a, b


def revalidate(cli, out: Path, aws: Aws, *extra: str):
    rubric = str(ROOT / "rubrics" / "kyc.yaml")
    return cli("revalidate", "kyc", "--rubric", rubric, "--config", str(aws.config), *aws.endpoint, *extra,
               output_dir=out)  # fmt: skip


def version(out: Path, number: int) -> list[Example]:
    from store.dataset import Dataset

    dataset = Dataset(out, "kyc")
    return list(dataset.records(dataset.manifest(number)))


def revalidation_summary(out: Path) -> dict:
    summaries = [json.loads(p.read_text()) for p in (out / "kyc" / "runs").glob("*/summary.json")]
    return next(s for s in summaries if "from_version" in s)


def input_lines(aws: Aws) -> list[dict]:
    keys = [o["Key"] for o in aws.s3.list_objects_v2(Bucket="judging")["Contents"] if o["Key"].endswith("input.jsonl")]
    return [json.loads(line) for k in keys for line in aws.s3.get_object(Bucket="judging", Key=k)["Body"].iter_lines()]


def test_batch_judging_makes_the_version_on_demand_judging_makes(cli, two_copies, aws):
    on_demand, batched = two_copies
    stand = aws(error_every=4)
    assert revalidate(cli, on_demand, stand).exit_code == 0
    before = stand.provider.counts["answered"]

    result = revalidate(cli, batched, stand, "--judge-batch")
    assert result.exit_code == 0, result.output
    assert version(batched, 2) == version(on_demand, 2)

    lines = input_lines(stand)
    assert len(stand.batch.creates) == 1 and len(lines) == len({line["recordId"] for line in lines})
    assert all(line["modelInput"]["toolConfig"]["toolChoice"] == {"tool": {"name": "JudgeVerdict"}} for line in lines)
    assert not any("cachePoint" in json.dumps(line) for line in lines)
    errored = len(lines) // 4
    # on demand: the preflight ping, then the errored records and nothing else
    assert stand.provider.counts["answered"] - before == 1 + errored
    summary = revalidation_summary(batched)
    assert summary["batch"]["requests"] == len(lines) and summary["batch"]["errored"] == errored
    assert summary["batch"]["answered"] == len(lines) - errored and summary["batch"]["on_demand"] == errored
    assert summary["batch"]["job_status"] == {"us-anthropic-claude-haiku-4-5-20251001-v-1": "PartiallyCompleted"}
    assert summary["batch"]["tokens"]["input"] > 0 and summary["batch"]["cost_usd"] > 0
    assert "requests by batch in 1 job" in result.output and f"{errored} judged on demand" in result.output


def command(out: Path, aws: Aws, *extra: str) -> list[str]:
    rubric = str(ROOT / "rubrics" / "kyc.yaml")
    return [sys.executable, str(ROOT / "main.py"), "revalidate", "kyc", "--rubric", rubric, "--config",
            str(aws.config), *aws.endpoint, "--output-dir", str(out), "--judge-batch", *extra]  # fmt: skip


def test_killed_after_submission_and_started_again_it_submits_nothing_new(cli, two_copies, aws):
    on_demand, batched = two_copies
    stand = aws(hold=True)
    assert revalidate(cli, on_demand, stand).exit_code == 0
    env = {**os.environ, **stand.env}
    first = subprocess.Popen(command(batched, stand, "--run-id", "batch-run"), env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 120
    while not stand.batch.creates and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.1)
    assert len(stand.batch.creates) == 1, "the job was never submitted"
    journal = batched / "kyc" / "runs" / "batch-run" / "batch-jobs.json"
    while not journal.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert not (batched / "kyc" / "versions" / "v0002.json").exists()
    stand.batch.release()  # the job ends while nothing watches

    again = subprocess.run(command(batched, stand, "--run-id", "batch-run"), env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert len(stand.batch.creates) == 1 and len(stand.batch.jobs) == 1
    assert version(batched, 2) == version(on_demand, 2)
    verify = subprocess.run([sys.executable, str(ROOT / "main.py"), "dataset", "verify", "kyc", "--output-dir",
                             str(batched)], capture_output=True, text=True)  # fmt: skip
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_a_journal_is_a_hint_not_trusted(cli, two_copies, aws):
    """A journal naming another job (or another run's) is checked against the service and not used."""
    _, batched = two_copies
    stand = aws()
    assert revalidate(cli, batched, stand, "--judge-batch", "--run-id", "one").exit_code == 0
    journal = json.loads((batched / "kyc" / "runs" / "one" / "batch-jobs.json").read_text())
    forged = batched / "kyc" / "runs" / "two" / "batch-jobs.json"
    forged.parent.mkdir(parents=True)
    forged.write_text(json.dumps(journal))  # run one's job, claimed by run two
    assert revalidate(cli, batched, stand, "--judge-batch", "--run-id", "two").exit_code == 0
    assert len(stand.batch.creates) == 2
    tokens = {c["clientRequestToken"] for c in stand.batch.creates}
    assert len(tokens) == 2


def test_no_fallback_reports_what_the_batch_did_not_judge(cli, two_copies, aws):
    _, batched = two_copies
    stand = aws(error_every=3)
    result = revalidate(cli, batched, stand, "--judge-batch", "--no-fallback")
    assert result.exit_code == 1
    assert "could not be judged" in result.output and "--no-fallback" in result.output
    assert not (batched / "kyc" / "versions" / "v0002.json").exists()


def test_too_few_requests_for_a_job_are_judged_on_demand(cli, two_copies, aws):
    _, batched = two_copies
    stand = aws()
    stand.write_config(min_records=100)
    result = revalidate(cli, batched, stand, "--judge-batch")
    assert result.exit_code == 0, result.output
    assert not stand.batch.creates
    assert "fewer than a job's minimum of 100" in result.output


def test_the_budget_is_checked_before_anything_is_submitted(cli, two_copies, aws):
    _, batched = two_copies
    stand = aws()
    result = revalidate(cli, batched, stand, "--judge-batch", "--budget-usd", "0.0001")
    assert result.exit_code == 2 and "nothing was submitted" in result.output
    assert not stand.batch.creates


def test_batch_settings_are_required(cli, two_copies, aws, tmp_path):
    _, batched = two_copies
    stand = aws()
    stand.config.write_text(json.dumps({"models": {"critic": [JUDGE]}}))
    result = revalidate(cli, batched, stand, "--judge-batch")
    assert result.exit_code == 2 and "batch.s3_uri and batch.role_arn" in result.output
    simulated = tmp_path / "sim.yaml"
    simulated.write_text("models: {critic: simulated}\n")
    result = cli("revalidate", "kyc", "--rubric", str(ROOT / "rubrics" / "kyc.yaml"), "--config", str(simulated),
                 "--judge-batch", output_dir=batched)  # fmt: skip
    assert result.exit_code == 2 and "batch inference is Bedrock's" in result.output


def test_evaluate_with_a_batch_judge_scores_as_on_demand_judging_does(cli, two_copies, aws, tmp_path):
    from evaluation.results import read_results

    goldens, _ = two_copies
    stand = aws(error_every=5)

    def evaluate(out: Path, *extra: str):
        agents = ("--agent", "sim", "--agent", "sim:defect=0.5")
        where = ("--output-dir", str(goldens), "--out", str(out))
        result = cli("evaluate", "kyc", *agents, "--judge", JUDGE, "--config", str(stand.config), *stand.endpoint,
                     *where, *extra)  # fmt: skip
        assert result.exit_code == 0, result.output
        return result, {(r.golden_id, r.candidate): r for r in read_results(out / "results.jsonl")}

    _, on_demand = evaluate(tmp_path / "on-demand")
    result, batched = evaluate(tmp_path / "batched", "--judge-batch")
    assert len(stand.batch.creates) == 1 and len(batched) == len(on_demand) == 24
    keep = ("passed", "score", "failed_criteria", "judged", "verdict_correct", "tool_f1", "answer")
    for key, expected in on_demand.items():
        assert batched[key].model_dump(include=set(keep)) == expected.model_dump(include=set(keep)), key
    assert any(not r.passed for r in batched.values()) and any(r.passed for r in batched.values())
    summary = json.loads((tmp_path / "batched" / "summary.json").read_text())
    stats = summary["judge_batch"]
    assert stats["answered"] + stats["errored"] == stats["requests"] < 24  # the same request twice is sent once
    assert stats["on_demand"] >= stats["errored"] > 0  # an errored request made by both candidates: judged twice
    assert "requests by batch in 1 job" in result.output


def test_repair_rounds_are_judged_on_demand_even_without_fallback(cli, two_copies, aws, tmp_path):
    """Only the first round goes to the batch: a repair's judge request (with the previous attempt) is on demand."""
    _, batched = two_copies
    stand = aws()
    tightened = tmp_path / "tight.yaml"
    tightened.write_text((ROOT / "rubrics" / "kyc.yaml").read_text() + TABLE_CRITERION)
    before = stand.provider.counts["answered"]
    result = cli("revalidate", "kyc", "--rubric", str(tightened), "--config", str(stand.config), *stand.endpoint,
                 "--judge-batch", "--no-fallback", "--repair", output_dir=batched)  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = revalidation_summary(batched)
    assert summary["repaired"] + summary["removed"] > 0 and summary["batch"]["on_demand"] == 0
    assert stand.provider.counts["answered"] - before > 1  # the repairs' judge calls, besides the preflight


def test_evaluate_killed_after_submission_asks_no_candidate_again(cli, two_copies, aws, tmp_path):
    """The answers are kept in OUT/answers.jsonl as they come: started again, the evaluation reads them back,
    submits nothing new, and scores what the job returned."""
    goldens, _ = two_copies
    stand = aws(hold=True)
    out = tmp_path / "ev"
    command = [sys.executable, str(ROOT / "main.py"), "evaluate", "kyc", "--agent", "sim", "--agent", "sim:defect=0.5",
               "--judge", JUDGE, "--config", str(stand.config), *stand.endpoint, "--output-dir", str(goldens),
               "--out", str(out), "--judge-batch"]  # fmt: skip
    env = {**os.environ, **stand.env}
    first = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (out / "batch-jobs.json").exists() and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.1)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert len(stand.batch.creates) == 1 and not (out / "results.jsonl").exists()
    answers = (out / "answers.jsonl").read_text().splitlines()
    assert len(answers) == 24
    stand.batch.release()

    again = subprocess.run(command, env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(stand.batch.creates) == 1
    assert (out / "answers.jsonl").read_text().splitlines() == answers  # no candidate was asked again
    assert len((out / "results.jsonl").read_text().splitlines()) == 24
