"""The KYC world, its labeller and its cases: truth is computed from what the tools return, outcomes are not
readable from the request, hard cases are tagged, each case is drawn once, and the simulated analyst reaches
every label from the tools alone."""

import ast
import itertools
import json
import re
import string
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from agents.simulated.model import STRUCTURED_OUTPUT_MARK, ModelCall
from simulation.domains import get_domain
from simulation.domains.kyc import analyst as analyst_module
from simulation.domains.kyc.analyst import KycAnalystPolicy, request_type
from simulation.domains.kyc.cases import ALERT_REASONS, CATEGORIES, CONVERSATIONS, PERIODS, pool
from simulation.domains.kyc.rules import CATEGORY_VERDICTS, JURISDICTIONS, REVIEWS, label_world
from simulation.domains.kyc.text import name_similarity
from simulation.domains.kyc.tools import KycTools
from simulation.domains.kyc.world import LOOK_ALIKE_MAX, SCREENING_FLOOR, build_world

DOMAIN = get_domain("kyc")
MIX = DOMAIN.card.category_mix
STANDARD_TYPES = ("cash_activity", "funds_movement", "counterparty_screening", "identity_review")
_SENTENCE_END = re.compile(r"(?<=[.?!])\s+")  # how the simulated user splits an example to join two


@pytest.fixture(scope="module", params=[1, 2, 3])
def world(request):
    return build_world(request.param)


@pytest.fixture(scope="module")
def world1():
    return build_world(1)


def test_world_is_a_function_of_its_seed(world):
    fresh = build_world.__wrapped__  # bypass the cache: really build it again
    assert fresh(world.world_seed).model_dump() == world.model_dump()
    assert fresh(world.world_seed + 10).model_dump() != world.model_dump()


def test_a_world_builds_in_reasonable_time():
    started = time.perf_counter()
    build_world.__wrapped__(7)
    assert time.perf_counter() - started < 8  # about 1.5 s on a quiet machine; shared CI runners are slower


def test_the_labeller_gives_every_plant_its_intended_label_and_labels_background_customers_too(capsys):
    """The generator plants; the labeller decides from the tools' outputs, for every customer. A plant whose
    label differs from its intent is a generator bug; a background customer it flags is a valid case."""
    report = []
    for seed in range(1, 6):
        world = build_world(seed)
        wrong = []
        for plant in world.planted:
            label = world.label(plant.customer_id, plant.request_type)
            verdict = CATEGORY_VERDICTS[plant.request_type][plant.category]
            if (label.category, label.verdict) != (plant.category, verdict) or not set(plant.tags) <= set(label.tags):
                wrong.append((plant, label.category, label.verdict, label.tags))
        assert not wrong, wrong[:3]
        planted = {(p.customer_id, p.request_type) for p in world.planted}
        background = [
            label
            for label in world.labels
            if label.request_type in REVIEWS and (label.customer_id, label.request_type) not in planted
        ]
        assert len(world.labels) >= len(world.customers) * len(REVIEWS)
        flagged = [label for label in background if label.verdict != "not_suspicious"]
        notable = Counter(
            label.category
            for label in background
            if label.category not in {"quiet_cash", "quiet_funds", "no_hit", "identity_match"}
        )
        report.append(
            f"world {seed}: {len(world.planted)} plants all labelled as meant; {len(background)} background "
            f"reviews, {len(flagged)} flagged (verdict other than not_suspicious), outside the quiet categories: "
            f"{dict(notable)}"
        )
    with capsys.disabled():
        print("\n" + "\n".join(report))


def test_labels_are_the_labellers_output_over_every_customer(world):
    assert label_world(world) == world.labels
    reviews = Counter(label.request_type for label in world.labels)
    assert all(reviews[review] == len(world.customers) for review in REVIEWS)
    ambiguous = [label for label in world.labels if label.request_type == "name_lookup"]
    assert ambiguous and all(len(label.evidence_ids) >= 2 for label in ambiguous)


def test_every_label_cites_evidence_that_exists(world):
    for label in world.labels:
        assert world.has_id(label.customer_id)
        assert all(world.has_id(i) for i in label.evidence_ids), label


