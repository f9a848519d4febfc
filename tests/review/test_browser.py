"""An SME's session in a real headless Chromium: correct one example's answer, reject another, approve a third with
criterion marks, publish, and find the decisions in the new version while the parent exports as before.

With GOLDSMITH_SCREENSHOTS=1 it also writes docs/images/review-example.png (the example page, 1280 wide)."""

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from main import cli
from review.app import create_app
from store.dataset import Dataset

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "images" / "review-example.png"
# CI installs Chromium and sets GOLDSMITH_BROWSER=required, so there a missing browser fails instead of skipping
REQUIRED = os.environ.get("GOLDSMITH_BROWSER") == "required"

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # the test extra is not installed
    sync_playwright = None

pytestmark = [
    pytest.mark.skipif(
        (sync_playwright is None or not CHROMIUM.exists()) and not REQUIRED,
        reason="needs playwright (pip install -e '.[test]') and /usr/bin/chromium",
    ),
    pytest.mark.slow,  # a real Chromium against a real server
]


@pytest.fixture
def server(fresh_dataset) -> Iterator[str]:
    """The workspace served by uvicorn in a thread on a free local port; yields its URL."""
    import uvicorn

    output, _ = fresh_dataset
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(create_app(str(output), "Grace Hopper"), host="127.0.0.1", port=port, log_level="warning")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not running.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    running.should_exit = True
    thread.join(10)


def export(output: Path, ref: str, path: Path) -> bytes:
    argv = ["dataset", "export", ref, "--out", str(path), "--output-dir", str(output)]
    assert CliRunner().invoke(cli, argv, catch_exceptions=False).exit_code == 0
    return path.read_bytes()


def test_an_sme_corrects_rejects_approves_and_publishes(server, fresh_dataset, tmp_path):
    output, name = fresh_dataset
    before = export(output, f"{name}@v1", tmp_path / "v1-before.jsonl")
    dataset = Dataset(output, name)
    examples = [r for r in dataset.records(dataset.manifest(1)) if r.scenario is None]
    fixed, rejected, approved = examples[:3]
    judged = [c.id for c in approved.critique.criteria if c.method == "judge"]
    assert judged, "the approved example has judged criteria to mark"
    new_answer = fixed.reference_answer + "\n\nChecked by an SME: the evidence above is the whole story."

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(server)
        page.click(f"a[href='/d/{name}']")
        page.click(f"a[href='/d/{name}/v/1']")
        page.click(f"a[href='/d/{name}/v/1/e/{fixed.id}']")
        assert page.locator("#criteria tr").count() == len(fixed.critique.criteria) + 1
        if os.environ.get("GOLDSMITH_SCREENSHOTS") == "1":
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.set_viewport_size({"width": 1280, "height": 1500})  # the conversation, the facts and the critique
            page.screenshot(path=str(SCREENSHOT))
            page.set_viewport_size({"width": 1280, "height": 1000})
        page.fill("#reference_answer", new_answer)
        page.click("button[value=correct]")
        assert page.locator("[role=status]").inner_text() == "Correction saved."

        page.goto(f"{server}/d/{name}/v/1/e/{rejected.id}")
        page.click("button[value=reject]")  # no reason yet: shown again with the message
        assert "a rejection needs a reason" in page.locator("[role=alert]").inner_text()
        page.fill("#note", "The request names no customer we hold.")
        page.click("button[value=reject]")
        assert page.locator("[role=status]").inner_text() == "Rejected."

        page.goto(f"{server}/d/{name}/v/1/e/{approved.id}")
        page.check(f"input[name='mark:{judged[0]}'][value=fail]")
        page.click("button[value=approve]")
        assert page.locator("[role=status]").inner_text() == "Approved."
        assert "marks: " + judged[0] + " fail" in page.content()

        page.goto(f"{server}/d/{name}")
        assert "3 pending decisions" in page.locator(".card").first.inner_text()
        page.click("text=Publish as v2")
        page.wait_for_url(f"{server}/d/{name}/v/2?published=1")
        message = page.locator("[role=status]").inner_text()
        assert f"Published {name}@v2 from v1:" in message and "1 approved, 1 rejected, 1 corrected" in message
        browser.close()

    after = Dataset(output, name)
    v2 = {r.id: r for r in after.records(after.manifest(2))}
    assert len(v2) == after.manifest(1).records - 1 and rejected.id not in v2
    assert v2[fixed.id].reference_answer == new_answer
    assert v2[fixed.id].provenance.review.reviewer == "Grace Hopper"
    assert v2[fixed.id].provenance.review.original == {"reference_answer": fixed.reference_answer}
    assert v2[approved.id].provenance.review.marks == {judged[0]: False}
    assert export(output, f"{name}@v1", tmp_path / "v1-after.jsonl") == before
