"""A small stand-in for the AgentCore control plane's dataset API on 127.0.0.1 (rest-json, as botocore speaks it):
CreateDataset, GetDataset, AddDatasetExamples, CreateDatasetVersion. A dataset is CREATING (or UPDATING) until
the next GetDataset, then ACTIVE; client tokens make a repeated request return what the first one made."""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ARN = "arn:aws:bedrock-agentcore:us-east-1:123456789012:dataset/{}"


@dataclass
class Dataset:
    id: str
    name: str
    schema: str
    examples: list[dict] = field(default_factory=list)
    versions: list[int] = field(default_factory=list)
    status: str = "CREATING"


@dataclass
class AgentCoreStandIn:
    datasets: dict[str, Dataset] = field(default_factory=dict)
    requests: list[tuple[str, str, dict]] = field(default_factory=list)
    tokens: dict[str, dict] = field(default_factory=dict)
    fail: dict[str, tuple[str, str]] = field(default_factory=dict)  # operation → (error code, message)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, method: str, path: str, body: dict) -> tuple[int, dict[str, Any], str | None]:
        with self.lock:
            operation = self._operation(method, path)
            self.requests.append((operation, path, body))
            if operation in self.fail:
                code, message = self.fail[operation]
                return 400, {"message": message}, code
            token = body.get("clientToken")
            if token and token in self.tokens:
                return 200, self.tokens[token], None
            reply = getattr(self, operation)(path, body)
            if token:
                self.tokens[token] = reply
            return 200, reply, None

    def _operation(self, method: str, path: str) -> str:
        if method == "POST" and path == "/datasets":
            return "create"
        if method == "GET" and re.fullmatch(r"/datasets/[\w-]+", path):
            return "get"
        if path.endswith("/examples/add"):
            return "add"
        if path.endswith("/versions"):
            return "version"
        return "unknown"

    def _dataset(self, path: str) -> Dataset:
        return self.datasets[path.split("/")[2]]

    def create(self, path: str, body: dict) -> dict:
        dataset = Dataset(f"ds-{len(self.datasets) + 1}", body["datasetName"], body["schemaType"])
        dataset.examples += body["source"]["inlineExamples"]["examples"] if "inlineExamples" in body["source"] else []
        self.datasets[dataset.id] = dataset
        return {"datasetArn": ARN.format(dataset.id), "datasetId": dataset.id, "status": "CREATING",
                "createdAt": time.time()}  # fmt: skip

    def get(self, path: str, body: dict) -> dict:
        dataset = self._dataset(path)
        reply = {
            "datasetArn": ARN.format(dataset.id),
            "datasetId": dataset.id,
            "datasetVersion": "DRAFT",
            "datasetName": dataset.name,
            "status": dataset.status,
            "schemaType": dataset.schema,
            "exampleCount": len(dataset.examples),
            "createdAt": time.time(),
            "updatedAt": time.time(),
        }
        dataset.status = "ACTIVE"
        return reply

    def add(self, path: str, body: dict) -> dict:
        dataset = self._dataset(path)
        added = body["source"]["inlineExamples"]["examples"]
        dataset.examples += added
        dataset.status = "UPDATING"
        return {"datasetArn": ARN.format(dataset.id), "datasetId": dataset.id, "status": "UPDATING",
                "addedCount": len(added), "updatedAt": time.time(),
                "exampleIds": [f"ex-{len(dataset.examples) - len(added) + i}" for i in range(len(added))]}  # fmt: skip

    def version(self, path: str, body: dict) -> dict:
        dataset = self._dataset(path)
        dataset.versions.append(len(dataset.examples))
        return {"datasetArn": ARN.format(dataset.id), "datasetId": dataset.id, "status": "ACTIVE",
                "datasetVersion": str(len(dataset.versions)), "createdAt": time.time()}  # fmt: skip


def serve(stand_in: AgentCoreStandIn) -> ThreadingHTTPServer:
    """Serve the stand-in on a free loopback port, in a daemon thread."""

    class Handler(BaseHTTPRequestHandler):
        def _reply(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            status, reply, error = stand_in.handle(self.command, self.path.split("?")[0], body)
            data = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            if error:
                self.send_header("x-amzn-ErrorType", error)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _reply

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
