"""The simulated models behind real wire protocols, on 127.0.0.1: Bedrock Converse and OpenAI chat completions.

With these, `bedrock:` and `openai:` runs go through the real clients end to end (boto3 signing, botocore
retries in adaptive mode, the openai client, strands' providers) with no AWS account and no network:

    python -m agents.simulated.servers converse --port 8123 --throttle-rate 0.3
    python main.py generate --model bedrock:us.anthropic.claude-haiku-4-5-20251001-v1:0 \\
        --endpoint-url http://127.0.0.1:8123

Which part a request plays is read from the structured-output tool it offers (the user simulator's request,
the judge's verdict, otherwise the task agent). A share of calls is throttled (HTTP 429); the preflight ping
(one output token) never is, so tests can count retries exactly. Prompt caching is emulated: the prefix up to
the last cache point is written once and read on every later call.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from agents.simulated.model import (
    STRUCTURED_OUTPUT_MARK,
    ModelCall,
    Policy,
    Reply,
    SimSettings,
    estimate_tokens,
    reply_message,
    reply_usage,
)

ROLE_BY_OUTPUT = {"SimulatedRequest": "user", "UserReply": "user", "JudgeVerdict": "critic"}


@dataclass
class SimulatedProvider:
    """What the servers answer: a policy per role, which model ids exist, and how often to throttle."""

    policies: dict[str, Policy]
    sim: SimSettings = field(default_factory=SimSettings)
    throttle_rate: float = 0.0
    known_models: set[str] | None = None  # None: every model id exists
    denied_models: set[str] = field(default_factory=set)
    seed: int = 0
    # how real servers and small models misbehave (openai only): tool calls written as text ("hermes", "fenced",
    # "bare"), a named tool_choice refused (as llama.cpp does), null sent for every optional field left empty
    tool_calls_as: str = "native"
    named_tool_choice: bool = True
    prose_for_output: bool = False  # the structured output written as prose, even when forced by name
    nulls: bool = False
    counts: Counter[str] = field(default_factory=Counter)
    _cached: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def for_domain(cls, domain: str, sim: SimSettings | None = None, **options: Any) -> SimulatedProvider:
        from agents.simulated.judge import SimulatedJudgePolicy
        from agents.simulated.user import SimulatedUserPolicy
        from simulation.domains import get_domain

        sim = sim or SimSettings()
        task = get_domain(domain).simulated_task_policy(sim.defect_rate)
        policies = {"user": SimulatedUserPolicy(), "task": task, "critic": SimulatedJudgePolicy()}
        return cls(policies, sim, **options)

    def admit(self, model_id: str, ping: bool) -> str | None:
        """None to answer the call, or the error to return: unknown, denied or throttled."""
        with self._lock:
            self.counts["requests"] += 1
            if self.known_models is not None and model_id not in self.known_models:
                return "unknown"
            if model_id in self.denied_models:
                return "denied"
            draw = random.Random(f"{self.seed}:{self.counts['requests']}").random()
            if not ping and draw < self.throttle_rate:
                self.counts["throttled"] += 1
                return "throttled"
            self.counts["answered"] += 1
            return None

    def answer(self, call: ModelCall, cache_prefix: str | None) -> tuple[Reply, dict[str, int]]:
        """The policy's reply and the usage, with the cacheable prefix written once and then read."""
        role = ROLE_BY_OUTPUT.get(call.structured_output_tool or "", "task")
        reply = self.policies[role].reply(call)
        usage = reply_usage(reply, call)
        if cache_prefix:
            cached = estimate_tokens(cache_prefix, [], [])
            hit = self.cached(hashlib.sha256(cache_prefix.encode()).hexdigest())
            usage["inputTokens"] = max(usage["inputTokens"] - cached, 0)
            usage["cacheReadInputTokens" if hit else "cacheWriteInputTokens"] = cached
        return reply, usage

    def cached(self, key: str) -> bool:
        """Whether the prompt cache already holds `key` (it does from now on)."""
        with self._lock:
            hit = key in self._cached
            self._cached.add(key)
        return hit


class _Handler(BaseHTTPRequestHandler):
    provider: SimulatedProvider

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _body(self) -> dict[str, Any]:
        return json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")

    def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)