def test_planted_patterns_have_their_shape(world1):
    world = world1
    for plant in world.planted:
        label = world.label(plant.customer_id, plant.request_type)
        customer = world.by_id[plant.customer_id]
        threshold = JURISDICTIONS[customer.country].cash_threshold
        if plant.category == "structuring":
            amounts = [world.by_id[i].amount for i in label.evidence_ids]
            assert len(amounts) >= 3 and all(0.9 * threshold <= a <= threshold for a in amounts)
        if plant.category == "sanctions_false_positive" and plant.variant == "company":
            cp = world.by_id[label.evidence_ids[0]]
            entry = world.by_id[label.evidence_ids[1]]
            assert SCREENING_FLOOR <= name_similarity(cp.name, entry.name) <= LOOK_ALIKE_MAX
            assert cp.country != entry.country and cp.registration_number != entry.registration_number
        if plant.category == "prompt_injection":
            assert any("AI REVIEWER" in d.text for d in world.documents_by_customer[plant.customer_id])
    countries = Counter(c.country for c in world.customers)
    assert {"US", "GB", "CH", "DK"} <= set(countries)
    assert sum(len(c.account_ids) > 1 for c in world.customers) > 150
    currencies = {(a.currency, world.by_id[a.customer_id].country) for a in world.accounts}
    assert all(JURISDICTIONS[country].currency == currency for currency, country in currencies)


def test_no_request_type_gives_its_verdict_away_in_the_default_mix():
    """At least two verdicts per request type, none above 60% of its weight; the adversarial share is small."""
    weights: dict[str, Counter] = defaultdict(Counter)
    for category, weight in MIX.items():
        if category in CONVERSATIONS:  # they draw each verdict evenly (tests/simulation/test_conversations.py)
            continue
        spec = CATEGORIES[category]
        if spec.difficulty == "standard" or category == "prompt_injection":
            weights[spec.request_type][CATEGORY_VERDICTS[spec.review][spec.outcomes[0]]] += weight
    for request, verdicts in weights.items():
        total = sum(verdicts.values())
        assert len(verdicts) >= 2, request
        assert max(verdicts.values()) / total <= 0.6, (request, verdicts)
    assert set(weights) == set(STANDARD_TYPES)
    adversarial = sum(w for c, w in MIX.items() if DOMAIN.categories[c] == "adversarial") / sum(MIX.values())
    assert 0.03 <= adversarial <= 0.1


def test_three_runs_give_900_distinct_cases_with_the_mix_intact(world1):
    """Seeds 1, 2, 3 into one dataset, each leaving out what the dataset holds: no category runs out."""
    held: frozenset[str] = frozenset()
    drawn = []
    for seed in (1, 2, 3):
        cases = DOMAIN.draw_cases(world1, seed, 300, held)
        assert len(cases) == 300
        held |= {c.key for c in cases}
        drawn += cases
    assert len(held) == 900
    counts = Counter(c.category for c in drawn)
    for category in MIX:
        if category in CONVERSATIONS or CATEGORIES[category].review is None:
            continue
        keys = {
            f"{category}:{','.join(lb.evidence_ids) if category == 'ambiguous_name' else lb.customer_id}"
            for lb in pool(world1, category)
        }
        assert len(keys) > counts[category], f"{category} ran out: {len(keys)} cases, {counts[category]} drawn"
    distinct = sum(len(pool(world1, c)) for c in CATEGORIES if CATEGORIES[c].review is not None)
    assert distinct >= 1100


def test_every_drawn_case_round_trips_through_its_key(world):
    for case in DOMAIN.draw_cases(world, seed=5, count=300):
        assert DOMAIN.case_for_key(world, case.key) == case.model_copy(update={"index": 0})
    with pytest.raises(LookupError):
        DOMAIN.case_for_key(world, "structuring:C-9999")
    quiet = next(lb for lb in world.labels if lb.request_type == "cash_activity" and lb.category == "quiet_cash")
    with pytest.raises(LookupError):
        DOMAIN.case_for_key(world, f"structuring:{quiet.customer_id}")


def test_expected_tools_depend_on_the_request_type_only(world):
    """The tools an expert needs before knowing the answer: the same names for every case of a request type."""
    names: dict[str, set[tuple[str, ...]]] = defaultdict(set)
    for category in CATEGORIES:
        for label in pool(world, category):
            names[CATEGORIES[category].request_type].add(tuple(sorted({c.name for c in label.expected_calls})))
    assert all(len(sets) == 1 for sets in names.values()), names
    assert names["cash_activity"] == {("get_customer_profile", "get_linked_accounts", "get_transactions")}
    assert names["funds_movement"] == {("get_customer_profile", "get_kyc_documents", "get_transactions")}
    assert names["counterparty_screening"] == {("get_customer_profile", "get_transactions", "screen_sanctions")}
    assert names["identity_review"] == {("get_customer_profile", "get_kyc_documents")}


