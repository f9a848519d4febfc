"""The judge at scale: a run's judge requests as Amazon Bedrock batch inference jobs (model invocation jobs).

Each request is one Converse call the on-demand judge would make: the same system prompt, the same review
request and the verdict tool strands would offer (forced; no cache points, which batch does not take). The
requests are written to S3 as JSONL (`recordId` = a hash of the model, system prompt and request, so the same
request always has the same id), split into jobs within the account's quotas (`batch:` in goldsmith.yaml),
submitted with a `clientRequestToken` made from the run id and the job's content, and polled until they end.
Every submitted job is written to the run's journal (`<dataset>/runs/<run>/batch-jobs.json`) before it is
polled, so a run started again with the same run id picks the same jobs up, even when they ended while nothing
was watching. Outputs are mapped back by `recordId` and parsed into the same verdict model as on demand;
a record that errored, or that a Failed / Expired job never wrote, has no answer here and the critic judges it on
demand (or, with `--no-fallback`, it is reported as not judged).

S3 layout under `batch.s3_uri`: `<run>/<job>/input.jsonl` and `<run>/<job>/output/<job id>/input.jsonl.out`.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field

from agents.pricing import PriceTable, load_prices
from agents.settings import Batch, Inference, ModelSettings
from config import InputError
from store.records import Strict, TokenUsage, content_id
from store.storage import Storage

ENDED = {"Completed", "PartiallyCompleted", "Failed", "Stopped", "Expired"}
CHARS_PER_TOKEN = 4  # for the budget check before submission: a request's size, estimated


class NotJudged(Exception):
    """A judge request the batch did not answer, with `--no-fallback` (no on-demand call is made)."""


@dataclass(frozen=True)
class JudgeRequest:
    """One judge call, as the critic would make it on demand."""

    spec: str  # bedrock:<model id>
    system: str
    prompt: str

    @property
    def record_id(self) -> str:
        return "r" + content_id(self.spec, self.system, self.prompt)

    @property
    def model_id(self) -> str:
        return self.spec.removeprefix("bedrock:")


def verdict_tool(output_model: type) -> dict[str, Any]:
    """The structured-output tool strands offers for `output_model`, as a Converse toolSpec."""
    from strands.tools.structured_output.structured_output_tool import StructuredOutputTool

    return StructuredOutputTool(output_model).tool_spec


def model_input(request: JudgeRequest, output_model: type, inference: Inference) -> dict[str, Any]:
    """The Converse request body of one judge call, the tool forced (a batch record gets one reply)."""
    spec = verdict_tool(output_model)
    config = {"maxTokens": inference.max_tokens, "temperature": inference.temperature}
    return {
        "system": [{"text": request.system}],
        "messages": [{"role": "user", "content": [{"text": request.prompt}]}],
        "toolConfig": {"tools": [{"toolSpec": spec}], "toolChoice": {"tool": {"name": spec["name"]}}},
        "inferenceConfig": {k: v for k, v in config.items() if v is not None},
    }


def read_output(line: dict[str, Any], output_model: type) -> tuple[Any | None, TokenUsage, str | None]:
    """(the verdict, the tokens, why there is none) from one line of a job's `.jsonl.out`."""
    if "error" in line or "modelOutput" not in line:
        error = line.get("error") or {}
        return None, TokenUsage(), f"{error.get('errorCode', '?')}: {error.get('errorMessage', 'no model output')}"
    output = line["modelOutput"]
    usage = output.get("usage", {})
    tokens = TokenUsage(input=usage.get("inputTokens", 0), output=usage.get("outputTokens", 0))
    blocks = output.get("output", {}).get("message", {}).get("content", [])
    for block in blocks:
        if "toolUse" in block:
            try:
                return output_model.model_validate(block["toolUse"]["input"]), tokens, None
            except ValueError as exc:
                return None, tokens, f"malformed verdict: {str(exc).splitlines()[0]}"
    from agents.structured import json_objects

    text = "".join(b.get("text", "") for b in blocks)
    for value in json_objects(text):
        try:
            return output_model.model_validate(value), tokens, None
        except ValueError:
            continue
    return None, tokens, "no verdict in the reply"


