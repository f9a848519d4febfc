"""The workspace's HTTP surface through Starlette's TestClient: forms need their CSRF token, ids from URLs never reach
the store unchecked, bad input is shown again and saves nothing, and the version page's filters count right."""

import json
import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from review.app import create_app
from review.decisions import DecisionLog
from store.dataset import Dataset
from store.records import Example


@pytest.fixture
def workspace(fresh_dataset) -> tuple[TestClient, Dataset, list[Example]]:
    output, name = fresh_dataset
    client = TestClient(create_app(str(output), "Grace Hopper"), base_url="http://127.0.0.1")
    dataset = Dataset(output, name)
    return client, dataset, list(dataset.records(dataset.manifest(1)))


def token(html: str, action: str | None = None) -> str:
    """The CSRF token of the page's form (of the form posting to `action`, when given)."""
    form = html if action is None else html[html.index(f'action="{action}"') :]
    match = re.search(r'name="csrf" value="([0-9a-f]{64})"', form)
    assert match, "no CSRF token in the form"
    return match.group(1)


def count(html: str) -> int:
    return int(re.search(r'id="count"><strong>(\d+)</strong>', html).group(1))


def test_a_form_without_its_token_is_refused(workspace):
    client, dataset, examples = workspace
    url = f"/d/{dataset.name}/v/1/e/{examples[0].id}"
    page = client.get(url)
    assert page.status_code == 200 and page.headers["content-security-policy"].startswith("default-src 'none'")
    assert client.post(url, data={"action": "approve"}).status_code == 403
    assert client.post(url, data={"action": "approve", "csrf": "0" * 64}).status_code == 403
    other = f"/d/{dataset.name}/v/1/e/{examples[1].id}"  # a token is bound to its form's path
    assert client.post(other, data={"action": "approve", "csrf": token(page.text)}).status_code == 403
    assert client.post(f"/d/{dataset.name}/publish", data={}).status_code == 403
    assert DecisionLog(dataset).all() == []
    saved = client.post(url, data={"action": "approve", "csrf": token(page.text)}, follow_redirects=False)
    assert saved.status_code == 303 and [d.action for d in DecisionLog(dataset).all()] == ["approve"]
    assert DecisionLog(dataset).all()[0].reviewer == "Grace Hopper"


@pytest.mark.parametrize(
    "path",
    [
        "/d/..%2F..%2Fetc/v/1",
        "/d/%2E%2E/v/1",
        "/d/.kyc",
        "/d/nope",
        "/d/not-a-dataset",
        "/d/kyc/v/0",
        "/d/kyc/v/9",
        "/d/kyc/v/1abc",
        "/d/kyc/v/1/e/..%2F..%2Fdataset.json",
        "/d/kyc/v/1/e/%2E%2E",
        "/d/kyc/v/1/e/0000000000000000",
        "/d/kyc/queue/..%2F..%2Fdataset.json",
        "/d/kyc/queue/run:abc",
        "/d/kyc/queue/nope:1",
    ],
)
def test_unknown_or_malformed_ids_are_404(workspace, path):
    client, dataset, _ = workspace
    (Path(dataset.storage.url()) / "not-a-dataset").mkdir()  # a folder without dataset.json is no dataset
    assert client.get(path).status_code == 404
    assert client.post(path, data={}).status_code in (403, 404, 405)


def test_a_request_for_another_host_is_refused(workspace):
    client, _, _ = workspace
    assert client.get("/", headers={"host": "attacker.example"}).status_code == 400


