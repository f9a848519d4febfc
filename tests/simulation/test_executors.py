"""Where a job's work is done: worker processes (`--workers N`) and Ray actors (`--executor ray`) give the dataset
(and the re-validation, and the evaluation) the job's own process gives for the same seed, share one screening and
one set of rate limits, and lose nothing when a worker is killed mid-run."""

import asyncio
import json
import os
import shutil
import signal
from pathlib import Path

import pytest

from agents.ratelimit import RateLimiter
from simulation.coordinator import Coordinator
from simulation.runner import Run, RunConfig
from store.dataset import Dataset
from store.dedup import PromptIndex


def records(output: Path, name: str) -> list[dict]:
    """A dataset's records without what differs between two runs of the same seed (run id, time, dataset name)."""
    dataset = Dataset(output, name)
    found = []
    for record in dataset.records(dataset.manifest()):
        data = record.model_dump(mode="json")
        data["dataset"] = None
        data["provenance"].pop("run_id")
        data["provenance"].pop("created_at")
        found.append(data)
    return sorted(found, key=lambda r: r["id"])


def processes(title: str) -> list[int]:
    """Pids of this machine's processes whose command line starts with `title`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if cmdline.startswith(title) or f" {title}" in cmdline:
                found.append(int(entry.name))
    return found


def workers_of(pid: int) -> list[int]:
    """The worker processes (multiprocessing spawn children) of process `pid`."""
    children = []
    for child in processes("spawn_main"):
        stat = Path(f"/proc/{child}/stat").read_text()
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            children.append(child)
    return children


def generate(output: Path, name: str, on_result=lambda episode: None, **options) -> Run:
    config = RunConfig(dataset=name, output_dir=str(output), count=24, seed=5, concurrency=8, **options)
    run = Run(config)
    summary = run.execute(on_result)
    assert summary.accepted >= 20, summary
    return run


def test_worker_processes_give_the_dataset_one_process_gives(tmp_path):
    generate(tmp_path, "one")
    run = generate(tmp_path, "two", workers=2)
    assert records(tmp_path, "two") == records(tmp_path, "one")
    stats = run.lineup.meters["simulated"].stats
    assert stats.calls > 24 and stats.tokens.input > 0  # the workers' usage reached the run's meters
    summary = json.loads(next((tmp_path / "two" / "runs").glob("*/summary.json")).read_text())
    assert summary["models"] and summary["model_stats"]["simulated"]["calls"] == stats.calls


def test_a_killed_worker_process_loses_nothing(tmp_path):
    generate(tmp_path, "one", sim_latency_ms=20)
    killed: list[int] = []

    def kill_one(episode) -> None:
        if not killed:
            (victim, *_) = workers_of(os.getpid())
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

    generate(tmp_path, "two", on_result=kill_one, workers=2, sim_latency_ms=20)
    assert killed and not Path(f"/proc/{killed[0]}").exists()
    assert records(tmp_path, "two") == records(tmp_path, "one")
    dataset = Dataset(tmp_path, "two")
    dataset.check(dataset.manifest())  # raises on a damaged version


def test_every_call_of_every_worker_takes_its_permit_from_the_run(tmp_path):
    """Rate limits hold across workers: the run's one limiter per model counts every call the workers make."""

    class Counting(RateLimiter):
        permits = 0

        async def acquire(self, tokens: int = 0) -> None:
            Counting.permits += 1
            await super().acquire(tokens)

    from agents.settings import ModelSettings

    config = RunConfig(
        dataset="limited", output_dir=str(tmp_path), count=12, seed=5, concurrency=4, workers=2,
        models=ModelSettings.model_validate({"default_limit": {"rpm": 100_000}}),
    )  # fmt: skip
    run = Run(config)
    meter = run.lineup.meters["simulated"]
    meter.limiter = Counting(rpm=100_000)
    run.execute()
    assert meter.stats.calls > 12 and Counting.permits == meter.stats.calls


def test_requests_are_screened_in_case_order_whatever_order_they_arrive_in():
    index = PromptIndex()
    coordinator = Coordinator(index, key=lambda prompt: f"k-{prompt}", limiters={})
    order: list[int] = []

    async def screen(number: int, prompt: str, delay: float) -> str | None:
        await asyncio.sleep(delay)
        answer = await coordinator.screen(number, prompt)
        order.append(number)
        return answer

    async def main() -> list[str | None]:
        # episode 1 is resumed past screening (released); 3 and 2 ask first, 0 last: the same request wins as 0
        coordinator.release(1)
        same = "Is customer C-104 structuring cash deposits?"
        return await asyncio.gather(screen(0, same, 0.03), screen(2, "a different request", 0.0), screen(3, same, 0.01))

    answers = asyncio.run(main())
    assert order == [0, 2, 3] and answers == [None, None, "duplicate"]
    # a retried episode (its worker killed after screening) gets the answer it had, not "duplicate" of itself
    assert asyncio.run(coordinator.screen(0, "Is customer C-104 structuring cash deposits?")) is None
    coordinator.release(0)
    assert coordinator.through == 3 and not coordinator.answers.keys() - {2, 3}


