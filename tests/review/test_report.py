"""The run report: one self-contained page with every section, hostile text from records escaped, written by
`generate` after each run (local output only), and honest about what versions made by import do not record."""

import re
from pathlib import Path

from click.testing import CliRunner

from main import cli
from review.decisions import DecisionLog, new_decision
from store.dataset import Dataset
from store.records import CriterionResult, ReviewItem, utc_now

SECTIONS = (
    "runs",
    "mix",
    "tags",
    "rounds",
    "failures",
    "tool-f1",
    "spend",
    "jury",
    "decisions",
    "audit",
    "calibration",
)
HOSTILE = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def report(output: Path, ref: str, out: Path) -> str:
    result = run("report", ref, "--output-dir", str(output), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"report of {ref if '@' in ref else ref + '@v1'}: {out}"
    return out.read_text(encoding="utf-8")


def assert_self_contained(html: str) -> None:
    assert not re.search(r"<script[^>]+src=[\"']?https?:", html, re.I)
    assert not re.search(r"<link[^>]+href=[\"']?https?:", html, re.I)
    assert not re.search(r"@import\s+url\(\s*[\"']?https?:", html, re.I)
    assert html.count("plotly.js v") == 1  # the library once, inline, then only the charts' data
    charts = re.findall(r'<div id="(chart-[a-z0-9]+)"', html)
    assert charts and html.count("Plotly.newPlot(") == len(charts)


def test_report_of_a_generated_dataset_has_every_section(small_dataset, tmp_path):
    output, name = small_dataset
    html = report(output, name, tmp_path / "report.html")

    assert_self_contained(html)
    for section in SECTIONS:
        assert f'<section id="{section}">' in html
    assert {"chart-mix", "chart-tags", "chart-rounds", "chart-f1", "chart-tokens", "chart-audit"} <= set(
        re.findall(r'<div id="(chart-[a-z0-9]+)"', html)
    )
    assert "first attempts" in html and "Top failure reasons" in html
    assert "no SME marks to compare the judge with" in html and "No SME decision on kyc yet" in html
    assert "No judge jury" in html and "majority-verdict accuracy" in html
    assert "chart-reasons" in html and re.search(r'<a href="#q[0-9]+">', html)  # queue items, linked to their details


def hostile_version(output: Path, name: str) -> str:
    """Append a copy of a golden whose tag and judge's rationale are a script, file a queue item whose request and
    reason are one, and mark the copy: return the copy's id."""
    dataset = Dataset(output, name)
    manifest = dataset.manifest()
    record = next(iter(dataset.records(manifest)))
    criteria = [
        c.model_copy(update={"rationale": HOSTILE}) if c.method == "judge" else c for c in record.critique.criteria
    ]
    judged = next(c for c in criteria if c.method == "judge")
    copy = record.model_copy(
        update={
            "id": "feedfacefeedface",
            "prompt": record.prompt + HOSTILE,
            "tags": [*record.tags, HOSTILE],
            "critique": record.critique.model_copy(update={"criteria": criteria}),
        }
    )
    run_id = "20990101T000000Z-hostile"
    dataset.append([copy], run_id=run_id, rubric=manifest.rubric, models=manifest.models, generation={})
    item = ReviewItem(dataset=name, run_id=run_id, episode=0, case_key=record.case_key or "x", category=HOSTILE,
                      difficulty="standard", status="rejected", reasons=[HOSTILE], prompt=HOSTILE,
                      critiques=[copy.critique.model_copy(update={"criteria": [
                          CriterionResult(**{**judged.model_dump(), "passed": False})]})],
                      created_at=utc_now())  # fmt: skip
    dataset.write_review(run_id, [item])
    DecisionLog(dataset).save(
        new_decision(
            name,
            manifest.version + 1,
            target="example",
            ref=copy.id,
            action="mark",
            reviewer="ana",
            marks={judged.id: not judged.passed},
        )  # fmt: skip
    )
    return copy.id


def test_text_from_records_is_escaped(fresh_dataset, tmp_path):
    output, name = fresh_dataset
    copy_id = hostile_version(output, name)
    html = report(output, f"{name}@v2", tmp_path / "report.html")

    assert_self_contained(html)
    assert HOSTILE not in html and "alert(1)</script>" not in html
    assert html.count(ESCAPED) >= 4  # the queue item's reason, category and request, the judge's rationale
    assert "\\u003cscript\\u003ealert(1)\\u003c\\u002fscript\\u003e" in html  # the tag, inside a chart's data
    assert copy_id in html and "no summary saved" in html  # a version whose run left no summary


def test_a_version_made_by_import_says_what_it_does_not_record(small_dataset, tmp_path):
    output, name = small_dataset
    exported = tmp_path / "goldens.jsonl"
    assert run("dataset", "export", name, "--out", str(exported), "--output-dir", str(output)).exit_code == 0
    elsewhere = tmp_path / "elsewhere"
    imported = run("dataset", "import", str(exported), "--into", "copy", "--output-dir", str(elsewhere))
    assert imported.exit_code == 0, imported.output
    html = report(elsewhere, "copy", tmp_path / "copy.html")

    assert_self_contained(html)
    assert "no summary (an import saves none)" in html
    assert "First drafts are not recorded for any run behind v1" in html
    assert "first drafts are not recorded for v1 (import)" in html
    assert "stored in v1" in html  # the F1 the imported records were judged with


def test_generate_writes_the_report_and_prints_its_path(cli, tmp_path):
    result = cli("generate", "--count", "3", "--seed", "4")
    assert result.exit_code == 0, result.output
    page = tmp_path / "output" / "kyc" / "report.html"
    assert result.output.rstrip().endswith(f"report: {page}")
    html = page.read_text(encoding="utf-8")
    assert_self_contained(html)
    assert "Run report: kyc@v1" in html


def test_generate_into_s3_writes_no_report(cli, s3):
    result = cli("generate", "--count", "2", "--seed", "4", output_dir="s3://goldens/data")
    assert result.exit_code == 0, result.output
    assert "report:" not in result.output
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="goldens").get("Contents", [])]
    assert keys and not any(k.endswith("report.html") for k in keys)


