"""Goldens seeded from real requests (`generate --cases`): truth from the SME's facts where given, `judged` where not,
judged examples flagged in every export and listed for review, and nothing from a file taken as SME truth unchecked."""

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from config import InputError
from exports import FORMATS
from main import cli
from review.decisions import DecisionLog, new_decision
from review.publish import publish
from simulation.domains import get_domain
from simulation.seeds import read_seed_lines, seed_cases
from store.dataset import Dataset
from store.records import Attempt, Example

ROOT = Path(__file__).resolve().parents[2]
REQUESTS = ROOT / "tests" / "fixtures" / "seeds" / "kyc_requests.jsonl"
UNREVIEWED = {"bedrock", "bedrock-rag", "ragas"}  # formats with no place for a record's flags: a file of their own
SUFFIX = {"strands-evals": ".json", "deepeval": ".json", "promptfoo": ".yaml"}


def run(*argv: str):
    return CliRunner().invoke(cli, list(argv), catch_exceptions=False)


def lines_by_request() -> dict[str, dict]:
    return {json.loads(line)["request"]: json.loads(line) for line in REQUESTS.read_text().splitlines()}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> Path:
    """An output dir with dataset `seeded`: v1 generated from the 20 requests of the fixture (10 with SME facts)."""
    root = tmp_path_factory.mktemp("seeds") / "output"
    result = run("generate", "--cases", str(REQUESTS), "--dataset", "seeded", "--seed", "3", "--output-dir", str(root))
    assert result.exit_code == 0, result.output
    assert "20 of 20" in result.output and "judged by the critic alone" in result.output
    return root


def records(root: Path, name: str = "seeded") -> list[Example]:
    dataset = Dataset(root, name)
    return list(dataset.records(dataset.manifest()))


def test_the_fixture_has_twenty_requests_half_with_sme_facts():
    lines = [json.loads(line) for line in REQUESTS.read_text().splitlines()]
    assert len(lines) == 20 and sum("facts" in line for line in lines) == 10
    assert sum("conversation" in line for line in lines) == 2


def test_truth_is_sme_where_facts_were_given_and_judged_where_not(seeded):
    given = lines_by_request()
    stored = records(seeded)
    assert len(stored) >= 16  # the simulated agent answers most real requests within three rounds
    for record in stored:
        line = given[record.prompt]
        if "facts" in line:
            assert record.truth == "sme" and not record.needs_sign_off
            assert record.facts.verdict == line["facts"]["verdict"]
            assert record.facts.evidence_ids == line["facts"].get("evidence_ids", [])
            assert record.facts.subject_id == line["subject_id"]
        else:
            assert record.truth == "judged" and record.needs_sign_off and record.facts is None
        expected = line.get("expected_tool_calls")
        assert [c.model_dump() for c in record.expected_tool_calls or []] == (expected or [])
        assert (record.expected_tool_calls is None) == (expected is None)
    assert {r.truth for r in stored} == {"sme", "judged"}
    manifest = Dataset(seeded, "seeded").manifest()
    cases = manifest.generation["cases"]
    assert cases["unreviewed"] == sum(r.truth == "judged" for r in stored)
    assert cases["truth"] == {"sme": sum(r.truth == "sme" for r in stored), "judged": cases["unreviewed"]}


def test_a_conversation_before_the_request_is_kept_and_sent(seeded):
    given = lines_by_request()
    with_history = [r for r in records(seeded) if "conversation" in given[r.prompt]]
    assert with_history
    for record in with_history:
        before = given[record.prompt]["conversation"]
        assert [t.model_dump(exclude_none=True) for t in record.conversation[:-2]] == before
        assert record.conversation[-2].content == record.prompt
        assert record.conversation[-1].content == record.reference_answer


def test_judged_criteria_are_unscored_never_passed(seeded):
    judged = [r for r in records(seeded) if r.truth == "judged"]
    for record in judged:
        by_id = {c.id: c for c in record.critique.criteria}
        for name in ("verdict_correct", "right_tools", "end_state_matches"):
            if name in by_id:
                assert not by_id[name].passed and not by_id[name].counted
                assert by_id[name].rationale.startswith("unscored: ")
        assert record.critique.passed and "verdict_correct" not in record.critique.failed_criteria()


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_judged_examples_are_flagged_in_every_export(seeded, tmp_path, fmt):
    stored = records(seeded)
    judged = {r.id for r in stored if r.needs_sign_off}
    out = tmp_path / f"seeded{SUFFIX.get(fmt, '.jsonl')}"
    result = run("dataset", "export", "seeded", "--format", fmt, "--out", str(out), "--output-dir", str(seeded))
    assert result.exit_code == 0, result.output
    if fmt == "jsonl":
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        assert {r["id"] for r in rows if r.get("truth") == "judged"} == judged
        return
    if fmt in UNREVIEWED:
        apart = out.with_name(f"{out.stem}-needs-sme-review{out.suffix}")
        assert apart.exists() and len(apart.read_text().splitlines()) == len(judged)
        assert len(out.read_text().splitlines()) == len(stored) - len(judged)
        return
    text = "\n".join(p.read_text() for p in sorted(tmp_path.iterdir()))
    flags = text.count('"needs_sme_review": true') + text.count("needs_sme_review: true")
    assert flags == len(judged), f"{fmt}: {flags} flags for {len(judged)} judged examples"
    assert all(i in text for i in judged)