def test_cases_carry_hardness_tags_and_neutral_briefs(world):
    cases = DOMAIN.draw_cases(world, seed=5, count=600)  # enough for the rarest categories of the mix
    assert {c.category for c in cases} == set(MIX)
    assert sum(bool(c.tags) for c in cases) / len(cases) >= 0.2
    tags = Counter(t for c in cases for t in c.tags)
    assert {"near_threshold", "split_across_accounts", "linked_account", "foreign_jurisdiction", "pep"} <= set(tags)
    reasons: dict[str, dict[str, set]] = defaultdict(lambda: defaultdict(set))
    for case in cases:
        if case.request_type in ALERT_REASONS:
            assert case.brief["alert_reason"] in ALERT_REASONS[case.request_type]
            assert case.brief["period"] in PERIODS
            reasons[case.request_type][case.facts.verdict].add(case.brief["alert_reason"])
    for request in STANDARD_TYPES:  # every verdict of a type is reached from the same alert wordings
        by_verdict = reasons[request]
        common = set.intersection(*by_verdict.values())
        assert len(common) >= 2, (request, by_verdict)
    templates = DOMAIN.card.user_simulator.example_questions
    for case in cases:  # every placeholder of a request type's examples is in every brief of that type
        for template in templates[case.request_type]:
            assert {f for _, f, _, _ in string.Formatter().parse(template) if f} <= case.brief.keys(), case.key
    forms = Counter(
        next((f for f in ("customer_id", "account_id", "customer_name") if f in c.brief), "") for c in cases
    )
    assert forms["account_id"] > 0 and forms["customer_name"] > 0


def _combinations(templates: list[str]) -> list[str]:
    """Every example, and the first sentences of one joined to the last sentence of another (as the simulated
    user does)."""
    out = list(templates)
    for a, b in itertools.permutations(templates, 2):
        head, tail = _SENTENCE_END.split(a), _SENTENCE_END.split(b)
        if len(head) > 1 and len(tail) > 1:
            out.append(" ".join([*head[:-1], tail[-1]]))
    return out


def test_every_request_the_simulated_user_can_write_reads_as_its_request_type(world1):
    """The simulated analyst must understand every request: each example and each join of two, about every
    form of subject, with any alert reason, period, opener and closer, names the subject and reads as its type."""
    card = DOMAIN.card.user_simulator
    cases = DOMAIN.draw_cases(world1, seed=5, count=300)
    briefs: dict[str, list[dict]] = defaultdict(list)
    for case in cases:
        briefs[case.request_type].append(case.brief)
    openers, closers = card.openers or [""], card.closers or [""]
    for kind, templates in card.example_questions.items():
        expected = "counterparty_screening" if kind == "skip_screening" else kind
        for brief in briefs.get(kind, [])[:12] or [{"request_type": kind}]:
            fields = {k: v for k, v in brief.items() if isinstance(v, str)}
            identifiers = [v for k, v in fields.items() if k in {"customer_id", "account_id", "customer_name"}]
            for text in _combinations(templates):
                used = {name for _, name, _, _ in string.Formatter().parse(text) if name}
                assert used <= fields.keys(), (kind, text, brief)  # every placeholder is in every brief
                for opener, closer in itertools.product(openers[:2], closers[:2]):
                    request = f"{opener} {text.format_map(fields)} {closer}".strip()
                    assert request_type(request) == expected, request
                    assert not identifiers or any(i in request for i in identifiers), request


def test_the_mission_states_the_rules_the_labels_are_computed_with():
    mission = " ".join(DOMAIN.card.task_agent.mission.split())
    for country, rule in JURISDICTIONS.items():
        assert country in mission
        assert f"{rule.currency} {rule.cash_threshold:,.0f}" in mission, (country, rule)
    for phrase in ("90% of T", "Three or more band deposits within 30 consecutive days", "2 x T", "within 1%",
                   "80-100%", "0-3 days", "BOTH the country and that identifier differ", "2026-09-30",
                   "Mohammed = Muhammad"):  # fmt: skip
        assert phrase in mission, phrase


def test_the_analyst_reads_no_world_labels_or_cases():
    """The simulated task model decides from tool outputs and the written rules only."""
    source = Path(analyst_module.__file__).read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
            imported.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    kyc = {m for m in imported if m.startswith("simulation.domains.kyc")}
    assert kyc <= {
        "simulation.domains.kyc",
        "simulation.domains.kyc.rules",
        *(f"simulation.domains.kyc.rules.{n}" for n in ("JURISDICTIONS", "TYPOLOGY", "Missing", "Outcome")),
        "simulation.domains.kyc.actions",  # the written rule for which action a verdict calls for
        "simulation.domains.kyc.actions.action_for",
    }, kyc
    assert not re.search(r"\b(labels?|planted|build_world|KycWorld|facts)\b\s*[\[.(]", source)
    rules_source = Path(analyst_module.rules.__file__).read_text()
    top_level = [n for n in ast.parse(rules_source).body if isinstance(n, ast.ImportFrom)]
    assert all("world" not in (n.module or "") and "cases" not in (n.module or "") for n in top_level)


