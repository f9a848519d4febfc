"""Multi-turn records earn their truth too: the scenario and expected actions come from the world's case, the
conversation's turns carry exactly the record's tool trace, and the trace's actions, taken again on a fresh desk,
leave the record's end state."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from store.dataset import Dataset
from store.records import RECORD_SCHEMA_VERSION

ROOT = Path(__file__).resolve().parent.parent
SEED = 16  # its first 8 cases: clarify_identity twice, push_back and follow_up_action, both filing a SAR
TABLE_CRITERION = """
  - id: evidence_table
    description: The evidence is listed in a Markdown table (id and record).
    method: regex
    pattern: '(?m)^\\|\\s*id\\s*\\|'
    weight: 1
    required: true
    applies_to: [follow_up_action]
"""


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> list[str]:
    """The lines of an 8-record kyc export with multi-turn records (generated once for the module)."""
    from main import cli as app

    out = tmp_path_factory.mktemp("multiturn")
    runner = CliRunner()
    for args in (
        ["generate", "--count", "8", "--seed", str(SEED)],
        ["dataset", "export", "kyc", "--out", str(out / "kyc.jsonl")],
    ):
        result = runner.invoke(app, [*args, "--output-dir", str(out / "output")], catch_exceptions=False)
        assert result.exit_code == 0, result.output
    return (out / "kyc.jsonl").read_text().splitlines()


def sar_conversation(lines: list[str]) -> dict:
    """The follow_up_action record that files a SAR."""
    for line in lines:
        record = json.loads(line)
        if record["category"] == "follow_up_action" and record["expected_actions"][0]["name"] == "file_sar":
            return record
    raise AssertionError("no follow_up_action record filing a SAR in the sample")


def write(path: Path, records: list[dict | str]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


def copy(record: dict) -> dict:
    return json.loads(json.dumps(record))


def action_entry(record: dict) -> tuple[dict, dict]:
    """The file_sar call as the flat trace and as its assistant turn hold it."""
    [flat] = [e for e in record["tool_trace"] if e["name"] == "file_sar"]
    turns = [entry for t in record["conversation"] if t["role"] == "assistant" for entry in t["tool_trace"] or []]
    [turn] = [e for e in turns if e["name"] == "file_sar"]
    return flat, turn


def test_generated_multi_turn_records_import_cleanly_judge_included(cli, tmp_path, exported):
    records = [json.loads(line) for line in exported]
    assert {r["category"] for r in records} >= {"clarify_identity", "follow_up_action", "push_back"}
    assert any(r["end_state"] for r in records) and all(r["schema_version"] == RECORD_SCHEMA_VERSION for r in records)
    result = cli("dataset", "import", str(write(tmp_path / "all.jsonl", exported)), "--into", "copy", "--judge")
    assert result.exit_code == 0, result.output  # the judge too: the conversation met its user's goal
    assert f"imported {len(records)} records" in result.output


def test_tampered_conversations_and_actions_are_rejected_with_the_reason(cli, tmp_path, exported):
    record = sar_conversation(exported)
    customer = record["facts"]["subject_id"]

    def other_action(r):  # the case's action changed to agree with a wrong answer
        r["expected_actions"] = [{"name": "close_alert", "input": {"customer_id": customer}}]

    def closed_end_state(r):
        r["end_state"] = {customer: {"alert": "closed"}}

    def dropped_turn_call(r):  # one call of an assistant turn left out
        next(t for t in r["conversation"] if t["role"] == "assistant")["tool_trace"].pop(0)

    def forged_action(r):  # the call's typology edited, its output and the end state kept: a replay disagrees
        typology = "pass_through" if r["expected_actions"][0]["input"]["typology"] == "structuring" else "structuring"
        for entry in action_entry(r):
            entry["input"]["typology"] = typology

    def other_opening(r):
        r["conversation"][0]["content"] = "Review customer " + customer + " please."

    tampered = {
        other_action: "expected_actions: the record says",
        closed_end_state: "end_state: the record says",
        dropped_turn_call: "conversation: its turns' tool traces",
        forged_action: "end_state: the record says",
        other_opening: "conversation: its opening user turn is not the record's prompt",
    }
    edited = []
    for edit in tampered:
        changed = copy(record)
        edit(changed)
        edited.append(changed)
    source = write(tmp_path / "tampered.jsonl", edited)
    result = cli("dataset", "import", str(source), "--into", "copy")
    assert result.exit_code == 1, result.output
    output = " ".join(result.output.split())  # the console wraps long lines
    for line, reason in enumerate(tampered.values(), start=1):
        start = f"{source}:{line}: {record['id']}: rejected:"
        assert start in output
        said = output.split(start, 1)[1].split(f"{source}:", 1)[0]
        assert reason in said, (line, said)
    forged = output.split(f"{source}:4: ", 1)[1].split(f"{source}:", 1)[0]
    assert "file_sar: its output differs" in forged
    assert Dataset(tmp_path / "output", "copy").latest() is None


def test_revalidate_keeps_an_untouched_conversation_and_judges_its_end_state(cli, tmp_path, exported):
    assert cli("dataset", "import", str(write(tmp_path / "all.jsonl", exported)), "--into", "kyc").exit_code == 0
    result = cli("revalidate", "kyc", "--rubric", str(ROOT / "rubrics" / "kyc.yaml"))
    assert result.exit_code == 0, result.output
    dataset = Dataset(tmp_path / "output", "kyc")
    kept = list(dataset.records(dataset.latest()))
    assert [r.id for r in kept] == [json.loads(line)["id"] for line in exported]
    conversations = [r for r in kept if r.scenario is not None]
    assert conversations
    for record in conversations:
        results = {c.id: c for c in record.critique.criteria}
        assert results["end_state_matches"].passed and results["goal_met"].passed
    sar = next(r for r in conversations if r.expected_actions and r.expected_actions[0].name == "file_sar")
    assert {c.id: c for c in sar.critique.criteria}["end_state_matches"].rationale.startswith("the end state matches")


def test_repair_plays_a_conversation_again(cli, tmp_path, exported):
    assert cli("dataset", "import", str(write(tmp_path / "all.jsonl", exported)), "--into", "kyc").exit_code == 0
    tightened = tmp_path / "kyc-tight.yaml"
    tightened.write_text((ROOT / "rubrics" / "kyc.yaml").read_text() + TABLE_CRITERION)
    result = cli("revalidate", "kyc", "--rubric", str(tightened), "--repair")
    assert result.exit_code == 0, result.output
    dataset = Dataset(tmp_path / "output", "kyc")
    before = {r["id"]: r for r in map(json.loads, exported)}
    [repaired] = [r for r in dataset.records(dataset.latest()) if r.category == "follow_up_action"]
    assert "| id |" in repaired.reference_answer and repaired.conversation[-1].content == repaired.reference_answer
    assert repaired.critique.rounds > before[repaired.id]["critique"]["rounds"]
    assert repaired.end_state == repaired.expected_end_state
    # the repaired conversation is a record the world vouches for
    out = tmp_path / "repaired.jsonl"
    assert cli("dataset", "export", "kyc", "--out", str(out)).exit_code == 0
    assert cli("dataset", "import", str(out), "--into", "again").exit_code == 0