class ConverseHandler(_Handler):
    """POST /model/{modelId}/converse, as bedrock-runtime answers it (ConverseStream is not spoken)."""

    ERRORS = {
        "throttled": (429, "ThrottlingException", "Too many requests, please wait before trying again."),
        "unknown": (400, "ValidationException", "The provided model identifier is invalid."),
        "denied": (403, "AccessDeniedException", "You don't have access to the model with the specified model ID."),
        "stream": (400, "ValidationException", "This test server speaks Converse only; set bedrock.streaming: false."),
    }

    def do_POST(self) -> None:
        parts = self.path.strip("/").split("/")
        body = self._body()
        if len(parts) != 3 or parts[0] != "model" or parts[2] not in {"converse", "converse-stream"}:
            return self._send(404, {"message": f"no route {self.path}"})
        model_id = unquote(parts[1])
        ping = body.get("inferenceConfig", {}).get("maxTokens") == 1
        error = "stream" if parts[2] == "converse-stream" else self.provider.admit(model_id, ping)
        if error:
            status, code, message = self.ERRORS[error]
            return self._send(status, {"message": message}, {"x-amzn-ErrorType": f"{code}:http://internal.amazon.com/"})
        if ping:
            ping_usage = {"inputTokens": 8, "outputTokens": 1}
            return self._send(200, converse_response([{"text": "OK"}], "max_tokens", ping_usage))
        system = body.get("system", [])
        tools = body.get("toolConfig", {}).get("tools", [])
        call = ModelCall(
            system_prompt="".join(b.get("text", "") for b in system),
            messages=body["messages"],
            tool_specs=[t["toolSpec"] for t in tools if "toolSpec" in t],
            seed=self.provider.sim.seed,
        )
        reply, usage = self.provider.answer(call, _converse_cache_prefix(system, tools))
        blocks, stop_reason = reply_message(reply, call)
        self._send(200, converse_response(blocks, stop_reason, usage))


def _converse_cache_prefix(system: list[dict[str, Any]], tools: list[dict[str, Any]]) -> str | None:
    """The request prefix up to its last cache point (tools come first, then system), if it has one."""
    prefix, cut = [], None
    for block in [*tools, *system]:
        if "cachePoint" in block:
            cut = len(prefix)
        else:
            prefix.append(json.dumps(block, sort_keys=True))
    return "".join(prefix[:cut]) if cut else None


def converse_response(blocks: list[dict[str, Any]], stop_reason: str, usage: dict[str, int]) -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": blocks}},
        "stopReason": stop_reason,
        "usage": {**usage, "totalTokens": sum(v for k, v in usage.items() if k != "totalTokens")},
        "metrics": {"latencyMs": 1},
    }


class OpenAIHandler(_Handler):
    """POST /v1/chat/completions without streaming, as an OpenAI-compatible server answers it."""

    ERRORS = {
        "throttled": (429, "rate_limit_exceeded", "Rate limit reached, please retry."),
        "unknown": (404, "model_not_found", "The model does not exist."),
        "denied": (403, "permission_denied", "You do not have access to this model."),
    }

    def do_POST(self) -> None:
        if not self.path.rstrip("/").endswith("/chat/completions"):
            return self._send(404, {"error": {"message": f"no route {self.path}"}})
        body = self._body()
        ping = body.get("max_tokens") == 1 or body.get("max_completion_tokens") == 1
        error = self.provider.admit(body.get("model", ""), ping)
        if error:
            status, code, message = self.ERRORS[error]
            return self._send(status, {"error": {"message": message, "type": code, "code": code}})
        if ping:  # the ping's prompt is cached after the first one, as llama.cpp and vLLM cache a repeated prompt
            hit = self.provider.cached("ping")
            usage = {"inputTokens": 1, "cacheReadInputTokens": 7} if hit else {"inputTokens": 8}
            return self._send(200, _chat_response(body["model"], Reply(text="OK"), {**usage, "outputTokens": 1}))
        choice = body.get("tool_choice")
        if isinstance(choice, dict) and not self.provider.named_tool_choice:
            message = "Unsupported tool_choice: only 'auto', 'none' and 'required' are supported"
            return self._send(400, {"error": {"message": message, "type": "invalid_request_error", "code": 400}})
        system, messages = _from_openai_messages(body["messages"])
        tools = [
            {"name": t["function"]["name"], "description": t["function"].get("description", ""),
             "inputSchema": {"json": t["function"].get("parameters", {})}}
            for t in body.get("tools", [])
        ]  # fmt: skip
        schema = (body.get("response_format") or {}).get("json_schema")
        if schema:  # the answer must be this schema's JSON: offer it as the structured-output tool to the policy
            mark = f"{STRUCTURED_OUTPUT_MARK} (response_format)"
            tools.append({"name": schema["name"], "description": mark, "inputSchema": {"json": schema["schema"]}})
        call = ModelCall(system_prompt=system, messages=messages, tool_specs=tools, seed=self.provider.sim.seed)
        reply, usage = self.provider.answer(call, system or None)
        if self.provider.nulls:
            reply = _with_nulls(reply, tools)
        outputs = {t["name"] for t in tools if STRUCTURED_OUTPUT_MARK in t.get("description", "")}
        gives_output = any(name in outputs for name, _ in reply.tool_calls)
        if self.provider.prose_for_output and gives_output and not schema:
            reply = Reply(text="I have finished; my conclusion is as described above.")
        elif schema:
            reply = Reply(text=json.dumps(reply.tool_calls[0][1]) if reply.tool_calls else reply.text)
        elif self.provider.tool_calls_as != "native" and reply.tool_calls:
            reply = Reply(text=_as_text(reply, self.provider.tool_calls_as))
        self._send(200, _chat_response(body["model"], reply, usage, turn=len(messages)))


