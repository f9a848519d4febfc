"""`evaluate`: every golden replayed against each candidate in the dataset's world and scored with its rubric;
results stream to results.jsonl and a killed evaluation resumes without scoring anything twice."""

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from agents.simulated.model import SimSettings
from agents.simulated.servers import SimulatedProvider, start
from config import InputError
from evaluation.candidates import parse_spec
from evaluation.results import read_results

ROOT = Path(__file__).resolve().parents[2]
CANDIDATES = ("sim", "sim:defect=0.5", "baseline:no-tools", "baseline:majority", "baseline:reference")


@pytest.fixture(scope="module")
def goldens(tmp_path_factory):
    """A kyc dataset of 60 goldens (seed 5), generated once for the module."""
    from click.testing import CliRunner

    from main import cli

    out = tmp_path_factory.mktemp("goldens") / "output"
    args = ["generate", "--count", "60", "--seed", "5", "--output-dir", str(out)]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out


def evaluate(cli, goldens: Path, out: Path, *agents: str, extra=()):
    args = ["evaluate", "kyc", "--output-dir", str(goldens), "--out", str(out), *extra]
    for agent in agents:
        args += ["--agent", agent]
    return cli(*args)


def by_candidate(out: Path) -> dict[str, list]:
    grouped = defaultdict(list)
    for result in read_results(out / "results.jsonl"):
        grouped[result.candidate].append(result)
    return grouped


def rate(results, field: str) -> float:
    return sum(bool(getattr(r, field)) for r in results) / len(results)


def test_the_dataset_tells_a_good_agent_from_a_sloppy_one_and_from_shortcuts(cli, goldens, tmp_path):
    out = tmp_path / "ev"
    result = evaluate(cli, goldens, out, *CANDIDATES)
    assert result.exit_code == 0, result.output
    results = by_candidate(out)
    assert {c: len(r) for c, r in results.items()} == dict.fromkeys(CANDIDATES, 60)
    assert rate(results["baseline:reference"], "passed") == 1.0  # the goldens' own answers, scored as a candidate
    assert rate(results["sim"], "passed") >= 0.95
    assert rate(results["sim:defect=0.5"], "passed") <= rate(results["sim"], "passed") - 0.2
    for baseline in ("baseline:no-tools", "baseline:majority"):
        assert rate(results[baseline], "passed") <= 0.1 and rate(results[baseline], "verdict_correct") <= 0.5
        assert all(r.tool_f1 == 0 and r.call_f1 == 0 for r in results[baseline])
    line = json.loads((out / "results.jsonl").read_text().splitlines()[0])
    for field in ("verdict_correct", "evidence_precision", "evidence_recall", "tool_f1", "call_f1", "end_state_match",
                  "judged", "passed", "latency_s", "tokens", "cost_usd"):  # fmt: skip
        assert field in line
    summary = json.loads((out / "summary.json").read_text())
    assert summary and (out / "report.html").stat().st_size > 0
    assert "baseline:majority" in result.output


def test_a_sloppy_candidate_fails_on_what_it_got_wrong(cli, goldens, tmp_path):
    out = tmp_path / "ev"
    assert evaluate(cli, goldens, out, "sim:defect=1", extra=("--limit", "20")).exit_code == 0
    sloppy = by_candidate(out)["sim:defect=1"]
    assert len(sloppy) == 20 and not any(r.passed for r in sloppy)
    reasons = Counter(c for r in sloppy for c in r.failed_criteria)
    assert reasons["verdict_correct"] + reasons["evidence_grounded"] + reasons["right_tools"] > 0