def test_generate_leaves_the_report_of_a_large_version_to_the_report_command(cli, tmp_path, monkeypatch):
    import review.report_html

    monkeypatch.setattr(review.report_html, "AUTOMATIC_MAX_RECORDS", 2)
    result = cli("generate", "--count", "3", "--seed", "1")
    assert result.exit_code == 0, result.output
    assert "report: not written after a run for a version of 3 records (more than 2)" in result.output
    assert "python main.py report kyc --out report.html" in result.output
    assert not (tmp_path / "output" / "kyc" / "report.html").exists()


def test_a_version_published_by_an_sme_review_is_reported(cli, tmp_path):
    from review.decisions import DecisionLog, new_decision
    from store.dataset import Dataset

    assert cli("generate", "--count", "3", "--seed", "2").exit_code == 0
    dataset = Dataset(tmp_path / "output", "kyc")
    record = next(iter(dataset.records(dataset.manifest())))
    DecisionLog(dataset).save(new_decision("kyc", 1, target="example", ref=record.id, action="approve", reviewer="Ana"))
    published = cli("review", "publish", "kyc", "--reviewer", "Ana", "--output-dir", str(tmp_path / "output"))
    assert published.exit_code == 0, published.output
    page = tmp_path / "report.html"
    result = cli("report", "kyc", "--out", str(page), "--output-dir", str(tmp_path / "output"))
    assert result.exit_code == 0, result.output
    assert "SME review: 1 decisions published by Ana" in page.read_text(encoding="utf-8")
    again = cli("generate", "--count", "2", "--seed", "3")
    assert again.exit_code == 0 and "report: " in again.output and "not written" not in again.output
