"""The CrewAI runtime, bring-your-own task agents and MCP tools, end to end through the CLI."""

import json
import sqlite3
import subprocess
import sys

import pytest

from simulation.domains.kyc.actions import ACTIONS
from simulation.domains.kyc.world import build_world
from store.records import Example
from tests.fixtures.mcp_kyc.process import SERVER, http_server
from tests.fixtures.mcp_kyc.sqlite_world import write_world
from tests.test_generate import ROOT, assert_true_to_the_world, export, review_items

INVESTIGATIONS_WITHOUT_TOOLS = {"out_of_scope"}  # declining is the one answer that needs no tool


def without_provenance(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in {"provenance", "dataset"}} for r in records]


def output_exists(tmp_path) -> bool:
    return (tmp_path / "output").exists()


IMPORTED_CREWAI = """
import sys
from click.testing import CliRunner
from main import cli
for args in (["--help"], ["generate", "--help"], ["generate", "--count", "3", "--seed", "1", *sys.argv[2:]]):
    result = CliRunner().invoke(cli, args + (["--output-dir", sys.argv[1]] if len(args) > 2 else []))
    assert result.exit_code == 0, result.output
print(sorted(m for m in sys.modules if m.split(".")[0] == "crewai"))
"""


@pytest.mark.parametrize("runtime", ["strands", "crewai"])
def test_help_and_the_strands_runtime_never_import_crewai(tmp_path, runtime):
    out = subprocess.run(
        [sys.executable, "-c", IMPORTED_CREWAI, str(tmp_path / "output"), "--runtime", runtime],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    imported = json.loads(out.stdout.strip().splitlines()[-1].replace("'", '"'))
    if runtime == "strands":
        assert imported == []
    else:  # the check can see CrewAI when it is imported
        assert "crewai" in imported


def test_crewai_runtime_gives_the_records_the_strands_runtime_gives(cli, tmp_path):
    """The same roles, tools, policies and seed through CrewAI's own agent loop: the same examples."""
    assert cli("generate", "--count", "10", "--seed", "3", "--dataset", "s").exit_code == 0
    result = cli("generate", "--count", "10", "--seed", "3", "--dataset", "c", "--runtime", "crewai")
    assert result.exit_code == 0, result.output
    strands, crewai = export(cli, tmp_path, "s"), export(cli, tmp_path, "c")
    assert len(crewai) >= 8 and without_provenance(crewai) == without_provenance(strands)
    talks = [r for r in crewai if r["scenario"]]  # conversations too: the user simulator's turns through CrewAI
    assert talks and all(len(r["conversation"]) >= 4 for r in talks)
    for raw in crewai:
        record = Example.model_validate(raw)
        assert record.provenance.runtime == "crewai" and record.provenance.tokens.input > 0
        assert record.category in INVESTIGATIONS_WITHOUT_TOOLS or record.tool_trace
    assert {r["provenance"]["runtime"] for r in strands} == {"strands"}
    summary = json.loads(next((tmp_path / "output" / "c" / "runs").glob("*/summary.json")).read_text())
    assert summary["model_stats"]["simulated"]["calls"] > 20 and summary["tool_call_f1"]["accepted"]["mean"] == 1.0


@pytest.mark.parametrize(
    "option, message",
    [
        (["--sim-throttle-rate", "0.2"], "--sim-throttle-rate: simulated only on the strands runtime"),
        (["--sim-malformed-rate", "0.2"], "--sim-malformed-rate: simulated only on the strands runtime"),
        (["--rpm", "30"], "--rpm / --tpm (or goldsmith.yaml limits): client-side rate limits apply on the strands"),
    ],
)
def test_options_the_crewai_runtime_cannot_honour_exit_2(cli, tmp_path, option, message):
    result = cli("generate", "--runtime", "crewai", "--count", "2", *option)
    assert result.exit_code == 2 and result.output.startswith(message) and not output_exists(tmp_path)


def test_crewai_runtime_without_crewai_installed_exits_2(cli, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "crewai", None)  # what `import crewai` meets when it is not installed
    monkeypatch.delitem(sys.modules, "agents.crewai_runtime", raising=False)
    result = cli("generate", "--runtime", "crewai", "--count", "2")
    assert result.exit_code == 2
    assert result.output == "--runtime crewai: crewai is not installed; pip install 'goldsmith[crewai]'\n"
    assert not output_exists(tmp_path)


# ---- bring your own task agent --------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["examples.strands_agent:build_agent", "examples.crewai_crew:build_crew"])
def test_example_task_agents_produce_a_dataset_revising_on_feedback(cli, tmp_path, target):
    """Every first draft carries a planted defect: an example is accepted only if the critic's feedback reached
    the user's agent and it revised. Half the revisions carry a defect too, so some episodes end in the review
    queue after their third critique."""
    result = cli(
        "generate", "--task-agent", target, "--count", "8", "--seed", "3", "--sim-defect-rate", "1", "--max-rounds", "3"
    )
    assert result.exit_code == 0, result.output
    records = [Example.model_validate(r) for r in export(cli, tmp_path, "kyc")]
    items = review_items(tmp_path)
    assert len(records) >= 4 and len(records) + len(items) == 8
    assert all(i.status == "rejected" and len(i.critiques) == 3 for i in items)
    assert_true_to_the_world(records)
    for record in records:
        assert record.provenance.models["task_agent"] == target and record.provenance.runtime == "strands"
        assert record.critique.rounds >= 2 and record.critique.comparison is not None
        assert record.category in INVESTIGATIONS_WITHOUT_TOOLS or record.tool_trace
        called, expected = {t.name for t in record.tool_trace} - ACTIONS, {c.name for c in record.expected_tool_calls}
        assert expected <= called <= expected | {c.name for c in record.allowed_tool_calls}
        assert record.end_state == record.expected_end_state  # the action tools reach the user's agent too
    assert any(record.expected_actions for record in records)


@pytest.mark.parametrize(
    "target, message",
    [
        ("examples.strands_agent", "--task-agent: 'examples.strands_agent': expected package.module:factory"),
        ("no_such_package.agents:build", "--task-agent: cannot import no_such_package.agents: No module named"),
        ("examples.strands_agent:missing", "--task-agent: examples.strands_agent has no callable 'missing'"),
        ("json:dumps", "--task-agent: json:dumps(context) raised TypeError: Object of type TaskAgentContext"),
        ("builtins:str", "--task-agent: builtins:str returned builtins.str; expected a strands Agent, a CrewAI"),
    ],
)
def test_a_bad_task_agent_exits_2_and_writes_nothing(cli, tmp_path, target, message):
    result = cli("generate", "--task-agent", target, "--count", "2")
    assert result.exit_code == 2 and result.output.startswith(message), result.output
    assert len(result.output.splitlines()) == 1 and not output_exists(tmp_path)


# ---- MCP tools -------------------------------------------------------------------------------------------------

MARK = "+0-000-MCP"  # a phone number only the MCP server's database has


@pytest.fixture
def world_db(tmp_path):
    """World 1 in SQLite, every customer's phone number changed, so a trace shows where its results came from."""
    path = tmp_path / "world.sqlite"
    write_world(build_world(1), path)
    with sqlite3.connect(path) as db:
        db.execute("UPDATE objects SET json = json_set(json, '$.phone', ?) WHERE kind = 'customer'", (MARK,))
    return path


def assert_tools_came_from_the_server(records: list[Example]) -> None:
    profiles = [t for r in records for t in r.tool_trace if t.name == "get_customer_profile"]
    assert profiles and all(json.loads(t.output)["phone"] == MARK for t in profiles)


@pytest.mark.parametrize("runtime", ["strands", "crewai"])
def test_goldens_from_the_tools_of_an_mcp_server_process(cli, tmp_path, world_db, runtime):
    server = f"{sys.executable} {SERVER} {world_db}"
    result = cli("generate", "--mcp-server", server, "--count", "8", "--seed", "3", "--runtime", runtime)
    assert result.exit_code == 0, result.output
    records = [Example.model_validate(r) for r in export(cli, tmp_path, "kyc")]
    assert len(records) >= 6
    assert_tools_came_from_the_server(records)


def test_goldens_from_an_mcp_server_over_streamable_http(cli, tmp_path, world_db):
    with http_server(world_db, tmp_path / "server.log") as url:
        result = cli("generate", "--mcp-url", url, "--count", "6", "--seed", "4")
    assert result.exit_code == 0, result.output
    assert_tools_came_from_the_server([Example.model_validate(r) for r in export(cli, tmp_path, "kyc")])


def test_an_mcp_server_command_that_does_not_parse_exits_2(cli, tmp_path):
    result = cli("generate", "--mcp-server", "server --name 'unclosed", "--count", "2")
    assert result.exit_code == 2 and result.output == '--mcp-server "server --name \'unclosed": No closing quotation\n'
    assert not output_exists(tmp_path)


@pytest.mark.parametrize(
    "server, cause",
    [
        ("no-such-mcp-server --flag", "FileNotFoundError: [Errno 2] No such file or directory"),
        (f"{sys.executable} -c 'import sys; sys.exit(3)'", ""),  # starts, then exits before the handshake
    ],
)
def test_an_mcp_server_that_cannot_be_used_exits_2_with_one_line_and_writes_nothing(cli, tmp_path, server, cause):
    result = cli("generate", "--mcp-server", server, "--count", "2")
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"--mcp-server {server!r}: cannot use the MCP server: {cause}"), result.output
    assert len(result.output.splitlines()) == 1 and not output_exists(tmp_path)