def test_bad_input_is_shown_again_and_nothing_is_saved(workspace):
    client, dataset, examples = workspace
    record = examples[0]
    url = f"/d/{dataset.name}/v/1/e/{record.id}"
    csrf = token(client.get(url).text)
    form = {
        "csrf": csrf,
        "reference_answer": record.reference_answer,
        "finding": "{not json",
        "expected_tool_calls": "[]",
    }
    bad = [
        ({**form, "action": "correct"}, "finding: not valid JSON"),
        ({**form, "action": "correct", "finding": "[1, 2]"}, "finding: must be a JSON object"),
        ({**form, "action": "correct", "finding": '{"verdict": "maybe"}'}, "finding: verdict: Input should be"),
        (
            {
                **form,
                "action": "correct",
                "finding": json_of(record.reference_output),
                "expected_tool_calls": '{"name": 1}',
            },
            "expected tool calls",
        ),
        ({**form, "action": "correct", "reference_answer": "  "}, "the reference answer cannot be empty"),
        ({"csrf": csrf, "action": "reject", "note": "   "}, "a rejection needs a reason"),
        ({"csrf": csrf, "action": "mark"}, "mark at least one criterion"),
        ({"csrf": csrf, "action": "delete"}, "choose approve, reject, correct or save marks"),
    ]
    for data, message in bad:
        response = client.post(url, data=data)
        assert response.status_code == 400, message
        assert message in response.text.replace("&#39;", "'"), message
    assert 'role="alert"' in response.text
    unchanged = {
        "csrf": csrf,
        "action": "correct",
        "reference_answer": record.reference_answer.replace("\n", "\r\n"),  # what a browser sends
        "finding": json_of(record.reference_output),
        "expected_tool_calls": json_of([c.model_dump() for c in record.expected_tool_calls]),
    }
    nothing = client.post(url, data=unchanged)
    assert nothing.status_code == 400 and "nothing changed" in nothing.text
    assert DecisionLog(dataset).all() == []

    kept = client.post(
        url, data={**unchanged, "reference_answer": "Corrected.\r\nSecond line."}, follow_redirects=False
    )
    assert kept.status_code == 303
    (decision,) = DecisionLog(dataset).all()
    assert decision.correction.model_dump(exclude_none=True) == {"reference_answer": "Corrected.\nSecond line."}


def json_of(value) -> str:
    return json.dumps(value, indent=2)


def test_the_version_page_filters_and_counts(workspace):
    client, dataset, examples = workspace
    base = f"/d/{dataset.name}/v/1"
    assert count(client.get(base).text) == len(examples)
    category = examples[0].category
    assert count(client.get(f"{base}?category={category}").text) == sum(e.category == category for e in examples)
    tag = next(t for e in examples for t in e.tags)
    assert count(client.get(f"{base}?tag={tag}").text) == sum(tag in e.tags for e in examples)
    assert count(client.get(f"{base}?difficulty=adversarial").text) == sum(
        e.difficulty == "adversarial" for e in examples
    )
    assert count(client.get(f"{base}?rounds=1").text) == sum(e.critique.rounds == 1 for e in examples)
    failed = next((c for e in examples for c in e.critique.failed_criteria()), "clear_conclusion")
    assert count(client.get(f"{base}?failed={failed}").text) == sum(
        failed in e.critique.failed_criteria() for e in examples
    )
    assert count(client.get(f"{base}?status=undecided").text) == len(examples)

    url = f"{base}/e/{examples[1].id}"
    client.post(url, data={"csrf": token(client.get(url).text), "action": "reject", "note": "out of date"})
    assert count(client.get(f"{base}?status=rejected").text) == 1
    assert count(client.get(f"{base}?status=undecided").text) == len(examples) - 1
    assert count(client.get(f"{base}?status=rejected&category=no-such-category").text) == 0


