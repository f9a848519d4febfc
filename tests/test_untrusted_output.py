"""The output location is data: a resumed run never runs, imports or sends what a file there says, and one
process at a time runs a run id."""

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from store.dataset import Dataset
from store.journal import RunLease

ROOT = Path(__file__).resolve().parent.parent


def plan_file(out: Path, run_id: str = "r1") -> Path:
    return out / "kyc" / "runs" / run_id / "plan.json"


@pytest.fixture
def started(cli, tmp_path) -> Path:
    """A finished two-episode run r1; returns the output directory."""
    assert cli("generate", "--count", "2", "--seed", "4", "--run-id", "r1").exit_code == 0
    return tmp_path / "output"


def test_the_plan_keeps_data_and_digests_only(started):
    plan = json.loads(plan_file(started).read_text())
    assert set(plan) == {"schema_version", "run_id", "data", "rubric_sha256", "executed"}
    assert set(plan["executed"]) == {"models", "endpoints", "mcp", "task_agent", "cases"}
    assert all(len(value) == 64 for value in plan["executed"].values())
    assert plan["data"] == {
        "domain": "kyc",
        "count": 2,
        "seed": 4,
        "world_seed": None,
        "max_rounds": 3,
        "sim_defect_rate": 0.3,
        "judge_mode": "together",
        "runtime": "strands",
        "base_version": 0,
        "paraphrase": False,
    }


def test_an_mcp_command_written_into_the_plan_is_never_run(cli, started, tmp_path):
    marker = tmp_path / "pwned"
    plan = json.loads(plan_file(started).read_text())
    plan["executed"]["mcp"] = "0" * 64
    plan["mcp_server"] = f"sh -c 'touch {marker}'"  # unknown keys are ignored, never used
    plan_file(started).write_text(json.dumps(plan))
    result = cli("generate", "--run-id", "r1")
    assert result.exit_code == 2, result.output
    assert result.output.startswith(
        "run r1: resumed with other settings than it started with (--mcp-server / --mcp-url)"
    )
    assert not marker.exists()


def test_an_old_style_plan_cannot_smuggle_a_command_or_a_factory(cli, started, tmp_path):
    """Plans written before digests held the whole config; its executable values are compared, never used."""
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil_factory.py"
    evil.write_text(f"open({str(marker)!r}, 'w').write('imported')\ndef make(context):\n    return None\n")
    plan = json.loads(plan_file(started).read_text())
    old = {"run_id": "r1", "rubric_sha256": plan["rubric_sha256"], "config": {**plan["data"], "output_dir": "x"}}
    for field, value in (("mcp_server", f"sh -c 'touch {marker}'"), ("task_agent", "evil_factory:make")):
        plan_file(started).write_text(json.dumps({**old, "config": {**old["config"], field: value}}))
        result = cli("generate", "--run-id", "r1")
        assert result.exit_code == 2 and "resumed with other settings" in result.output, result.output
    assert not marker.exists() and "evil_factory" not in sys.modules


class Listener:
    """A TCP listener on 127.0.0.1 that records whatever connects to it."""

    def __init__(self):
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen()
        self.server.settimeout(0.2)
        self.received: list[bytes] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.getsockname()[1]}/v1"

    def serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(1)
                try:
                    self.received.append(conn.recv(65536))
                except OSError:
                    self.received.append(b"")

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.server.close()


def test_a_plan_cannot_send_a_credential_to_an_endpoint_it_names(cli, started, monkeypatch):
    """The attack: point the run's models at a listener and name AWS's secret as the API key variable."""
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "very-secret")
    listener = Listener()
    try:
        old = json.loads(plan_file(started).read_text())
        config = {**old["data"], "models": {"models": {"user": "openai:m", "task": "openai:m", "critic": ["openai:m"]}}}
        config["models"]["openai"] = {"base_url": listener.url, "api_key_env": "AWS_SECRET_ACCESS_KEY"}
        plan_file(started).write_text(
            json.dumps({"run_id": "r1", "rubric_sha256": old["rubric_sha256"], "config": config})
        )
        result = cli("generate", "--run-id", "r1")
        time.sleep(0.3)
    finally:
        listener.close()
    assert result.exit_code == 2 and "--model / --user-model" in result.output, result.output
    assert listener.received == []