@pytest.mark.slow  # two processes of the CLI, one killed
def test_a_killed_evaluation_resumes_and_scores_nothing_twice(goldens, tmp_path):
    out = tmp_path / "ev"
    command = [sys.executable, str(ROOT / "main.py"), "evaluate", "kyc", "--output-dir", str(goldens), "--out",
               str(out), "--agent", "sim", "--agent", "sim:defect=0.5", "--concurrency", "1"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = out / "results.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not results.exists() or results.read_text().count("\n") < 15):
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    lines = results.read_text().count("\n")
    assert 15 <= lines < 120, "killed mid-run"
    with results.open("a") as handle:  # a line torn by the kill
        handle.write('{"schema_version": 1, "golden_id": "')
    again = subprocess.run(command, env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    keys = [(r["golden_id"], r["candidate"]) for r in map(json.loads, results.read_text().splitlines())]
    assert len(keys) == len(set(keys)) == 120


def test_bad_input_is_one_line_and_exit_2(cli, goldens, tmp_path):
    result = evaluate(cli, goldens, tmp_path / "ev", "sim:defect=2")
    assert result.exit_code == 2 and "--agent sim:defect=2: give sim:defect=R with R between 0 and 1" in result.output
    result = evaluate(cli, goldens, tmp_path / "ev", "baseline:oracle")
    assert result.exit_code == 2 and "unknown baseline; known: baseline:no-tools" in result.output
    result = cli("evaluate", "nope", "--agent", "sim", "--output-dir", str(goldens))
    assert result.exit_code == 2 and "no dataset 'nope'" in result.output
    out = tmp_path / "ev"
    assert evaluate(cli, goldens, out, "baseline:majority", extra=("--limit", "3")).exit_code == 0
    other = evaluate(cli, goldens, out, "baseline:majority", extra=("--judge", "openai:judge", "--limit", "3"))
    assert other.exit_code == 2 and f"{out}: holds an evaluation of kyc@v1" in other.output


def test_candidates_on_one_model_share_its_rate_limit_and_add_up_in_its_stats(goldens, tmp_path):
    """`--rpm` is per model: two candidates on the simulated model take their permits from one limiter, each keeps
    its own calls, and the model's stats add both up, in one process as on worker processes."""
    from agents.settings import Limit, ModelSettings
    from evaluation.run import EvaluateConfig, Evaluation

    def evaluated(label: str, **options) -> Evaluation:
        config = EvaluateConfig(dataset="kyc", agents=["sim", "sim:defect=0.5"], out=tmp_path / label, limit=5,
                                output_dir=str(goldens), models=ModelSettings(default_limit=Limit(rpm=60_000)),
                                **options)  # fmt: skip
        job = Evaluation(config)
        assert len(job.execute()) == 10
        return job

    here = evaluated("here")
    sloppy, careful = here.task_meters["sim:defect=0.5"], here.task_meters["sim"]
    assert sloppy is not careful and sloppy.limiter is careful.limiter
    assert sloppy.stats.calls > 0 and careful.stats.calls > 0
    assert here.model_stats()["simulated"].calls == sloppy.stats.calls + careful.stats.calls
    assert evaluated("workers", workers=2).model_stats()["simulated"].calls == here.model_stats()["simulated"].calls


def test_a_world_that_changed_since_the_dataset_is_refused(cli, goldens, tmp_path, monkeypatch):
    from simulation.domains.kyc import KycDomain

    monkeypatch.setattr(KycDomain, "version", "0-changed")
    result = evaluate(cli, goldens, tmp_path / "ev", "sim")
    assert result.exit_code == 2 and "this Goldsmith has 0-changed, whose world differs" in result.output


@pytest.mark.parametrize("spec", ["sim", "sim:defect=0.25", "openai:qwen", "bedrock:anthropic.x", "pkg.mod:make"])
def test_specs(spec):
    parsed = parse_spec(spec)
    assert parsed.spec == spec and (parsed.defect_rate == 0.25) == (spec == "sim:defect=0.25")
    with pytest.raises(InputError, match="not a candidate"):
        parse_spec("gpt4")


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["openai", "converse"])
def test_real_model_candidates_run_against_the_simulated_servers(cli, goldens, tmp_path, kind):
    provider = SimulatedProvider.for_domain("kyc", SimSettings(seed=0, defect_rate=0.0), seed=7)
    server = start(kind, provider)
    url = f"http://127.0.0.1:{server.server_port}"
    try:
        if kind == "openai":
            spec, extra = "openai:llama-3.3-70b", ("--base-url", f"{url}/v1")
        else:
            spec, extra = "bedrock:us.anthropic.claude-haiku-4-5-20251001-v1:0", ("--endpoint-url", url)
        result = evaluate(cli, goldens, tmp_path / "ev", spec, extra=(*extra, "--limit", "8"))
    finally:
        server.shutdown()
    assert result.exit_code == 0, result.output
    results = by_candidate(tmp_path / "ev")[spec]
    assert len(results) == 8 and not any(r.error for r in results)
    assert rate(results, "passed") >= 0.75 and all(r.tokens.input > 0 for r in results)
    assert provider.counts["answered"] > 8


@pytest.mark.slow
def test_the_crewai_runtime_scores_the_same(cli, goldens, tmp_path):
    for runtime in ("strands", "crewai"):
        extra = ("--runtime", runtime, "--limit", "6")
        assert evaluate(cli, goldens, tmp_path / runtime, "sim", "baseline:majority", extra=extra).exit_code == 0
    strands, crewai = by_candidate(tmp_path / "strands"), by_candidate(tmp_path / "crewai")
    for candidate in ("sim", "baseline:majority"):
        assert sorted((r.golden_id, r.passed) for r in crewai[candidate]) == sorted(
            (r.golden_id, r.passed) for r in strands[candidate]
        )
    assert rate(crewai["sim"], "passed") == 1.0


@pytest.mark.slow
def test_a_candidate_with_the_tools_of_an_mcp_server(cli, goldens, tmp_path):
    from simulation.domains.kyc.world import build_world
    from tests.fixtures.mcp_kyc.process import SERVER
    from tests.fixtures.mcp_kyc.sqlite_world import write_world

    db = tmp_path / "world.sqlite"
    write_world(build_world(1), db)
    spec = f"mcp:{sys.executable} {SERVER} {db}"
    result = evaluate(cli, goldens, tmp_path / "ev", spec, extra=("--limit", "6"))
    assert result.exit_code == 0, result.output
    results = by_candidate(tmp_path / "ev")[spec]
    assert len(results) == 6 and not any(r.error for r in results) and rate(results, "passed") == 1.0
    children = subprocess.run(["ps", "-ww", "-o", "cmd=", "--ppid", str(os.getpid())], capture_output=True, text=True)
    assert str(SERVER) not in children.stdout  # the evaluation stopped the server it started
    bad = evaluate(cli, goldens, tmp_path / "ev2", "mcp:no-such-mcp-server")
    assert bad.exit_code == 2 and "cannot use the MCP server" in bad.output
    # met in a worker process, the same input error
    bad = evaluate(cli, goldens, tmp_path / "ev3", "mcp:no-such-mcp-server", extra=("--workers", "2"))
    assert bad.exit_code == 2 and "cannot use the MCP server" in bad.output
