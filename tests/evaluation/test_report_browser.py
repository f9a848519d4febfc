"""report.html rendered by a real headless Chromium: the leaderboard, the candidates and the charts are in the DOM,
and a link to a golden opens its answers."""

import os
import subprocess
from pathlib import Path

import pytest

from evaluation.report import summary, write_html
from tests.evaluation.test_report import META, RATES, make_results

CHROMIUM = Path("/usr/bin/chromium")


def rendered_dom(url: str) -> str:
    """The DOM after Chromium loaded `url` and ran its scripts."""
    command = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    return done.stdout


# CI installs Chromium and sets GOLDSMITH_BROWSER=required, so there a missing browser fails instead of skipping
REQUIRED = os.environ.get("GOLDSMITH_BROWSER") == "required"


@pytest.mark.skipif(
    not CHROMIUM.exists() and not REQUIRED, reason="no /usr/bin/chromium (apt-get install chromium) to render it"
)
def test_chromium_renders_the_report(tmp_path):
    results = make_results(RATES)
    path = tmp_path / "report.html"
    write_html(summary(results, META), results, path)

    dom = rendered_dom(path.as_uri() + "#g-0000")
    assert '<table id="leaderboard">' in dom
    board = dom[dom.index('<table id="leaderboard">') : dom.index("</table>")]
    assert all(f"{name}</td>" in board for name in RATES)
    assert '<svg id="category-chart"' in dom and dom.count('<svg class="histogram"') == len(RATES)
    assert "<rect" in dom
    assert '<details id="g-0000" open="">' in dom  # the link's target opened by the page's script
    assert '<details id="g-0010">' in dom
