"""Malformed and throttled model output in a whole run: the run completes and nothing invalid is written."""

import json

from store.records import Example, ReviewItem


def test_a_run_with_malformed_and_throttled_models_completes_and_writes_only_valid_records(cli, tmp_path):
    result = cli(
        "generate", "--count", "30", "--seed", "7", "--sim-malformed-rate", "0.2", "--sim-throttle-rate", "0.3"
    )
    assert result.exit_code == 0, result.output
    out = tmp_path / "output" / "kyc"
    summary = json.loads(next((out / "runs").glob("*/summary.json")).read_text())
    assert summary["episodes"] == summary["accepted"] + summary["rejected"] + summary["failed"] == 30
    assert summary["model_stats"]["simulated"]["transient_errors"] > 0, "throttled calls were retried"
    records = [line for path in (out / "batches").glob("*.jsonl") for line in path.read_text().splitlines()]
    assert len(records) == summary["added"] > 0
    for line in records:
        Example.model_validate_json(line)
    review = [
        ReviewItem.model_validate_json(line)
        for p in (out / "review").glob("*.jsonl")
        for line in p.read_text().splitlines()
    ]
    malformed = [item for item in review if item.reasons == ["malformed_output"]]
    assert malformed, "with this seed some outputs never validate within output_retries"
    assert all("structured output failed validation 3 times" in (item.error or "") for item in malformed)
    assert cli("dataset", "verify", "kyc").exit_code == 0
