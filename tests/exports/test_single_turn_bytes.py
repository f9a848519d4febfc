"""Single-turn examples export exactly as they did before exports learned about conversations.

tests/fixtures/exports/single-turn.jsonl holds three single-turn records (generated with `--count 40 --seed 3`
before record schema 3's exports, one of them adversarial) and rubric.json the rubric they were judged with;
tests/fixtures/exports/single-turn/ holds the files each format wrote for them then (promptfoo.yaml was written
again when the promptfoo export changed on purpose: JavaScript regexes, vars, llm-rubric only with --grader).
Stored records keep the test independent of what generation produces today.

Three files were regenerated on purpose since, when every expectation went to its library's own field: deepeval.json
(each golden gained `expectations.must`: the rubric's gates for the case in words, with its verdict and evidence),
ragas.jsonl (each sample gained `rubrics`, the same rubric as five score descriptions) and strands-evals.json
(`expected_trajectory` became `{name, input}` steps instead of tool names). Everything else in them is byte for byte
what it was.
"""

from pathlib import Path

import pytest

from exports import FORMATS
from exports.base import Context
from rubrics.model import Rubric
from store.records import Example

FIXTURES = Path(__file__).parent.parent / "fixtures" / "exports"
EXPECTED = {
    "jsonl": "../single-turn.jsonl",  # the records themselves
    "bedrock": "bedrock.jsonl",
    "bedrock-rag": "bedrock-rag.jsonl",
    "strands-evals": "strands-evals.json",
    "deepeval": "deepeval.json",
    "ragas": "ragas.jsonl",
    "promptfoo": "promptfoo.yaml",
    "agentcore": "agentcore.jsonl",  # formats added after the record learned conversations: stored as first written
    "agentcore-simulated": "agentcore-simulated.jsonl",
}
MISSION = "You simulate a KYC / financial-crimes analyst at a retail bank."


def single_turn_records() -> list[Example]:
    lines = (FIXTURES / "single-turn.jsonl").read_text().splitlines()
    return [Example.model_validate_json(line) for line in lines]


def written(fmt: str) -> bytes:
    """What `fmt` writes for the fixture records (bedrock with the stored answers as responses)."""
    records = single_turn_records()
    rubric = Rubric.model_validate_json((FIXTURES / "rubric.json").read_text())
    responses = {r.id: r.reference_answer for r in records} if fmt == "bedrock" else None
    ctx = Context(
        dataset="kyc",
        version=1,
        mission=MISSION,
        find_rubric=lambda: (rubric, ""),
        responses=responses,
        responder="simulated" if responses else None,
    )
    files = FORMATS[fmt].write(records, ctx)
    assert set(files) == {""}, f"{fmt} wrote sibling files for single-turn records: {sorted(files)}"
    return files[""]


def test_the_fixture_records_are_single_turn():
    records = single_turn_records()
    assert records and all(len(r.conversation) == 2 and r.scenario is None for r in records)
    assert {r.difficulty for r in records} == {"standard", "adversarial"}


def test_every_format_has_a_stored_single_turn_export():
    missing = sorted(set(FORMATS) - set(EXPECTED))
    assert not missing, f"store what {missing} write for the fixture records under {FIXTURES / 'single-turn'}"
    assert set(EXPECTED) <= set(FORMATS)


@pytest.mark.parametrize("fmt", sorted(EXPECTED))
def test_a_single_turn_export_is_byte_identical_to_what_it_was(fmt):
    assert written(fmt) == (FIXTURES / "single-turn" / EXPECTED[fmt]).read_bytes()