def test_workers_default_to_one_per_32_in_flight_at_most_the_cores(monkeypatch):
    import simulation.workers

    monkeypatch.setattr(simulation.workers, "cores", lambda: 4)
    assert [RunConfig(concurrency=c).worker_count for c in (1, 32, 33, 64, 96, 500)] == [1, 1, 2, 2, 3, 4]
    assert RunConfig(concurrency=500, executor="ray").worker_count == 16  # a cluster's cores are Ray's to know
    assert RunConfig(concurrency=500, workers=1).worker_count == 1 and not RunConfig(concurrency=32).pooled


def test_ray_address_without_ray_executor_is_an_input_error(cli):
    result = cli("generate", "--ray-address", "127.0.0.1:6379")
    assert result.exit_code == 2 and "--ray-address" in result.output and "--executor ray" in result.output


@pytest.fixture
def tightened(tmp_path) -> Path:
    """The kyc rubric with a criterion the stored suspicious answers fail: a re-validation removes or repairs them."""
    from tests.test_revalidate import ROOT, TABLE_CRITERION

    path = tmp_path / "kyc-tight.yaml"
    path.write_text((ROOT / "rubrics" / "kyc.yaml").read_text() + TABLE_CRITERION)
    return path


def revalidated_and_evaluated(cli, tmp_path: Path, label: str, tightened: Path, *where: str) -> tuple[list, dict]:
    """Re-validate (with repairs) a copy of the `base` dataset, and evaluate its first version with two candidates,
    `where` the work is done: the new version's records and the results, without what differs between runs."""
    output = tmp_path / label
    shutil.copytree(tmp_path / "base", output)
    result = cli("revalidate", "kyc", "--rubric", str(tightened), "--repair", *where, output_dir=output)
    assert result.exit_code == 0, result.output
    out = tmp_path / f"eval-{label}"
    args = ["evaluate", "kyc@v1", "--output-dir", str(output), "--out", str(out), "--agent", "sim:defect=0.5"]
    result = cli(*args, "--agent", "baseline:majority", *where)
    assert result.exit_code == 0, result.output
    results = {}
    for line in (out / "results.jsonl").read_text().splitlines():
        data = json.loads(line)
        data.pop("latency_s")
        results[data["golden_id"], data["candidate"]] = data
    return records(output, "kyc"), results


def test_revalidate_and_evaluate_on_worker_processes_give_what_one_process_gives(cli, tmp_path, tightened):
    assert cli("generate", "--count", "16", "--seed", "5", output_dir=tmp_path / "base").exit_code == 0
    here = revalidated_and_evaluated(cli, tmp_path, "here", tightened)
    assert here == revalidated_and_evaluated(cli, tmp_path, "workers", tightened, "--workers", "2")
    kept, results = here
    assert len(kept) > 0 and len(results) == 2 * 16  # something re-judged, every golden scored by both
    repaired = [r for r in kept if r["critique"]["rounds"] > 1]
    assert repaired and {r["passed"] for r in results.values()} == {True, False}


def test_judge_batch_with_workers_is_an_input_error(cli):
    result = cli("revalidate", "kyc", "--rubric", "rubrics/kyc.yaml", "--judge-batch", "--workers", "2")
    assert result.exit_code == 2 and "--judge-batch" in result.output and "--workers" in result.output
    result = cli("evaluate", "kyc", "--agent", "sim", "--out", "x", "--judge-batch", "--executor", "ray")
    assert result.exit_code == 2 and "--judge-batch" in result.output


def ray_or_skip():
    """Ray, or a skip without the ray extra (unless GOLDSMITH_RAY=required, set by .ci/run: then a failure)."""
    if os.environ.get("GOLDSMITH_RAY") == "required":
        import ray

        return ray
    return pytest.importorskip("ray")


@pytest.mark.slow  # ~40 s: a local Ray instance, two actors, one killed and restarted
def test_ray_executor_survives_a_killed_actor_and_gives_the_local_dataset(tmp_path, cli):
    ray = ray_or_skip()
    generate(tmp_path, "local", sim_latency_ms=50)
    killed: list[int] = []

    def kill_one(episode) -> None:
        if not killed:
            (victim, *_) = processes("ray::WorkerActor")
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

    generate(tmp_path, "ray", on_result=kill_one, executor="ray", workers=2, sim_latency_ms=50)
    assert killed and not ray.is_initialized()  # the run stopped the Ray instance it started
    assert records(tmp_path, "ray") == records(tmp_path, "local")
    result = cli("dataset", "verify", "ray", output_dir=tmp_path)
    assert result.exit_code == 0, result.output


@pytest.mark.slow  # ~40 s: two local Ray instances (one per command), two actors each
def test_revalidate_and_evaluate_on_ray_give_what_one_process_gives(cli, tmp_path, tightened):
    ray = ray_or_skip()
    assert cli("generate", "--count", "16", "--seed", "5", output_dir=tmp_path / "base").exit_code == 0
    here = revalidated_and_evaluated(cli, tmp_path, "here", tightened)
    assert here == revalidated_and_evaluated(cli, tmp_path, "ray", tightened, "--executor", "ray", "--workers", "2")
    assert not ray.is_initialized()