class JobRecord(Strict):
    """A submitted job, as the run's journal keeps it."""

    key: str = Field(description="the job's folder under the run: model and chunk")
    token: str
    job_arn: str
    model_id: str
    records: int
    input_uri: str
    output_uri: str


class BatchStats(Strict):
    """What the batch did, for the run summary: jobs, records, and the tokens and cost at batch prices."""

    jobs: int = 0
    requests: int = 0
    answered: int = 0
    errored: int = 0
    on_demand: int = Field(0, description="requests judged on demand: too few for a job, or not answered")
    job_status: dict[str, str] = Field(default_factory=dict)
    tokens: TokenUsage = Field(default_factory=TokenUsage)
    cost_usd: float = 0.0
    notes: list[str] = Field(default_factory=list)


@dataclass
class BatchAnswers:
    """The verdicts a batch returned, by request; a request without one is judged on demand, or not at all."""

    verdicts: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    stats: BatchStats = field(default_factory=BatchStats)
    fallback: bool = True
    requested: set[str] = field(default_factory=set)  # what the batch was asked for
    submitted: set[str] = field(default_factory=set)  # what went into a job

    def get(self, request: JudgeRequest) -> Any | None:
        """The batch's verdict; None to judge on demand (a request the batch was not asked for, such as a
        repair round's, or one too few for a job); NotJudged for one a job did not answer, with no fallback."""
        record_id = request.record_id
        verdict = self.verdicts.get(record_id)
        if verdict is None and record_id in self.requested:
            if record_id in self.submitted and not self.fallback:
                why = self.errors.get(record_id, "no output")
                raise NotJudged(f"the batch did not judge this request ({why}) and --no-fallback is set")
            self.stats.on_demand += 1
        return verdict


def _s3_parts(uri: str) -> tuple[str, str]:
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    return bucket, prefix.strip("/")


