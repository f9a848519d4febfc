"""Publishing a dataset version to Amazon Bedrock AgentCore Evaluations as a managed, versioned dataset.

The first publish creates the AgentCore dataset with the version's examples (the `agentcore` or
`agentcore-simulated` export), waits until it is ACTIVE and creates an AgentCore version. A later Goldsmith
version sends only the examples AgentCore does not hold yet (`AddDatasetExamples`) and creates the next
AgentCore version; a version already published sends nothing. Examples go inline, up to the API's 1,000 per call,
or through S3 (`s3_uri`) for large versions.

What was published is recorded beside the dataset's manifests (which are immutable), in
`<dataset>/published/agentcore-<schema>.json`: the AgentCore dataset id, and per Goldsmith version the AgentCore
version and the scenario ids sent. It is written only once AgentCore reports the version, so a failed publish
leaves nothing half-recorded; publishing again resumes from what was recorded.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any, Literal

from pydantic import Field

from config import InputError, RunFailed
from store.dataset import Dataset
from store.records import Strict

SCHEMAS = {"predefined": "AGENTCORE_EVALUATION_PREDEFINED_V1", "simulated": "AGENTCORE_EVALUATION_SIMULATED_V1"}
FORMAT_OF = {"predefined": "agentcore", "simulated": "agentcore-simulated"}
CHUNK = 1000  # examples per inline request (the API's limit)
SETTLED = {"ACTIVE", "CREATE_FAILED", "UPDATE_FAILED", "DELETE_FAILED"}


class PublishedVersion(Strict):
    agentcore_version: str
    examples: int = Field(description="examples AgentCore holds in this version")
    sent: list[str] = Field(default_factory=list, description="scenario ids this version added")


class Published(Strict):
    """What a dataset has published to one AgentCore dataset."""

    dataset_id: str
    dataset_arn: str
    dataset_name: str
    schema_type: str
    region: str | None = None
    versions: dict[str, PublishedVersion] = Field(default_factory=dict)

    def sent(self) -> set[str]:
        return {i for v in self.versions.values() for i in v.sent}


class PublishOutcome(Strict):
    dataset_id: str
    dataset_name: str
    goldsmith_version: int
    agentcore_version: str
    added: int
    examples: int
    created: bool
    already: bool = False


class AgentCorePublisher:
    """Publishes versions of one Goldsmith dataset to AgentCore through a `bedrock-agentcore-control` client."""

    def __init__(
        self,
        dataset: Dataset,
        client: Any,
        *,
        schema: Literal["predefined", "simulated"] = "predefined",
        dataset_name: str | None = None,
        s3_uri: str | None = None,
        s3_client: Any = None,
        poll_s: float = 2.0,
        timeout_s: float = 900.0,
        on_status: Callable[[str], None] = lambda _: None,
    ):
        self.dataset = dataset
        self.client = client
        self.schema = schema
        self.dataset_name = dataset_name or dataset.name.replace("-", "_")
        self.s3_uri = s3_uri
        self.s3_client = s3_client
        self.poll_s = poll_s
        self.timeout_s = timeout_s
        self.on_status = on_status

    @property
    def record_key(self) -> str:
        return self.dataset.key("published", f"agentcore-{self.schema}.json")

    def published(self) -> Published | None:
        data = self.dataset.storage.read(self.record_key)
        return None if data is None else Published.model_validate_json(data)

    def publish(self, version: int | None = None) -> PublishOutcome:
        """Publish `version` (the latest when None); a version already published calls nothing."""
        from exports import FORMATS, export_context

        manifest = self.dataset.manifest(version)
        state = self.published()
        done = state.versions.get(str(manifest.version)) if state else None
        if state is not None and done is not None:
            return PublishOutcome(
                dataset_id=state.dataset_id,
                dataset_name=state.dataset_name,
                goldsmith_version=manifest.version,
                agentcore_version=done.agentcore_version,
                added=0,
                examples=done.examples,
                created=False,
                already=True,
            )
        records = list(self.dataset.records(manifest))
        ctx = export_context(self.dataset, manifest)
        lines = FORMATS[FORMAT_OF[self.schema]].write(records, ctx)[""].decode().splitlines()
        examples = [json.loads(line) for line in lines if line.strip()]
        sent = state.sent() if state else set()
        new = [e for e in examples if e["scenario_id"] not in sent]
        size = max(len(new), 1) if self.s3_uri else CHUNK  # inline: the API's limit; through S3: one object
        chunks = [(start, new[start : start + size]) for start in range(0, len(new), size)]
        created = state is None
        if state is None:  # the dataset is created with the first chunk
            state = self._create(chunks.pop(0)[1] if chunks else [], manifest.version)
        for start, chunk in chunks:
            self._call(
                "add_dataset_examples",
                datasetId=state.dataset_id,
                clientToken=token(self.dataset.name, manifest.version, "add", start),
                source=self._source(chunk, manifest.version, f"add-{start}"),
            )
            self._wait(state.dataset_id)
        made = self._call(
            "create_dataset_version",
            datasetId=state.dataset_id,
            clientToken=token(self.dataset.name, manifest.version, "version"),
        )
        described = self._wait(state.dataset_id)
        state.versions[str(manifest.version)] = PublishedVersion(
            agentcore_version=made["datasetVersion"],
            examples=described["exampleCount"],
            sent=[e["scenario_id"] for e in new],
        )
        self.dataset.storage.write(self.record_key, (state.model_dump_json(indent=1) + "\n").encode())
        return PublishOutcome(
            dataset_id=state.dataset_id,
            dataset_name=state.dataset_name,
            goldsmith_version=manifest.version,
            agentcore_version=made["datasetVersion"],
            added=len(new),
            examples=state.versions[str(manifest.version)].examples,
            created=created,
        )

    def _create(self, examples: list[dict], version: int) -> Published:
        made = self._call(
            "create_dataset",
            datasetName=self.dataset_name,
            description=f"Goldsmith golden dataset {self.dataset.name} (verified ground truth)"[:200],
            schemaType=SCHEMAS[self.schema],
            clientToken=token(self.dataset.name, version, "create"),
            source=self._source(examples, version, "create"),
        )
        self._wait(made["datasetId"])
        return Published(
            dataset_id=made["datasetId"],
            dataset_arn=made["datasetArn"],
            dataset_name=self.dataset_name,
            schema_type=SCHEMAS[self.schema],
            region=getattr(getattr(self.client, "meta", None), "region_name", None),
        )

    def _source(self, examples: list[dict], version: int, part: str) -> dict[str, Any]:
        """Inline examples, or a JSON Lines object written under `s3_uri`."""
        if not self.s3_uri:
            return {"inlineExamples": {"examples": examples}}
        bucket, _, prefix = self.s3_uri.removeprefix("s3://").partition("/")
        key = f"{prefix.rstrip('/')}/{self.dataset.name}-v{version}-{part}.jsonl".lstrip("/")
        body = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in examples).encode()
        self.s3_client.put_object(Bucket=bucket, Key=key, Body=body)
        return {"s3Source": {"s3Uri": f"s3://{bucket}/{key}"}}

    def _wait(self, dataset_id: str) -> dict[str, Any]:
        """GetDataset until it settles; ACTIVE returns the description, a failed state is a RunFailed."""
        deadline = time.monotonic() + self.timeout_s
        while True:
            described = self._call("get_dataset", datasetId=dataset_id)
            status = described["status"]
            self.on_status(status)
            if status == "ACTIVE":
                return described
            if status in SETTLED:
                reason = described.get("failureReason") or "no reason given"
                raise RunFailed(f"agentcore: dataset {dataset_id} is {status}: {reason}")
            if time.monotonic() > deadline:
                raise RunFailed(f"agentcore: dataset {dataset_id} still {status} after {self.timeout_s:.0f} s")
            time.sleep(self.poll_s)

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        """One service call; a service error is one line (`agentcore: CreateDataset: ValidationException: ...`)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, operation)(**params)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            name = exc.operation_name
            raise RunFailed(f"agentcore: {name}: {error.get('Code', 'error')}: {error.get('Message', '')}") from None
        except BotoCoreError as exc:
            raise InputError(f"agentcore: {exc}") from None


def token(*parts: Any) -> str:
    """An idempotency token for one request of one publish: retrying it is safe, AgentCore makes it once."""
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()


def agentcore_client(region: str | None = None, profile: str | None = None, endpoint_url: str | None = None):
    """A `bedrock-agentcore-control` client (the endpoint also from AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL)."""
    import boto3
    from botocore.config import Config

    session = boto3.Session(profile_name=profile, region_name=region)
    config = Config(retries={"mode": "adaptive", "max_attempts": 8})
    return session.client("bedrock-agentcore-control", endpoint_url=endpoint_url, config=config)
