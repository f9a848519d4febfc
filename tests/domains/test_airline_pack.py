"""The airline example pack (examples/domains/airline), used as an outside user would: installed with pip, found
through its `goldsmith.domains` entry point, and run end to end through the CLI in a fresh interpreter."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections import Counter
from importlib import metadata
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow  # the whole pack end to end in subprocesses

ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "examples" / "domains" / "airline"
RUBRIC = PACK / "goldsmith_airline" / "rubric.yaml"


@pytest.fixture(scope="module")
def installed() -> None:
    """The pack installed (editable, as its README says); importable in this process too."""
    try:
        metadata.distribution("goldsmith-airline")
    except metadata.PackageNotFoundError:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "-e", str(PACK)],
            capture_output=True,
            text=True,
        )
        if done.returncode:
            pytest.skip(f"pip could not install the airline pack: {done.stderr.strip()[-400:]}")
    if importlib.util.find_spec("goldsmith_airline") is None:  # installed after this interpreter started
        sys.path.insert(0, str(PACK))


def goldsmith(*args: str) -> subprocess.CompletedProcess:
    """`python main.py ARGS` in a fresh interpreter (one that sees the installed pack), run from the pack's directory
    (so no goldsmith.yaml of the checkout puts real models in)."""
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args], capture_output=True, text=True, cwd=PACK, timeout=600
    )


def ok(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def dataset(installed, tmp_path_factory) -> tuple[Path, list[dict]]:
    """`generate --domain airline --count 20 --seed 1`, then its records as `dataset export --format jsonl`."""
    out = tmp_path_factory.mktemp("airline")
    ok(goldsmith("generate", "--domain", "airline", "--count", "20", "--seed", "1", "--output-dir", str(out)))
    exported = out / "airline.jsonl"
    ok(goldsmith("dataset", "export", "airline", "--output-dir", str(out), "--format", "jsonl", "--out", str(exported)))
    return out, [json.loads(line) for line in exported.read_text().splitlines()]


def test_the_pack_is_found_by_its_entry_point(installed):
    from goldsmith_airline import AirlineDomain

    from simulation.domains import get_domain

    domain = get_domain("airline")
    assert isinstance(domain, AirlineDomain)
    assert domain.rubric_path == RUBRIC
    assert {"follow_up_refund", "push_back", "follow_up_rebook"} <= set(domain.card.category_mix)


def test_generate_accepts_conversations_that_leave_the_expected_end_state(dataset):
    _, records = dataset
    assert len(records) >= 15
    assert all(r["domain"] == "airline" for r in records)
    talks = [r for r in records if r["scenario"] is not None]
    assert talks and any(r["expected_actions"] for r in talks)
    assert all(r["end_state"] == r["expected_end_state"] for r in records)
    refunds = [a for r in talks for a in r["expected_actions"] if a["name"] == "issue_refund"]
    assert all(a["input"]["amount"] > 0 for a in refunds)


def test_audit_and_exports(dataset, tmp_path):
    out, records = dataset
    assert "shortcut" in ok(goldsmith("dataset", "audit", "airline", "--output-dir", str(out)))
    tests = tmp_path / "promptfooconfig.yaml"
    export = ("dataset", "export", "airline", "--output-dir", str(out), "--format", "promptfoo", "--out", str(tests))
    ok(goldsmith(*export))
    assert len(yaml.safe_load(tests.read_text())) == len(records)


def test_evaluate_tells_the_simulated_agent_from_the_majority_baseline(dataset, tmp_path):
    out, _ = dataset
    ev = tmp_path / "ev"
    candidates = ("--agent", "sim", "--agent", "baseline:majority")
    ok(goldsmith("evaluate", "airline", *candidates, "--output-dir", str(out), "--out", str(ev)))
    board = {row["candidate"]: row for row in json.loads((ev / "summary.json").read_text())["leaderboard"]}
    sim, majority = board["sim"]["pass_rate"]["value"], board["baseline:majority"]["pass_rate"]["value"]
    assert sim >= 0.9
    assert majority <= sim - 0.5


def test_the_pack_keeps_the_contract_and_its_rubric_passes_its_own_suites(installed):
    ok(goldsmith("domain", "check", "airline"))
    assert "ok" in ok(goldsmith("rubric", "check", str(RUBRIC)))
    assert "0 surprise(s)" in ok(goldsmith("rubric", "test", str(RUBRIC)))


@pytest.mark.parametrize("world_seed", [1, 2, 3])
def test_the_labeller_gives_every_planted_booking_its_intended_refund(installed, world_seed):
    from goldsmith_airline.world import build_world

    world = build_world(world_seed)
    refunds = {label.subject: label for label in world.labels_by_aspect["refund"]}
    wrong = [
        (plant.booking_id, plant.profile, refunds[plant.booking_id].verdict)
        for plant in world.planted
        if (refunds[plant.booking_id].verdict, refunds[plant.booking_id].typology) != (plant.refund, plant.typology)
    ]
    assert not wrong
    assert len(world.planted) == len(world.bookings)


def test_drawn_cases_are_rebuilt_from_their_keys_and_say_nothing_of_their_verdict(installed):
    from simulation.domains import get_domain

    domain = get_domain("airline")
    world = domain.build_world(1)
    cases = domain.draw_cases(world, seed=7, count=300)
    assert len({c.key for c in cases}) == len(cases)
    for case in cases:
        rebuilt = domain.case_for_key(world, case.key)
        assert rebuilt.model_copy(update={"index": case.index}) == case
    by_type: dict[str, Counter] = {}
    for case in cases:
        if case.difficulty == "standard":
            by_type.setdefault(case.request_type, Counter())[case.facts.verdict] += 1
    for request_type, verdicts in by_type.items():
        assert len(verdicts) > 1, request_type
        assert max(verdicts.values()) / sum(verdicts.values()) <= 0.6, (request_type, verdicts)


def test_actions_change_one_desk_through_one_rule(installed):
    from goldsmith_airline.actions import apply_action

    from simulation.domains import get_domain
    from simulation.domains.base import end_state
    from store.records import ToolCall

    domain = get_domain("airline")
    world = domain.build_world(1)
    desk = domain.action_desk(world)
    tools = {t.tool_name: t for t in desk.tools}
    booking = next(b for b in world.bookings if b.status == "confirmed" and b.price > 100)
    tools["issue_refund"](booking_id=booking.id, amount=40.0)
    with pytest.raises(ValueError, match="exceed"):
        tools["issue_refund"](booking_id=booking.id, amount=booking.price)
    refund = ToolCall(name="issue_refund", input={"booking_id": booking.id, "amount": 40.0})
    expected = end_state(apply_action, [refund])
    assert desk.state == expected == {booking.id: {"refunded": 40.0, "status": "cancelled"}}
    with pytest.raises(ValueError, match="cancelled"):
        apply_action(desk.state, "rebook", {"booking_id": booking.id, "flight_id": booking.flight_id})
    assert domain.action_desk(world).state == {}
