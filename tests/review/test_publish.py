"""`review publish`: SME decisions become the next version (rejections out, corrections in, queue items promoted,
approvals recorded), corrections the world contradicts are refused, and concurrent publishes stay linear."""

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

from click.testing import CliRunner

from main import cli
from review.decisions import Correction, DecisionLog, new_decision
from review.publish import item_ref, publish
from store.dataset import Dataset
from store.records import RECORD_SCHEMA_VERSION, Example, ToolCall
from store.review import queue_items

ROOT = Path(__file__).resolve().parents[2]


def run(output: Path, *args: str):
    return CliRunner().invoke(cli, [*args, "--output-dir", str(output)], catch_exceptions=False)


def exported(output: Path, ref: str, path: Path) -> bytes:
    result = run(output, "dataset", "export", ref, "--out", str(path))
    assert result.exit_code == 0, result.output
    return path.read_bytes()


def records(output: Path, name: str, version: int | None = None) -> dict[str, Example]:
    dataset = Dataset(output, name)
    return {r.id: r for r in dataset.records(dataset.manifest(version))}


def decide(output: Path, name: str, ref: str, action: str, **fields):
    dataset = Dataset(output, name)
    target = "review_item" if action == "promote" else "example"
    decision = new_decision(name, 1, target=target, ref=ref, action=action, reviewer="Ada Lovelace", **fields)
    DecisionLog(dataset).save(decision)
    return decision


def invented_evidence_item(output: Path, name: str):
    """A single-turn queue item whose answer cites a record the world does not have, and its fixed finding."""
    for item in queue_items(Dataset(output, name)):
        attempt = item.attempts[-1] if item.attempts else None
        invented = {i for c in item.critiques[-1].criteria for i in c.details.get("invented", [])} if attempt else set()
        if attempt and attempt.conversation is None and invented:
            finding = {k: v for k, v in attempt.finding.items() if k != "answer"}
            finding["evidence_ids"] = [e for e in finding["evidence_ids"] if e not in invented]
            lines = [line for line in attempt.answer.splitlines() if not any(i in line for i in invented)]
            return item, "\n".join(lines), finding
    raise AssertionError("the generated queue has no item with invented evidence")


def test_decisions_become_the_next_version_and_the_parent_exports_as_before(fresh_dataset, tmp_path):
    output, name = fresh_dataset
    before = exported(output, f"{name}@v1", tmp_path / "v1-before.jsonl")
    v1 = records(output, name, 1)
    single = [r for r in v1.values() if r.scenario is None]
    multi = next(r for r in v1.values() if r.scenario is not None)
    rejected, approved, fixed = single[0], single[1], single[2]
    judged = next(c.id for c in approved.critique.criteria if c.method == "judge")
    new_answer = fixed.reference_answer + "\n\nReviewed: the evidence above is complete."
    decide(output, name, rejected.id, "reject", note="the request is ambiguous")
    decide(output, name, approved.id, "approve", marks={judged: False})
    decide(output, name, fixed.id, "correct", correction=Correction(reference_answer=new_answer))
    decide(output, name, multi.id, "correct", correction=Correction(reference_answer=multi.reference_answer + " Done."))
    item, answer, finding = invented_evidence_item(output, name)
    decide(output, name, item_ref(item), "promote", correction=Correction(reference_answer=answer, finding=finding))

    result = run(output, "review", "publish", name, "--reviewer", "Ada Lovelace")
    assert result.exit_code == 0, result.output
    assert f"{name}@v2 published from v1: 1 approved, 1 rejected, 2 corrected, 1 promoted" in result.output

    v2 = records(output, name, 2)
    assert len(v2) == len(v1) and rejected.id not in v2
    assert v2[fixed.id].reference_answer == new_answer and v2[fixed.id].conversation[-1].content == new_answer
    review = v2[fixed.id].provenance.review
    assert review.reviewer == "Ada Lovelace" and review.decision == "correct"
    assert review.original == {"reference_answer": fixed.reference_answer}
    assert v2[fixed.id].schema_version == RECORD_SCHEMA_VERSION
    assert v2[multi.id].conversation[-1].content == multi.reference_answer + " Done."
    assert v2[approved.id].provenance.review.marks == {judged: False}
    assert v2[approved.id].reference_answer == approved.reference_answer
    promoted = next(r for r in v2.values() if r.id not in v1)
    assert promoted.provenance.review.decision == "promote" and promoted.provenance.review.queue_item == item_ref(item)
    assert promoted.reference_answer == answer and promoted.reference_output == finding
    assert promoted.case_key == item.case_key and promoted.provenance.run_id == item.run_id
    untouched = next(r for r in v1.values() if r.id not in {rejected.id, approved.id, fixed.id, multi.id})
    assert v2[untouched.id] == untouched and v2[untouched.id].provenance.review is None

    manifest = Dataset(output, name).manifest(2)
    assert manifest.operation == "review" and manifest.parent == 1 and manifest.removed == 1
    assert len(manifest.generation["decisions"]) == 5 and manifest.generation["published_by"] == "Ada Lovelace"
    assert exported(output, f"{name}@v1", tmp_path / "v1-after.jsonl") == before
    assert run(output, "dataset", "verify", name).exit_code == 0
    promptfoo = tmp_path / "v2-promptfoo.yaml"
    export = run(output, "dataset", "export", f"{name}@v2", "--format", "promptfoo", "--out", str(promptfoo))
    assert export.exit_code == 0
    assert promptfoo.read_text().count("sme_review:") == 5 - 1  # every reviewed record but the rejected one
    diff = run(output, "dataset", "diff", f"{name}@v1", f"{name}@v2").output
    assert f"~ {fixed.id}  v2: corrected (SME Ada Lovelace)" in diff and f"- {rejected.id}" in diff

    again = run(output, "review", "publish", name, "--reviewer", "Ada Lovelace")
    assert again.exit_code == 0 and f"{name}@v2: no pending decisions, no new version" in again.output
    assert Dataset(output, name).versions() == [1, 2]


