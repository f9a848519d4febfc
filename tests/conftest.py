"""Test setup: no network, no real AWS, no telemetry; every test writes under its own temp dir."""

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

os.environ.update(
    {
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "CREWAI_DISABLE_TELEMETRY": "true",
        "OTEL_SDK_DISABLED": "true",
        "CREWAI_TRACING_ENABLED": "false",
        "DEEPEVAL_TELEMETRY_OPT_OUT": "YES",
        "RAGAS_DO_NOT_TRACK": "true",
    }
)


@pytest.fixture
def cli(tmp_path):
    """Run `main.py` commands in-process against a temp output dir; returns the click Result."""
    from click.testing import CliRunner

    from main import cli as app

    runner = CliRunner()

    def invoke(*args: str, output_dir: Path | None = None):
        argv = list(args)
        if args and args[0] in {"generate", "revalidate", "dataset"}:
            argv += ["--output-dir", str(output_dir or tmp_path / "output")]
        return runner.invoke(app, argv, catch_exceptions=False)

    return invoke


@pytest.fixture
def s3():
    """moto's in-process S3 with an empty bucket `goldens`; yields the boto3 client."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="goldens")
        yield client
