"""Bedrock batch inference (model invocation jobs) on 127.0.0.1, answered by the simulated models.

Speaks the `bedrock` control plane's CreateModelInvocationJob and GetModelInvocationJob as botocore does
(rest-json), validating every request against botocore's own model, and runs a job the way Bedrock does: it
reads the input JSONL from S3, answers each record's Converse request with the simulated provider (the same
replies the Converse stand-in in `servers.py` gives on demand), and writes `<output>/<job id>/<input>.out`.

A job is Submitted, then InProgress at the next status check, then ends: at the check after that, or when
`release()` is called (jobs that end while nothing watches). `error_every` puts an error in place of every
N-th record's output, and the job ends PartiallyCompleted; `end_as` ends every job with another status.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from agents.simulated.model import ModelCall, reply_message
from agents.simulated.servers import SimulatedProvider, converse_response

ARN = "arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/{}"


@dataclass
class Job:
    id: str
    request: dict[str, Any]
    status: str = "Submitted"
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class BatchStandIn:
    provider: SimulatedProvider
    s3: Any  # a boto3 S3 client (moto)
    hold: bool = False  # jobs stay InProgress until release()
    error_every: int = 0
    end_as: str | None = None
    jobs: dict[str, Job] = field(default_factory=dict)
    creates: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def create(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        problem = _invalid("CreateModelInvocationJob", body)
        if problem:
            return 400, {"message": problem}
        with self.lock:
            self.creates.append(body)
            for job in self.jobs.values():
                if job.request["clientRequestToken"] == body["clientRequestToken"]:
                    return 200, {"jobArn": ARN.format(job.id)}
            job = Job("".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(12)), body)
            self.jobs[job.id] = job
            return 200, {"jobArn": ARN.format(job.id)}

    def get(self, identifier: str) -> tuple[int, dict[str, Any]]:
        with self.lock:
            job = self.jobs.get(identifier.rsplit("/", 1)[-1])
            if job is None:
                return 404, {"message": f"no job {identifier}"}
            if job.status == "Submitted":
                job.status = "InProgress"
            elif job.status == "InProgress" and not self.hold:
                self._finish(job)
            return 200, self._describe(job)

    def release(self) -> None:
        """End every job still running, as Bedrock would with nothing watching."""
        with self.lock:
            self.hold = False
            for job in self.jobs.values():
                if job.status in ("Submitted", "InProgress"):
                    self._finish(job)

    def _finish(self, job: Job) -> None:
        source = job.request["inputDataConfig"]["s3InputDataConfig"]["s3Uri"]
        bucket, _, key = source.removeprefix("s3://").partition("/")
        lines = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines()
        out = []
        for number, text in enumerate((t for t in lines if t.strip()), 1):
            record = json.loads(text)
            if self.error_every and number % self.error_every == 0:
                error = {"errorCode": 500, "errorMessage": "simulated: the model failed on this record"}
                out.append({"recordId": record["recordId"], "modelInput": record["modelInput"], "error": error})
                continue
            body = record["modelInput"]
            tools = body.get("toolConfig", {}).get("tools", [])
            call = ModelCall(
                system_prompt="".join(b.get("text", "") for b in body.get("system", [])),
                messages=body["messages"],
                tool_specs=[t["toolSpec"] for t in tools if "toolSpec" in t],
                seed=self.provider.sim.seed,
            )
            reply, usage = self.provider.answer(call, None)
            blocks, stop_reason = reply_message(reply, call)
            output = converse_response(blocks, stop_reason, usage)
            out.append({"recordId": record["recordId"], "modelInput": body, "modelOutput": output})
        target = job.request["outputDataConfig"]["s3OutputDataConfig"]["s3Uri"]
        bucket, _, prefix = target.removeprefix("s3://").partition("/")
        name = key.rsplit("/", 1)[-1] + ".out"
        data = "".join(json.dumps(line) + "\n" for line in out).encode()
        self.s3.put_object(Bucket=bucket, Key=f"{prefix.rstrip('/')}/{job.id}/{name}", Body=data)
        errors = sum("error" in line for line in out)
        job.counts = {"totalRecordCount": len(out), "processedRecordCount": len(out),
                      "successRecordCount": len(out) - errors, "errorRecordCount": errors}  # fmt: skip
        job.status = self.end_as or ("PartiallyCompleted" if errors else "Completed")

    def _describe(self, job: Job) -> dict[str, Any]:
        request = job.request
        return {
            "jobArn": ARN.format(job.id),
            "jobName": request["jobName"],
            "modelId": request["modelId"],
            "clientRequestToken": request["clientRequestToken"],
            "roleArn": request["roleArn"],
            "status": job.status,
            "submitTime": "2026-12-01T00:00:00Z",
            "inputDataConfig": request["inputDataConfig"],
            "outputDataConfig": request["outputDataConfig"],
            "modelInvocationType": request.get("modelInvocationType", "InvokeModel"),
            "timeoutDurationInHours": request.get("timeoutDurationInHours", 24),
            **job.counts,
        }


def _invalid(operation: str, body: dict[str, Any]) -> str | None:
    """Why `body` is not a valid request by botocore's model of the `bedrock` service (types, required
    members, lengths, ranges and patterns), or None."""
    import botocore.session
    from botocore.validate import ParamValidator

    model = botocore.session.get_session().get_service_model("bedrock").operation_model(operation).input_shape
    report = ParamValidator().validate(body, model)
    if report.has_errors():
        return report.generate_report()
    for name, shape in model.members.items():
        pattern = shape.metadata.get("pattern")
        if pattern and name in body and isinstance(body[name], str) and not re.fullmatch(pattern, body[name]):
            return f"{name}: {body[name]!r} does not match {pattern}"
    return None


class _Handler(BaseHTTPRequestHandler):
    stand_in: BatchStandIn

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status >= 400:
            code = "ValidationException" if status == 400 else "ResourceNotFoundException"
            self.send_header("x-amzn-ErrorType", code)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        if self.path != "/model-invocation-job":
            return self._send(404, {"message": f"no route {self.path}"})
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        self._send(*self.stand_in.create(body))

    def do_GET(self) -> None:
        prefix = "/model-invocation-job/"
        if not self.path.startswith(prefix):
            return self._send(404, {"message": f"no route {self.path}"})
        self._send(*self.stand_in.get(unquote(self.path[len(prefix) :])))


def serve(stand_in: BatchStandIn, port: int = 0) -> ThreadingHTTPServer:
    """Serve `stand_in` on 127.0.0.1 in a daemon thread (port 0: a free one)."""
    handler = type("Handler", (_Handler,), {"stand_in": stand_in})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