def _drive(policy: KycAnalystPolicy, tools: KycTools, request: str) -> tuple[dict, list[tuple[str, dict]]]:
    """Run the simulated analyst against the tools, as the agent loop would: its tool calls, then its finding."""
    messages = [{"role": "user", "content": [{"text": request}]}]
    spec = [{"name": "KycFinding", "description": STRUCTURED_OUTPUT_MARK, "inputSchema": {}}]
    calls = []
    for turn in range(40):
        reply = policy.reply(ModelCall(system_prompt="", messages=messages, tool_specs=spec, seed=1))
        (name, tool_input), *more = reply.tool_calls
        if name == "KycFinding":
            return tool_input, calls
        uses, results = [], []
        for i, (tool_name, args) in enumerate(reply.tool_calls):
            calls.append((tool_name, args))
            use_id = f"t{turn}-{i}"
            try:
                output, status = json.dumps(getattr(tools, tool_name)(**args)), "success"
            except ValueError as exc:
                output, status = f"Error: {exc}", "error"
            uses.append({"toolUse": {"toolUseId": use_id, "name": tool_name, "input": args}})
            results.append({"toolResult": {"toolUseId": use_id, "status": status, "content": [{"text": output}]}})
        messages += [{"role": "assistant", "content": uses}, {"role": "user", "content": results}]
    raise AssertionError("the analyst never concluded")


def test_the_analyst_reaches_every_label_from_the_tools_alone(world1):
    """Every kind of case, every form of subject: the verdict, typology and key evidence of the label, with the
    expected tools and nothing outside the expected and allowed ones."""
    tools = KycTools(world1)
    policy = KycAnalystPolicy(defect_rate=0.0)
    templates = DOMAIN.card.user_simulator.example_questions
    seen = Counter()
    for i, case in enumerate(DOMAIN.draw_cases(world1, seed=11, count=500)):
        fields = {k: v for k, v in case.brief.items() if isinstance(v, str | int)}
        options = templates[case.request_type]
        request = options[i % len(options)].format_map(fields) if case.request_type != "off_topic" else options[0]
        if case.scenario and case.scenario.private_facts:  # the question, once the user said what was asked
            request += f" Born {case.scenario.private_facts['date_of_birth']}."
        finding, calls = _drive(policy, tools, request)
        assert (finding["verdict"], finding["typology"]) == (case.facts.verdict, case.facts.typology), (
            case.key,
            request,
        )
        assert set(case.facts.evidence_ids) <= set(finding["evidence_ids"]), case.key
        called = {name for name, _ in calls}
        expected = {c.name for c in case.expected_tool_calls}
        assert expected <= called <= expected | {c.name for c in case.allowed_tool_calls}, (case.key, calls)
        seen[case.category] += 1
        if case.category == "sanctioned_counterparty":
            assert "block" in finding["answer"] and "report" in finding["answer"]
        if case.category == "pep_match":
            assert "enhanced due diligence" in finding["answer"]
        if case.category == "identity_mismatch":
            assert "but the profile says" in finding["answer"]
        if case.category == "sanctions_false_positive":
            assert " vs " in finding["answer"] and "differ" in finding["answer"]
    assert set(seen) == set(MIX)


def test_tools_answer_from_the_world_and_reject_unknown_ids(world):
    tools = {t.tool_name: t for t in DOMAIN.tools(world)}
    assert len(tools) == 8
    customer = world.customers[0]
    profile = tools["get_customer_profile"](customer_id=customer.id)
    assert profile["name"] == customer.name and [a["id"] for a in profile["accounts"]] == customer.account_ids
    assert tools["get_account"](account_id=customer.account_ids[0])["customer_id"] == customer.id
    rows = tools["get_transactions"](account_id=customer.account_ids[0], kind="salary")
    assert rows and all(r["kind"] == "salary" and r["currency"] == profile["accounts"][0]["currency"] for r in rows)
    with pytest.raises(ValueError, match="no customer"):
        tools["get_customer_profile"](customer_id="C-9999")
    entry = next(e for e in world.sanctions if e.kind == "sanctions" and e.entity_type == "company")
    hit = tools["screen_sanctions"](names=[entry.name])[0]
    assert hit["score"] == 1.0 and hit["registration_number"] == entry.registration_number


def test_world_dump_is_json_with_every_part(world):
    dumped = json.loads(DOMAIN.dump_world(world))
    assert dumped["world_seed"] == world.world_seed and len(dumped["transactions"]) == len(world.transactions)
    assert re.fullmatch(r"\d+", dumped["domain_version"]) and dumped["domain_version"] == "2"
    assert len(dumped["labels"]) == len(world.labels) and len(dumped["planted"]) == len(world.planted)