class BatchJudge:
    """Submits a run's judge requests as Bedrock batch jobs, waits for them and reads their verdicts."""

    def __init__(
        self,
        settings: Batch,
        inference: Inference,
        output_model: type,
        *,
        run_id: str,
        journal: Journal,
        bedrock: Any,
        s3: Any,
        prices: PriceTable,
        budget_usd: float | None = None,
        fallback: bool = True,
        on_progress: Callable[[int, int], None] = lambda done, total: None,
    ):
        if not settings.s3_uri or not settings.role_arn:
            raise InputError(
                "--judge-batch: set batch.s3_uri and batch.role_arn in goldsmith.yaml (see docs/bedrock.md)"
            )
        self.settings, self.inference, self.output_model = settings, inference, output_model
        self.run_id, self.journal = run_id, journal
        self.bedrock, self.s3, self.prices = bedrock, s3, prices
        self.budget_usd, self.fallback, self.on_progress = budget_usd, fallback, on_progress

    @classmethod
    def from_settings(
        cls,
        settings: ModelSettings,
        output_model: type,
        *,
        run_id: str,
        journal: Journal,
        fallback: bool,
        on_progress: Callable[[int, int], None],
    ) -> BatchJudge:
        """A batch judge as goldsmith.yaml configures one: its `batch:` section, the critic's inference settings,
        the Bedrock profile and region, the price table and the budget."""
        import boto3

        session = boto3.Session(profile_name=settings.bedrock.profile, region_name=settings.bedrock.region)
        # endpoints from AWS_ENDPOINT_URL_BEDROCK / AWS_ENDPOINT_URL_S3 when set
        return cls(settings.batch, settings.inference["critic"], output_model, run_id=run_id, journal=journal,
                   bedrock=session.client("bedrock"), s3=session.client("s3"), prices=load_prices(settings.prices),
                   budget_usd=settings.budget_usd, fallback=fallback, on_progress=on_progress)  # fmt: skip

    def run(self, requests: list[JudgeRequest]) -> BatchAnswers:
        """Every request judged by a job where the quotas allow it; the verdicts and what it cost."""
        answers = BatchAnswers(fallback=self.fallback)
        unique = {r.record_id: r for r in requests}
        answers.requested = set(unique)
        answers.stats.requests = len(unique)
        chunks = self._chunks(list(unique.values()), answers.stats)
        answers.submitted = {r.record_id for chunk in chunks.values() for r in chunk}
        self._check_budget(chunks)
        known = {job.key: job for job in self.journal.read()}
        jobs = []
        for key, chunk in chunks.items():
            planned, body = self._plan(key, chunk)
            job = self._resumed(known.get(key), planned) or self._submit(planned, body, known)
            jobs.append((job, chunk))
        answers.stats.jobs = len(jobs)
        self._wait([job for job, _ in jobs], answers.stats)
        for job, chunk in jobs:
            self._collect(job, chunk, answers)
        return answers

    def _chunks(self, requests: list[JudgeRequest], stats: BatchStats) -> dict[str, list[JudgeRequest]]:
        """Requests per model, split evenly into jobs of at most `max_records`; a model with fewer than
        `min_records` requests gets no job (its requests are judged on demand)."""
        by_model: dict[str, list[JudgeRequest]] = {}
        for request in sorted(requests, key=lambda r: r.record_id):
            by_model.setdefault(request.model_id, []).append(request)
        chunks = {}
        for model_id, group in by_model.items():
            if len(group) < self.settings.min_records:
                stats.notes.append(
                    f"{model_id}: {len(group)} judge requests, fewer than a job's minimum of "
                    f"{self.settings.min_records} (batch.min_records): judged on demand"
                )
                continue
            count = math.ceil(len(group) / self.settings.max_records)
            size = math.ceil(len(group) / count)
            slug = re.sub(r"[^a-zA-Z0-9]+", "-", model_id).strip("-")[:40]
            for number in range(count):
                chunks[f"{slug}-{number + 1}"] = group[number * size : (number + 1) * size]
        return chunks

    def _check_budget(self, chunks: dict[str, list[JudgeRequest]]) -> None:
        """Refuse, before anything is submitted, a batch whose estimated cost exceeds the budget."""
        if self.budget_usd is None:
            return
        estimate = 0.0
        for chunk in chunks.values():
            price = self.prices.for_spec(chunk[0].spec)
            if price is None:
                raise InputError(f"--budget-usd: no price for {chunk[0].spec}; add it to a price table")
            tokens = sum(len(r.system) + len(r.prompt) for r in chunk) // CHARS_PER_TOKEN
            output = len(chunk) * (self.inference.max_tokens or 2048)
            estimate += price.batch_cost(TokenUsage(input=tokens, output=output))
        if estimate > self.budget_usd:
            raise InputError(
                f"--judge-batch: the jobs would cost up to ${estimate:.2f} (estimated from the request sizes at "
                f"batch prices), over --budget-usd {self.budget_usd}; nothing was submitted"
            )

    def _plan(self, key: str, chunk: list[JudgeRequest]) -> tuple[JobRecord, bytes]:
        """The job a chunk makes (its input, its token from the run id and the input, where it writes) and
        its input file; the same chunk always plans the same job."""
        bucket, prefix = _s3_parts(self.settings.s3_uri or "")
        folder = "/".join(p for p in (prefix, self.run_id, key) if p)
        lines = [
            json.dumps({"recordId": r.record_id, "modelInput": model_input(r, self.output_model, self.inference)})
            for r in chunk
        ]
        body = ("\n".join(lines) + "\n").encode()
        job = JobRecord(key=key, token=content_id(self.run_id, key, body.decode()), job_arn="",
                        model_id=chunk[0].model_id, records=len(chunk), input_uri=f"s3://{bucket}/{folder}/input.jsonl",
                        output_uri=f"s3://{bucket}/{folder}/output/")  # fmt: skip
        return job, body

    def _resumed(self, journaled: JobRecord | None, planned: JobRecord) -> JobRecord | None:
        """The journaled job for this chunk, if the service confirms it is the one this run would submit: the
        journal is a hint, never trusted for what is read or sent (its token, input and output are re-derived)."""
        if journaled is None or journaled.token != planned.token:
            return None
        try:
            state = self.bedrock.get_model_invocation_job(jobIdentifier=journaled.job_arn)
        except Exception:  # an unknown or foreign job: submit (the token makes that idempotent)
            return None
        output = state.get("outputDataConfig", {}).get("s3OutputDataConfig", {}).get("s3Uri")
        if state.get("clientRequestToken") != planned.token or output != planned.output_uri:
            return None
        return planned.model_copy(update={"job_arn": journaled.job_arn})

    def _submit(self, planned: JobRecord, body: bytes, known: dict[str, JobRecord]) -> JobRecord:
        """Write the job's input to S3, create the job (idempotent by its token) and journal it."""
        bucket, key = _s3_parts(planned.input_uri)
        self.s3.put_object(Bucket=bucket, Key=key, Body=body)
        name = re.sub(r"[^a-zA-Z0-9-]+", "-", f"goldsmith-{self.run_id}-{planned.key}")[:63].strip("-")
        created = self.bedrock.create_model_invocation_job(
            jobName=name,
            roleArn=self.settings.role_arn,
            clientRequestToken=planned.token,
            modelId=planned.model_id,
            inputDataConfig={"s3InputDataConfig": {"s3Uri": planned.input_uri, "s3InputFormat": "JSONL"}},
            outputDataConfig={"s3OutputDataConfig": {"s3Uri": planned.output_uri}},
            timeoutDurationInHours=self.settings.timeout_hours,
            modelInvocationType="Converse",
        )
        job = planned.model_copy(update={"job_arn": created["jobArn"]})
        known[planned.key] = job
        self.journal.write(list(known.values()))
        return job

    def _wait(self, jobs: list[JobRecord], stats: BatchStats) -> None:
        """Poll every job until it ends, reporting records processed of the total."""
        total = sum(j.records for j in jobs)
        pending = {j.job_arn: j for j in jobs}
        processed: dict[str, int] = {}
        while pending:
            for arn in list(pending):
                state = self.bedrock.get_model_invocation_job(jobIdentifier=arn)
                processed[arn] = state.get("processedRecordCount", 0)
                if state["status"] in ENDED:
                    stats.job_status[pending[arn].key] = state["status"]
                    processed[arn] = pending[arn].records
                    del pending[arn]
            self.on_progress(sum(processed.values()), total)
            if pending:
                time.sleep(self.settings.poll_s)

    def _collect(self, job: JobRecord, chunk: list[JudgeRequest], answers: BatchAnswers) -> None:
        """Read the job's output files (whatever it wrote, even when it did not complete)."""
        bucket, prefix = _s3_parts(job.output_uri)
        job_id = job.job_arn.rsplit("/", 1)[-1]
        listing = self.s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/{job_id}/")
        wanted = {r.record_id: r for r in chunk}
        price = self.prices.for_spec(chunk[0].spec)
        for item in listing.get("Contents", []):
            if not item["Key"].endswith(".jsonl.out"):
                continue
            data = self.s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().decode()
            for text in data.splitlines():
                if not text.strip():
                    continue
                line = json.loads(text)
                record_id = line.get("recordId")
                if record_id not in wanted:
                    continue
                verdict, tokens, error = read_output(line, self.output_model)
                answers.stats.tokens += tokens
                answers.stats.cost_usd += price.batch_cost(tokens) if price else 0.0
                if verdict is None:
                    answers.errors[record_id] = error or "no verdict"
                    answers.stats.errored += 1
                else:
                    answers.verdicts[record_id] = verdict
                    answers.stats.answered += 1
        status = answers.stats.job_status.get(job.key)
        if status != "Completed":
            missing = sum(r not in answers.verdicts and r not in answers.errors for r in wanted)
            answers.stats.notes.append(f"job {job.key} ended {status}: {missing} records without output")


@dataclass(frozen=True)
class Journal:
    """A run's submitted jobs, kept in the output location (`storage`, a local directory or S3, at `key`)."""

    storage: Storage
    key: str

    def read(self) -> list[JobRecord]:
        data = self.storage.read(self.key)
        if data is None:
            return []
        try:
            return [JobRecord.model_validate(j) for j in json.loads(data)]
        except ValueError as exc:
            raise InputError(
                f"{self.storage.url(self.key)}: not a batch journal ({str(exc).splitlines()[0]})"
            ) from None

    def write(self, jobs: list[JobRecord]) -> None:
        self.storage.write(self.key, json.dumps([j.model_dump() for j in jobs], indent=1).encode())