def test_the_real_libraries_load_the_seeded_exports(seeded, tmp_path, monkeypatch):
    from tests.exports.test_real_libraries import library

    strands_evals, ragas = library("strands_evals"), library("ragas")
    deepeval_dataset = library("deepeval.dataset")
    paths = {}
    for fmt, name in (("strands-evals", "s.json"), ("deepeval", "d.json"), ("ragas", "r.jsonl")):
        paths[fmt] = tmp_path / name
        result = run(
            "dataset", "export", "seeded", "--format", fmt, "--out", str(paths[fmt]), "--output-dir", str(seeded)
        )
        assert result.exit_code == 0, result.output
    stored = records(seeded)
    experiment = strands_evals.Experiment.from_file(str(paths["strands-evals"]))
    assert len(experiment.cases) == len(stored)
    unstated = [c for c in experiment.cases if c.metadata.get("needs_sme_review")]
    assert unstated and all(
        c.expected_trajectory is None for c in unstated if c.metadata["expected_tool_calls"] is None
    )
    monkeypatch.chdir(tmp_path)  # DeepEval writes a .deepeval folder in the working directory
    goldens = []
    for path in sorted(tmp_path.glob("d*.json")):  # single-turn goldens, and the conversations' sibling file
        loaded = deepeval_dataset.EvaluationDataset()
        loaded.add_goldens_from_json_file(str(path))
        goldens += loaded.goldens
    assert len(goldens) == len(stored)
    flagged = [g for g in goldens if g.additional_metadata.get("needs_sme_review")]
    assert len(flagged) == sum(r.needs_sign_off for r in stored)
    samples = ragas.EvaluationDataset.from_jsonl(str(paths["ragas"])).samples
    apart = ragas.EvaluationDataset.from_jsonl(str(tmp_path / "r-needs-sme-review.jsonl")).samples
    assert len(samples) + len(apart) == len(stored)
    assert all(s.reference_tool_calls is None for s in apart) or any(r.expected_tool_calls for r in stored)


def test_judged_examples_are_listed_for_review(seeded):
    from starlette.testclient import TestClient

    from review.app import create_app

    client = TestClient(create_app(str(seeded), "Ada Lovelace"), base_url="http://127.0.0.1")
    page = client.get("/d/seeded/v/1?truth=judged")
    assert page.status_code == 200
    judged = [r for r in records(seeded) if r.needs_sign_off]
    assert f"<strong>{len(judged)}</strong> of {len(records(seeded))} examples" in page.text
    assert page.text.count("needs sign-off") == len(judged)
    example = client.get(f"/d/seeded/v/1/e/{judged[0].id}")
    assert "Judged by the critic alone" in example.text and "not stated" in example.text


def test_an_sme_sign_off_makes_a_judged_example_sme_truth(seeded, tmp_path):
    root = tmp_path / "output"
    shutil.copytree(seeded, root)
    judged = next(r for r in records(root) if r.needs_sign_off)
    decision = new_decision("seeded", 1, target="example", ref=judged.id, action="approve", reviewer="Ada Lovelace")
    DecisionLog(Dataset(root, "seeded")).save(decision)
    publish(Dataset(root, "seeded"), reviewer="Ada Lovelace")
    approved = {r.id: r for r in records(root)}[judged.id]
    assert approved.truth == "sme" and not approved.needs_sign_off and approved.facts is None
    assert approved.provenance.review.reviewer == "Ada Lovelace"


def test_an_import_never_takes_a_files_sme_facts(seeded, tmp_path):
    exported = tmp_path / "seeded.jsonl"
    assert run("dataset", "export", "seeded", "--out", str(exported), "--output-dir", str(seeded)).exit_code == 0
    root = tmp_path / "output"
    result = run("dataset", "import", str(exported), "--into", "copy", "--output-dir", str(root))
    assert result.exit_code == 0, result.output
    imported = records(root, "copy")
    assert len(imported) == len(records(seeded))
    assert {r.truth for r in imported} == {"judged"}
    assert all(r.facts is None and r.expected_tool_calls is None and r.needs_sign_off for r in imported)