def test_a_plan_with_out_of_range_data_is_refused_in_one_line(cli, started):
    plan = json.loads(plan_file(started).read_text())
    plan["data"]["count"] = 10**20
    plan_file(started).write_text(json.dumps(plan))
    result = cli("generate", "--run-id", "r1")
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert result.output.startswith(f"{plan_file(started)}: count: Input should be less than or equal to")


def test_resuming_with_the_same_settings_again_works(cli, started):
    assert cli("generate", "--run-id", "r1").exit_code == 0
    again = cli("generate", "--run-id", "r1", "--model", "simulated", "--sim-defect-rate", "0.3")
    assert again.exit_code == 0 and "resuming run r1 (2 of 2 done)" in again.output


# ---- one process per run id -----------------------------------------------------------------------


def generate(out: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "main.py", "generate", "--output-dir", str(out), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_second_process_on_a_run_id_is_refused_and_a_killed_holder_can_be_resumed(tmp_path):
    out = tmp_path / "out"
    args = ("--count", "40", "--seed", "2", "--run-id", "shared", "--concurrency", "1", "--sim-latency-ms", "100")
    first = generate(out, *args)
    lease = out / "kyc" / "runs" / "shared" / "lease"
    deadline = time.monotonic() + 60
    while not (lease.exists() and any(lease.iterdir())) and time.monotonic() < deadline:
        time.sleep(0.1)
    second = generate(out, "--run-id", "shared")
    _, err = second.communicate(timeout=60)
    assert second.returncode == 2, err
    assert err.startswith(f"run shared is being run by {socket.gethostname()}:{first.pid} since "), err
    assert err.count("\n") == 1
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    resumed = generate(out, "--run-id", "shared", "--sim-latency-ms", "0")
    stdout, err = resumed.communicate(timeout=300)
    assert resumed.returncode in (0, 1), err
    assert "resuming run shared" in stdout
    versions = Dataset(out, "kyc").versions()
    assert len(versions) == 1 and sorted(p.name for p in lease.iterdir()) == ["000001.json", "000002.json"]


def test_a_lease_from_another_machine_holds_until_its_heartbeat_expires(tmp_path):
    dataset = Dataset(tmp_path, "kyc")
    folder = tmp_path / "kyc" / "runs" / "r" / "lease"
    folder.mkdir(parents=True)
    held = {"owner": "elsewhere:1", "token": "t", "since": "2026-12-01T00:00:00Z", "ttl_s": 30, "released": False}
    (folder / "000001.json").write_text(json.dumps({**held, "heartbeat": time.time()}))
    with pytest.raises(Exception, match="run r is being run by elsewhere:1"):
        RunLease(dataset, "r").acquire()
    (folder / "000001.json").write_text(json.dumps({**held, "heartbeat": time.time() - 31}))
    lease = RunLease(dataset, "r", ttl_s=30)
    with lease:
        assert lease.held() and lease.generation == 2
        assert RunLease(dataset, "r").holder().startswith(lease.owner)
    assert RunLease(dataset, "r").holder() is None  # released on exit


def test_the_lease_is_a_compare_and_swap_on_s3_too(s3):
    from store.storage import S3Storage

    dataset = Dataset(S3Storage("goldens", "team", client=s3), "kyc")
    with RunLease(dataset, "r9") as first, pytest.raises(Exception, match=f"run r9 is being run by {first.owner}"):
        RunLease(dataset, "r9").acquire()
    with RunLease(dataset, "r9") as second:  # released: the next generation
        assert second.generation == 2 and second.held()