def _from_openai_messages(messages: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """OpenAI chat messages as (system prompt, Converse-shaped messages)."""
    system, converted = [], []
    for message in messages:
        content = message.get("content")
        text = content if isinstance(content, str) else "".join(p.get("text", "") for p in content or [])
        if message["role"] in {"system", "developer"}:
            system.append(text)
        elif message["role"] == "tool":
            result = {"toolResult": {"toolUseId": message["tool_call_id"], "content": [{"text": text}]}}
            converted.append({"role": "user", "content": [result]})
        else:
            blocks: list[dict[str, Any]] = [{"text": text}] if text else []
            for use in message.get("tool_calls") or []:
                arguments = json.loads(use["function"]["arguments"] or "{}")
                blocks.append(
                    {"toolUse": {"toolUseId": use["id"], "name": use["function"]["name"], "input": arguments}}
                )
            converted.append({"role": message["role"], "content": blocks})
    return "\n".join(system), converted


def _as_text(reply: Reply, how: str) -> str:
    """Tool calls written as text, the ways small models write them."""
    calls = [{"name": name, "arguments": args} for name, args in reply.tool_calls]
    if how == "hermes":
        return "".join(f"<tool_call>\n{json.dumps(c)}\n</tool_call>\n" for c in calls)
    if how == "fenced":
        return "I'll call the tool now.\n" + "".join(f"```json\n{json.dumps(c)}\n```\n" for c in calls)
    return "Here is the call: " + " ".join(json.dumps(c) for c in calls)


def _with_nulls(reply: Reply, tools: list[dict[str, Any]]) -> Reply:
    """The reply with null for every property of a structured output that it left out."""
    schemas = {
        t["name"]: t["inputSchema"]["json"].get("properties", {})
        for t in tools
        if STRUCTURED_OUTPUT_MARK in t.get("description", "")
    }
    calls = [(name, {**dict.fromkeys(schemas.get(name, {})), **args}) for name, args in reply.tool_calls]
    return Reply(text=reply.text, tool_calls=calls)


def _chat_response(model: str, reply: Reply, usage: dict[str, int], turn: int = 0) -> dict[str, Any]:
    tool_calls = [
        {"id": f"call_{turn}_{n}", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
        for n, (name, args) in enumerate(reply.tool_calls)
    ]
    cached = usage.get("cacheReadInputTokens", 0)
    prompt = usage["inputTokens"] + cached + usage.get("cacheWriteInputTokens", 0)
    return {
        "id": f"chatcmpl-{turn}",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.text or None, "tool_calls": tool_calls or None},
                "finish_reason": "tool_calls" if tool_calls else "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": usage["outputTokens"],
            "total_tokens": prompt + usage["outputTokens"],
            "prompt_tokens_details": {"cached_tokens": cached},
        },
    }


HANDLERS: dict[str, type[_Handler]] = {"converse": ConverseHandler, "openai": OpenAIHandler}


def start(kind: str, provider: SimulatedProvider, port: int = 0) -> ThreadingHTTPServer:
    """Serve `provider` over protocol `kind` on 127.0.0.1 (port 0: any free port) in a daemon thread."""
    handler = type(f"{kind}_handler", (HANDLERS[kind],), {"provider": provider})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve Goldsmith's simulated models over a real wire protocol.")
    parser.add_argument("kind", choices=sorted(HANDLERS))
    parser.add_argument("--port", type=int, default=8123)
    parser.add_argument("--domain", default="kyc")
    parser.add_argument("--throttle-rate", type=float, default=0.0)
    parser.add_argument("--defect-rate", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--known-models", help="comma-separated model ids that exist (default: any id)")
    args = parser.parse_args()
    provider = SimulatedProvider.for_domain(
        args.domain,
        SimSettings(seed=args.seed, defect_rate=args.defect_rate),
        throttle_rate=args.throttle_rate,
        seed=args.seed,
        known_models=set(args.known_models.split(",")) if args.known_models else None,
    )
    server = start(args.kind, provider, args.port)
    print(f"simulated {args.kind} server on http://127.0.0.1:{server.server_port} (Ctrl-C stops)")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.shutdown()


if __name__ == "__main__":
    main()