def test_pages_show_the_example_the_queue_and_publish(workspace):
    client, dataset, examples = workspace
    multi = next(e for e in examples if e.scenario is not None)
    page = client.get(f"/d/{dataset.name}/v/1/e/{multi.id}").text
    assert all(f"<strong>{turn.role}</strong>" in page for turn in multi.conversation)
    assert multi.scenario.goal in page and "Expected actions and end state" in page
    assert all(c.id in page for c in multi.critique.criteria)
    assert 'name="mark:clear_conclusion"' in page

    index = client.get("/").text
    assert f'href="/d/{dataset.name}"' in index
    queue = client.get(f"/d/{dataset.name}/queue").text
    refs = re.findall(rf'href="/d/{dataset.name}/queue/([^"]+)"', queue)
    assert refs and client.get(f"/d/{dataset.name}/queue/{refs[0]}").status_code == 200

    url = f"/d/{dataset.name}/v/1/e/{examples[0].id}"
    client.post(url, data={"csrf": token(client.get(url).text), "action": "approve", "mark:clear_conclusion": "pass"})
    assert re.search(r"<td>1</td>\s*</tr>", client.get("/").text)  # one pending decision
    overview = client.get(f"/d/{dataset.name}").text
    published = client.post(
        f"/d/{dataset.name}/publish",
        data={"csrf": token(overview, f"/d/{dataset.name}/publish")},
        follow_redirects=False,
    )
    assert published.status_code == 303 and published.headers["location"] == f"/d/{dataset.name}/v/2?published=1"
    shown = client.get(published.headers["location"]).text
    assert f"Published {dataset.name}@v2 from v1:" in shown and "1 approved" in shown
    nothing = client.post(
        f"/d/{dataset.name}/publish",
        data={"csrf": token(client.get(f"/d/{dataset.name}").text, f"/d/{dataset.name}/publish")},
    )
    assert nothing.status_code == 200 and "No pending decisions" in nothing.text


def test_marks_on_a_queue_item_are_saved_and_calibrated(workspace):
    """The queue holds the judge's failures: an SME's marks there are what calibration needs most."""
    from review.calibrate import calibrate
    from store.review import queue_items

    client, dataset, _ = workspace
    item = next(i for i in queue_items(dataset) if i.critiques and any(
        c.method == "judge" and not c.details.get("unscored") for c in i.critiques[-1].criteria))  # fmt: skip
    failed = next(c for c in item.critiques[-1].criteria if c.method == "judge" and not c.details.get("unscored"))
    url = f"/d/{dataset.name}/queue/{item.run_id}:{item.episode}"
    page = client.get(url).text
    assert f'name="mark:{failed.id}"' in page and f"judge: {'pass' if failed.passed else 'fail'}" in page
    empty = client.post(url, data={"csrf": token(page, None), "action": "mark"})
    assert empty.status_code == 400 and "mark at least one criterion" in empty.text
    saved = client.post(url, data={"csrf": token(page), "action": "mark", f"mark:{failed.id}": "fail"},
                        follow_redirects=False)  # fmt: skip
    assert saved.status_code == 303 and saved.headers["location"].endswith("?saved=mark")
    [decision] = DecisionLog(dataset).all()
    assert (decision.target, decision.action, decision.marks) == ("review_item", "mark", {failed.id: False})

    report = calibrate(dataset)
    [row] = [c for c in report.criteria if c.criterion == failed.id]
    assert row.n == 1 and report.ignored.not_in_version == 0
    assert (row.confusion.judge_pass_sme_fail, row.confusion.both_fail) == (int(failed.passed), int(not failed.passed))


def test_a_damaged_dataset_is_shown_as_such_and_the_others_are_listed(fresh_dataset, tmp_path):
    import shutil

    output, name = fresh_dataset
    shutil.copytree(output / name, output / "broken")
    info = json.loads((output / "broken" / "dataset.json").read_text())
    (output / "broken" / "dataset.json").write_text(json.dumps({**info, "name": "broken"}))
    manifest = output / "broken" / "versions" / "v0001.json"
    manifest.write_text(manifest.read_text().replace('"sha256": "', '"sha256": "0', 1))
    client = TestClient(create_app(str(output), "Grace Hopper"), base_url="http://127.0.0.1")
    page = client.get("/")
    assert page.status_code == 200
    assert 'href="/d/broken"' in page.text and "damaged: " in page.text
    assert f'href="/d/{name}/v/1"' in page.text
