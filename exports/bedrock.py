"""Amazon Bedrock evaluation datasets: model evaluation with an LLM judge, and RAG evaluation.

Both are JSON Lines with at most 1,000 records per file (one evaluation job reads one file). With
responses and a role ARN, a `create_evaluation_job` request per shard is written beside the data: a
bring-your-own-inference job whose custom metrics are the rubric's judged criteria.
"""

from __future__ import annotations

import json
import re
from typing import Any

from config import InputError
from exports.base import Context, Files, criterion_text, flattened, history, judged, shards, unreviewed_apart
from rubrics.model import Criterion
from store.records import Example

MAX_RECORDS = 1000  # prompts per dataset file of an LLM-as-a-judge or RAG evaluation job
MAX_RAG_TURNS = 5  # conversation turns per RAG evaluation record
MAX_CUSTOM_METRICS = 10  # per evaluation job
BUILTIN_METRICS = ["Builtin.Correctness", "Builtin.Completeness"]
# one of the values botocore's model allows for EvaluationDatasetMetricConfig.taskType (Summarization,
# Classification, QuestionAndAnswer, Generation, Custom): the rows are requests with reference answers
TASK_TYPE = "QuestionAndAnswer"


@unreviewed_apart
def write_bedrock(records: list[Example], ctx: Context) -> Files:
    """`prompt`, `referenceResponse`, `category`, and `modelResponses` when responses are given."""
    rows = []
    for record in records:
        row: dict[str, Any] = {
            "prompt": flattened(record),
            "referenceResponse": record.reference_answer,
            "category": record.category,
        }
        if ctx.responses is not None:
            row["modelResponses"] = [{"response": ctx.responses[record.id], "modelIdentifier": ctx.responder}]
        rows.append(row)
    files = shards(rows, MAX_RECORDS)
    if ctx.options.get("role_arn"):
        files |= {f"{tag}-job" if tag else "job": job_request(tag, ctx).encode() for tag in list(files)}
    return files


@unreviewed_apart
def write_bedrock_rag(records: list[Example], ctx: Context) -> Files:
    """`conversationTurns`: each user turn with the answer that followed it as its reference; a longer
    conversation keeps its last five turns."""
    rows = []
    for record in records:
        turns = history(record)
        pairs = []
        for i, turn in enumerate(turns):
            if turn.role != "user":
                continue
            after = turns[i + 1].content if i + 1 < len(turns) else record.reference_answer
            pairs.append((turn.content, after))
        rows.append(
            {
                "conversationTurns": [
                    {"prompt": {"content": [{"text": asked}]}, "referenceResponses": [{"content": [{"text": ref}]}]}
                    for asked, ref in pairs[-MAX_RAG_TURNS:]
                ]
            }
        )
    return shards(rows, MAX_RECORDS)


def identifier(spec: str) -> str:
    """A model spec as a Bedrock `modelIdentifier` / `inferenceSourceIdentifier` ([a-zA-Z0-9._-], ≤ 256)."""
    return re.sub(r"[^a-zA-Z0-9._-]", "-", spec).strip("-._")[:256] or "model"


def job_request(tag: str, ctx: Context) -> str:
    """A `create_evaluation_job` request (JSON) for the shard `tag`: precomputed responses, the built-in
    correctness and completeness metrics, and one custom metric per judged criterion."""
    if ctx.responses is None:
        raise InputError(
            "--role-arn: the job request is for precomputed responses; add --with-responses or --responses-from"
        )
    dataset_uri = ctx.locate(tag) if ctx.locate else ""
    if not dataset_uri.startswith("s3://"):
        raise InputError(
            "--role-arn: an evaluation job reads its dataset from S3; export with --to s3://bucket/prefix/file.jsonl"
        )
    rubric = ctx.require_rubric("bedrock")
    evaluator = {"bedrockEvaluatorModels": [{"modelIdentifier": ctx.options["evaluator_model"]}]}
    metrics = [custom_metric(rubric.id, c) for c in judged(rubric)[:MAX_CUSTOM_METRICS]]
    name = _slug(f"goldsmith-{ctx.dataset}-v{ctx.version}{'-' + tag if tag else ''}")
    automated: dict[str, Any] = {
        "datasetMetricConfigs": [
            {
                "taskType": TASK_TYPE,
                "dataset": {"name": name, "datasetLocation": {"s3Uri": dataset_uri}},
                "metricNames": BUILTIN_METRICS + [m["customMetricDefinition"]["name"] for m in metrics],
            }
        ],
        "evaluatorModelConfig": evaluator,
    }
    if metrics:
        automated["customMetricConfig"] = {"customMetrics": metrics, "evaluatorModelConfig": evaluator}
    request = {
        "jobName": name[:63].rstrip("-"),
        "jobDescription": f"Goldsmith golden dataset {ctx.ref}, rubric {rubric.id}@{rubric.version}"[:200],
        "roleArn": ctx.options["role_arn"],
        "applicationType": "ModelEvaluation",
        "evaluationConfig": {"automated": automated},
        "inferenceConfig": {"models": [{"precomputedInferenceSource": {"inferenceSourceIdentifier": ctx.responder}}]},
        "outputDataConfig": {"s3Uri": dataset_uri.rsplit("/", 1)[0] + "/results/"},
    }
    return json.dumps(request, indent=2, ensure_ascii=False)


def custom_metric(rubric_id: str, criterion: Criterion) -> dict[str, Any]:
    """A judged criterion as a Bedrock custom metric: instructions with the job's input variables and a
    rating scale matching the criterion's (pass/fail, or 1-5)."""
    instructions = (
        "You are reviewing an assistant's answer against one criterion that subject-matter experts wrote.\n\n"
        f"Criterion {criterion_text(criterion)}\n\n"
        "Request:\n{{prompt}}\n\nVerified reference answer:\n{{ground_truth}}\n\nAnswer to rate:\n{{prediction}}"
    )
    if criterion.scale == "1-5":
        scale = [{"definition": f"{n} of 5", "value": {"floatValue": n}} for n in range(1, 6)]
    else:
        scale = [
            {"definition": "Meets the criterion", "value": {"floatValue": 1}},
            {"definition": "Does not meet the criterion", "value": {"floatValue": 0}},
        ]
    name = _slug(f"{rubric_id}.{criterion.id}", keep="._")[:63]
    return {"customMetricDefinition": {"name": name, "instructions": instructions, "ratingScale": scale}}


def _slug(text: str, keep: str = "") -> str:
    """Lowercase letters, digits and dashes (plus `keep`), as Bedrock's job and metric names allow."""
    return re.sub(rf"[^a-z0-9{re.escape(keep)}]+", "-", text.lower()).strip("-")