def test_a_correction_the_world_contradicts_is_refused_and_nothing_is_written(fresh_dataset):
    output, name = fresh_dataset
    v1 = list(records(output, name, 1).values())
    other = "suspicious" if v1[0].facts.verdict == "out_of_scope" else "out_of_scope"
    wrong_verdict = {**v1[0].reference_output, "verdict": other}
    decide(output, name, v1[0].id, "correct", correction=Correction(finding=wrong_verdict))
    decide(output, name, v1[1].id, "correct", correction=Correction(expected_tool_calls=[ToolCall(name="get_account")]))
    decide(output, name, v1[2].id, "reject", note="duplicate of another case")

    result = run(output, "review", "publish", name, "--reviewer", "ada")
    assert result.exit_code == 2
    lines = result.output.splitlines()
    assert any(f"example {v1[0].id}" in line and "verdict_correct" in line for line in lines), result.output
    assert any(f"example {v1[1].id}" in line and "expected_tool_calls: the record says" in line for line in lines)
    assert lines[-1] == f"{name}: nothing published; correct or reject those decisions"
    assert Dataset(output, name).versions() == [1]


def test_nothing_pending_makes_no_version(fresh_dataset):
    output, name = fresh_dataset
    result = run(output, "review", "publish", name, "--reviewer", "ada")
    assert result.exit_code == 0 and result.output.strip() == f"{name}@v1: no pending decisions, no new version"
    example = next(iter(records(output, name, 1)))
    decide(output, name, example, "mark", marks={"clear_conclusion": True})  # marks alone change no version
    assert "no pending decisions" in run(output, "review", "publish", name, "--reviewer", "ada").output
    assert Dataset(output, name).versions() == [1]


def test_a_publish_that_loses_the_race_retries_from_the_winner(fresh_dataset, monkeypatch):
    """The first publish plans {reject A} and waits; a decision on B is saved; the second plans {reject A, approve B};
    the first commits v2; the second's compare-and-swap fails, so it starts again from v2 and commits v3 with B only."""
    output, name = fresh_dataset
    first_id, second_id = list(records(output, name, 1))[:2]
    waiting, planned, committed = threading.Event(), threading.Event(), threading.Event()
    real = Dataset.replace

    def replace(self, *args, **kwargs):
        who = threading.current_thread().name
        if who == "first":
            waiting.set()
            assert planned.wait(30)
            try:
                return real(self, *args, **kwargs)
            finally:
                committed.set()
        if not planned.is_set():
            planned.set()
            assert committed.wait(30)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Dataset, "replace", replace)
    results = {}

    def go(who: str) -> None:
        results[who] = publish(Dataset(output, name), f"reviewer {who}")

    decide(output, name, first_id, "reject", note="wrong case")
    first = threading.Thread(target=go, args=("first",), name="first")
    first.start()
    assert waiting.wait(30)  # the first has planned its version (without the decision below) before it is saved
    decide(output, name, second_id, "approve")
    second = threading.Thread(target=go, args=("second",), name="second")
    second.start()
    first.join(60)
    second.join(60)

    assert results["first"].manifest.version == 2 and results["first"].retries == 0
    assert results["second"].manifest.version == 3 and results["second"].retries == 1
    assert Dataset(output, name).manifest(3).parent == 2
    v3 = records(output, name, 3)
    assert first_id not in v3 and v3[second_id].provenance.review.decision == "approve"
    assert len(results["second"].decisions) == 1


def test_two_publish_processes_at_once_lose_nothing(fresh_dataset):
    output, name = fresh_dataset
    ids = list(records(output, name, 1))
    saved = [
        decide(output, name, ids[0], "reject", note="not a real alert").id,
        decide(output, name, ids[1], "approve").id,
    ]
    command = [sys.executable, "main.py", "review", "publish", name, "--output-dir", str(output), "--reviewer"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    processes = [subprocess.Popen([*command, who], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True) for who in ("one", "two")]  # fmt: skip
    outputs = [p.communicate(timeout=120)[0] for p in processes]
    assert all(p.returncode == 0 for p in processes), outputs
    assert sum(bool(re.search(rf"{name}@v\d+ published", out)) for out in outputs) >= 1, outputs

    dataset = Dataset(output, name)
    manifests = [dataset.manifest(v) for v in dataset.versions()]
    assert [m.parent for m in manifests] == [None, *range(1, len(manifests))]
    published = [d for m in manifests if m.operation == "review" for d in m.generation["decisions"]]
    assert sorted(published) == sorted(saved)  # each decision exactly once
    latest = records(output, name)
    assert ids[0] not in latest and latest[ids[1]].provenance.review.decision == "approve"
    assert run(output, "dataset", "verify", name).exit_code == 0


def test_an_import_brings_in_no_sme_sign_off(fresh_dataset, tmp_path):
    """A file's `provenance.review` is an attestation no world can re-check: the import keeps the record (its truth
    re-checked as any other's) without it."""
    output, name = fresh_dataset
    approved = next(iter(records(output, name, 1).values()))
    decide(output, name, approved.id, "approve")
    assert run(output, "review", "publish", name, "--reviewer", "Ada Lovelace").exit_code == 0
    exported(output, f"{name}@v2", tmp_path / "v2.jsonl")
    result = run(output, "dataset", "import", str(tmp_path / "v2.jsonl"), "--into", "copy")
    assert result.exit_code == 0, result.output
    copied = records(output, "copy")
    assert approved.id in copied and all(r.provenance.review is None for r in copied.values())