def test_a_resumed_seeded_run_needs_the_same_cases_file_and_checkpoints_that_match(tmp_path):
    cases = tmp_path / "cases.jsonl"
    cases.write_text("".join(REQUESTS.read_text().splitlines(keepends=True)[:3]))
    root = str(tmp_path / "output")
    base = ("generate", "--dataset", "s", "--seed", "1", "--run-id", "r1", "--output-dir", root)
    assert run(*base, "--cases", str(cases)).exit_code == 0
    without = run(*base)
    assert without.exit_code == 2 and "--cases" in without.output
    changed = tmp_path / "changed.jsonl"
    changed.write_text(cases.read_text().replace("Funds-movement alert", "Funds alert"))
    assert run(*base, "--cases", str(changed)).exit_code == 2
    checkpoint = tmp_path / "output" / "s" / "runs" / "r1" / "episodes" / "00000.json"
    state = json.loads(checkpoint.read_text())
    state["case"]["facts"]["verdict"] = "clear"  # an edited checkpoint must not bring in truth
    checkpoint.write_text(json.dumps(state))
    tampered = run(*base, "--cases", str(cases))
    assert tampered.exit_code == 2 and "checkpoint of episode 0 does not match" in tampered.output


def test_paraphrase_keeps_every_word_of_the_request(tmp_path):
    root = str(tmp_path / "output")
    argv = ("generate", "--cases", str(REQUESTS), "--count", "4", "--paraphrase", "--seed", "2", "--output-dir", root)
    assert run(*argv).exit_code == 0
    given = [json.loads(line)["request"] for line in REQUESTS.read_text().splitlines()]
    prompts = [r.prompt for r in records(Path(root), "kyc")]
    assert prompts and all(any(g.split(" ", 1)[1] in p for g in given) for p in prompts)
    assert not set(prompts) & set(given)  # every one reworded (the persona's openers)
    assert run("generate", "--paraphrase", "--output-dir", root).exit_code == 2


def test_a_csv_cases_file_reads_as_jsonl_does(tmp_path):
    csv = tmp_path / "cases.csv"
    csv.write_text(
        "request,subject_id,verdict,evidence_ids,expected_tool_calls,tags\n"
        '"Please check the documents of customer C-0185, do they match the profile?",C-0185,not_suspicious,,'
        "get_customer_profile;get_kyc_documents,identity\n"
        "What is the weather like today?,,,,,\n"
    )
    domain = get_domain("kyc")
    cases, _ = seed_cases(csv, domain, domain.build_world(1))
    assert [c.truth for c in cases] == ["sme", "judged"]
    assert cases[0].facts.verdict == "not_suspicious" and cases[0].facts.subject_id == "C-0185"
    assert [c.name for c in cases[0].expected_tool_calls] == ["get_customer_profile", "get_kyc_documents"]
    assert cases[0].tags == ["identity"] and cases[1].expected_tool_calls is None


def test_bad_lines_are_exit_2_with_file_line_field_and_nothing_written(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"request": "Review customer C-0185", "facts": {"verdict": "maybe"}}\n'
        "not json\n"
        '{"request": ""}\n'
        '{"request": "Check C-0185", "facts": {"verdict": "clear", "evidence_ids": ["TX-999999"]}}\n'
        '{"request": "Check C-0185", "expected_tool_calls": [{"name": "launch_rocket"}]}\n'
        '{"request": "Hi", "conversation": [{"role": "assistant", "content": "Hello"}]}\n'
    )
    root = tmp_path / "output"
    result = run("generate", "--cases", str(bad), "--output-dir", str(root))
    assert result.exit_code == 2
    expected = ((1, "facts.verdict"), (2, "(line)"), (3, "request"), (4, "facts.evidence_ids"))
    expected += ((5, "expected_tool_calls"), (6, "conversation"))
    for line, field in expected:
        assert f"{bad}:{line}: {field}: " in result.output
    assert "Traceback" not in result.output and not root.exists()
    with pytest.raises(InputError, match=r":1: conversation\[0\]\.content: Field required"):
        read_seed_lines(write(tmp_path / "c.jsonl", '{"request": "Hi", "conversation": [{"role": "user"}]}\n'))
    result = run("generate", "--cases", str(tmp_path / "missing.jsonl"), "--output-dir", str(root))
    assert result.exit_code == 2 and "no such file" in result.output


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_a_judged_answer_citing_an_id_that_does_not_exist_still_fails():
    from rubrics.methods import Subject, run_check
    from rubrics.model import Criterion

    attempt = Attempt(round=1, finding={"verdict": "clear", "evidence_ids": ["TX-999999"]}, answer="a", tool_trace=[])
    criterion = Criterion.model_validate(
        {
            "id": "evidence_grounded",
            "description": "cited ids exist",
            "method": "facts",
            "check": "evidence",
            "weight": 1,
        }
    )
    subject = Subject(attempt, expected_tool_calls=None, facts=None, id_exists=lambda i: False, truth="judged")
    result = run_check(criterion, subject)
    assert not result.passed and result.counted and "do not exist" in result.rationale
    grounded = Attempt(round=1, finding={"verdict": "clear", "evidence_ids": []}, answer="a", tool_trace=[])
    unscored = run_check(criterion, Subject(grounded, None, None, lambda i: True, truth="judged"))
    assert not unscored.passed and not unscored.counted
