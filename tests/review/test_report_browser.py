"""report.html in a real headless Chromium, offline: every plotly chart is drawn and nothing is fetched.

With GOLDSMITH_SCREENSHOTS=1 it also saves the page, 1280 pixels wide, to docs/images/report.png."""

import os
from pathlib import Path

import pytest

from review.decisions import DecisionLog, new_decision
from review.report import build_report
from review.report_html import write_report
from store.dataset import Dataset

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "images" / "report.png"
# CI installs Chromium and sets GOLDSMITH_BROWSER=required, so there a missing browser fails instead of skipping
REQUIRED = os.environ.get("GOLDSMITH_BROWSER") == "required"

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # the test extra brings it
    sync_playwright = None


def with_marks(output: Path, name: str) -> None:
    """Two reviewers' marks on every judged criterion, disagreeing with the judge on a few, so the calibration
    section has numbers to draw."""
    dataset = Dataset(output, name)
    log = DecisionLog(dataset)
    manifest = dataset.manifest()
    for k, record in enumerate(dataset.records(manifest)):
        judged = {c.id: c.passed for c in record.critique.criteria if c.method == "judge"}
        for reviewer, every in (("ana", 4), ("ben", 3)):
            marks = {c: passed if (k + i) % every else not passed for i, (c, passed) in enumerate(judged.items())}
            log.save(new_decision(name, manifest.version, target="example", ref=record.id, action="mark",
                                  reviewer=reviewer, marks=marks))  # fmt: skip


@pytest.mark.slow  # a real Chromium
@pytest.mark.skipif(
    (not CHROMIUM.exists() or sync_playwright is None) and not REQUIRED,
    reason="no /usr/bin/chromium or no playwright (pip install -e '.[test]') to render it",
)
def test_chromium_draws_every_chart_offline(fresh_dataset, tmp_path):
    output, name = fresh_dataset
    with_marks(output, name)
    page_file = write_report(build_report(Dataset(output, name)), tmp_path / "report.html")
    charts = page_file.read_text(encoding="utf-8").count('<div id="chart-')

    fetched: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:") else (
                fetched.append(route.request.url), route.abort()))  # fmt: skip
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(page_file.as_uri())
            page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {charts}")
            plots = page.locator(".js-plotly-plot").count()
            bars = page.locator(".js-plotly-plot .bars path").count()
            if os.environ.get("GOLDSMITH_SCREENSHOTS") == "1":
                SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(SCREENSHOT), full_page=True)
        finally:
            browser.close()
    assert charts >= 9 and plots == charts  # calibration included: the marks give it a chart
    assert bars > 0 and not errors and not fetched
