"""`dataset audit`: the shortcut score, distinct cases, tags, mix and verbatim fills, computed from the records."""

import json
from collections import Counter

import pytest

from simulation.audit import _pattern, audit
from store.dataset import Dataset


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    from click.testing import CliRunner

    from main import cli

    out = tmp_path_factory.mktemp("audit") / "output"
    result = CliRunner().invoke(cli, ["generate", "--count", "60", "--seed", "2", "--output-dir", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_the_audit_is_computed_from_the_records(generated):
    dataset = Dataset(generated, "kyc")
    records = list(dataset.records(dataset.latest()))
    result = audit(dataset)
    assert result.records == len(records) == sum(t.records for t in result.request_types.values())
    for name, t in result.request_types.items():
        verdicts = Counter(r.facts.verdict for r in records if r.request_type == name)
        assert t.verdicts == dict(verdicts.most_common())
        assert t.majority_accuracy == round(verdicts.most_common(1)[0][1] / t.records, 4)
    hits = sum(t.majority_accuracy * t.records for t in result.request_types.values())
    assert result.majority_accuracy == round(hits / len(records), 4)
    assert result.distinct_cases == len({r.case_key for r in records}) and result.repeated_cases == 0
    assert result.tagged_share == round(sum(bool(r.tags) for r in records) / len(records), 4)
    assert sum(share.records for share in result.mix.values()) == pytest.approx(1, abs=0.01)


def test_the_cli_prints_a_table_or_json(cli, generated):
    table = cli("dataset", "audit", "kyc", output_dir=generated)
    assert table.exit_code == 0 and "shortcut" in table.output and "distinct cases" in table.output
    data = json.loads(cli("dataset", "audit", "kyc@v1", "--json", output_dir=generated).output)
    assert data["version"] == 1 and set(data) >= {"request_types", "majority_accuracy", "verbatim_fill_share"}


def test_a_request_is_a_verbatim_fill_only_when_it_is_the_template_filled_in():
    pattern = _pattern("Please review {customer_id} for {period}.")
    assert pattern.fullmatch("Please review C-0042 for the last 90 days.")
    assert not pattern.fullmatch("Hi, please review C-0042 for the last 90 days.")
    assert not pattern.fullmatch("Please review C-0042 for the last 90 days. Thanks!")


def generate_into(out, domain: str, count: int, seed: int):
    from click.testing import CliRunner

    from main import cli

    args = ["generate", "--domain", domain, "--count", str(count), "--seed", str(seed), "--output-dir", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return result


@pytest.mark.slow
@pytest.mark.parametrize("domain", ["kyc", "crypto"])
def test_a_300_case_dataset_is_worth_evaluating_on(domain, tmp_path):
    """No request type gives its answer away, a fifth of the cases are hard, no case repeats, and most requests
    are not an example question filled in; and three runs of 300 give 900 distinct cases."""
    out = tmp_path / "output"
    generate_into(out, domain, 300, 1)
    dataset = Dataset(out, domain)
    result = audit(dataset)
    standard = {name: t for name, t in result.request_types.items() if not t.adversarial}
    assert all(t.majority_accuracy <= 0.6 for t in standard.values()), standard
    assert result.majority_accuracy <= 0.5
    assert result.tagged_share >= 0.2
    assert result.repeated_cases == 0
    assert result.verbatim_fill_share <= 0.5
    summary = json.loads(next((out / domain / "runs").glob("*/summary.json")).read_text())
    assert summary["top_reasons"].get("duplicate", 0) + summary["top_reasons"].get("near_duplicate", 0) <= 30
    for seed in (2, 3):
        generate_into(out, domain, 300, seed)
    everything = audit(Dataset(out, domain))
    assert everything.records == everything.distinct_cases and everything.repeated_cases == 0
    assert everything.distinct_cases >= 0.97 * 900  # a few requests per run can be turned away as duplicates
