"""The promptfoo export run by promptfoo itself: golden answers pass every assertion, broken answers fail exactly the
assertions they break; and the rubric's Python regexes, translated to JavaScript, match what Python matches.

promptfoo is a Node.js tool. The run test installs it from npm into ~/.cache/goldsmith-promptfoo once (later runs
reuse it) and skips, in one line, when npm or the registry is not there, unless GOLDSMITH_PROMPTFOO=required (set
by .ci/run), which turns the skip into a failure. The run itself is offline: the provider under test is a small
JavaScript file written here that answers with the golden answer (the prompt is `{{reference_answer}}`, which it
echoes) and the golden tool calls from `vars.expected_tools` (their names as a JSON line of the output, which is
where `tool-call-f1` reads them; each call as a span sent to promptfoo's own OTLP receiver on 127.0.0.1, which is
where the trajectory assertions read them). The llm-rubric grader is promptfoo's built-in `echo` provider: it
returns the grading prompt, which the config sets to a passing verdict.
"""

import json
import os
import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
import yaml

from config import InputError
from exports.base import Context
from exports.promptfoo import translate_regex, write_promptfoo
from rubrics.model import BUNDLED, load_rubric
from simulation.domains import get_domain

from .conftest import run

# the last promptfoo for Node.js 20 (0.122 needs Node 22.22); .ci/run installs the same version
PROMPTFOO = "0.121.20"
CACHE = Path.home() / ".cache" / "goldsmith-promptfoo"
REQUIRED = os.environ.get("GOLDSMITH_PROMPTFOO") == "required"


def unavailable(reason: str):
    """Skip (fail where promptfoo is required) with one line."""
    (pytest.fail if REQUIRED else pytest.skip)(reason)


def installed() -> str | None:
    try:
        return json.loads((CACHE / "node_modules" / "promptfoo" / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None


@pytest.fixture(scope="module")
def promptfoo() -> Path:
    """promptfoo's command, installed into the cache dir unless that version is there already."""
    binary = CACHE / "node_modules" / ".bin" / "promptfoo"
    if installed() == PROMPTFOO and binary.exists():
        return binary
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        unavailable(f"promptfoo: no npm / node to install promptfoo@{PROMPTFOO} with (install Node.js 20.20+)")
    command = [npm, "install", "--prefix", str(CACHE), f"promptfoo@{PROMPTFOO}", "--no-audit", "--no-fund"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired:
        unavailable(f"promptfoo: `npm install promptfoo@{PROMPTFOO}` took over 15 minutes (no registry?)")
    if done.returncode != 0 or installed() != PROMPTFOO:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        unavailable(f"promptfoo: `npm install promptfoo@{PROMPTFOO}` failed (no registry?): {last}")
    return binary


@pytest.fixture(scope="module")
def datasets(tmp_path_factory) -> Path:
    """An output dir with datasets kyc and crypto: 30 simulated examples each."""
    root = tmp_path_factory.mktemp("promptfoo") / "output"
    for domain in ("kyc", "crypto"):
        result = run("generate", "--count", "30", "--seed", "1", "--domain", domain, "--output-dir", str(root))
        assert result.exit_code == 0, result.output
    return root


def export(datasets: Path, name: str, out: Path, *options: str):
    """`dataset export NAME --format promptfoo --out OUT OPTIONS`; returns the click Result."""
    argv = ["dataset", "export", name, "--format", "promptfoo", "--out", str(out), *options]
    return run(*argv, "--output-dir", str(datasets))


# --- regexes ---------------------------------------------------------------------------------------------------------


def shipped_patterns() -> list[str]:
    return [
        criterion["pattern"]
        for domain in ("kyc", "crypto")
        for criterion in yaml.safe_load((BUNDLED / f"{domain}.yaml").read_text())["criteria"]
        if criterion["method"] == "regex"
    ]


TRICKY = [
    r"(?m)^a$",
    r"a$",
    r"a.b",
    r"(?s)a.b",
    r"x{2}\{",
    r"(?i)[a-cx]+",
    r"(?i)[^k]",
    r"\U0001F600+",
    r"(?P<n>a)b",
    r"(?x) a b  # a comment",
    r"a(?#a comment)b",
    r"(?<=ab)c",
    r"(?<!a)b",
    r"(?i:a)b",
    r"ab|ac",
    r"\Aa\Z",
    r"(?m)^b",
    r"(?i)ÉTÉ",
    r"a{,2}b",
    r"(?m)x$",
    r"\d+?x",
    r"[\s\S]{2}",
]
SAMPLES = [
    "a", "a\n", "a\nb", "b\na\n", "a\rb", "a\r\nb", "ab", "AB", "abc", "xx{", "k", "K", "x", "😀😀", "été", "ÉTÉ",
    "ÉtÉ", "Block the payments and REPORT it.", "block\n\nreport", "123-45-6789", "1234-45-6789", "guaranteed returns",
    "Risk-free", "can’t lose", "can't lose", "cant lose", "the name matches but the date differs", "NAME x\n but",
    "rose 12.5% in", "3x", "3 times", "I can't promise", "Nobody can honestly guarantee", "not guaranteed",
    "enhanced due diligence", "ENHANCED DUE DILIGENCE", "b", "x\n", "x\r\n", "aab", "b\nb", "12x", "cb",
]  # fmt: skip


def test_translated_regexes_match_in_javascript_what_the_python_ones_match():
    node = shutil.which("node")
    if node is None:
        unavailable("promptfoo: no node to run the translated regexes with (install Node.js 20.20+)")
    patterns = shipped_patterns() + TRICKY
    table = [[translate_regex(p), [re.search(p, s) is not None for s in SAMPLES]] for p in patterns]
    script = (
        "const [table, samples] = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "console.log(JSON.stringify(table.map(([source]) => samples.map((s) => new RegExp(source).test(s)))));"
    )
    done = subprocess.run([node, "-e", script], input=json.dumps([table, SAMPLES]), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    verdicts = json.loads(done.stdout)
    wrong = [
        (pattern, source, sample, want)
        for pattern, (source, wants), got in zip(patterns, table, verdicts, strict=True)
        for sample, want, js in zip(SAMPLES, wants, got, strict=True)
        if want != js
    ]
    assert not wrong, wrong[:5]
    block = r"\b[Bb][Ll][Oo][Cc][Kk]\b[\s\S]*\b[Rr][Ee][Pp][Oo][Rr][Tt]"
    assert translate_regex(r"(?i)\bblock\b[\s\S]*\breport") == block
    assert translate_regex(r"\b\d{3}-\d{2}-\d{4}\b") == r"\b\d{3}-\d{2}-\d{4}\b"  # nothing to translate
    assert translate_regex(r"(?m)^x.$") == r"(?<![^\n])x[^\n](?![^\n])"


@pytest.mark.parametrize(
    "pattern, construct",
    [
        (r"(\d)\1", "a backreference"),
        (r"(?P<d>\d)(?P=d)", "a backreference"),
        (r"(?>\d+)", "an atomic group"),
        (r"\d++", "a possessive quantifier"),
        (r"(a)?(?(1)b|c)", "a conditional group"),
        (r"[😀a]", "the character U+1F600 in a character class"),
    ],
)
def test_a_pattern_javascript_cannot_run_is_an_input_error_at_the_criterions_line(tmp_path, pattern, construct):
    domain = get_domain("kyc")
    text = (BUNDLED / "kyc.yaml").read_text()
    bad = tmp_path / "kyc.yaml"
    bad.write_text(text.replace(r"pattern: '\b\d{3}-\d{2}-\d{4}\b'", f"pattern: '{pattern}'"))
    rubric = load_rubric(bad, domain="kyc", categories=set(domain.categories))
    line = next(i for i, row in enumerate(bad.read_text().splitlines(), 1) if pattern in row)
    ctx = Context(dataset="kyc", version=1, mission="m", find_rubric=lambda: (rubric, ""), options={"rubric": bad})
    with pytest.raises(InputError) as error:
        write_promptfoo([], ctx)
    [message] = error.value.problems
    assert message.startswith(f"{bad}:{line}: criteria[3].pattern: criterion 'no_national_ids' uses {construct}")
    assert message.endswith("promptfoo's regex assertions are JavaScript RegExps: rewrite the pattern without it")
    # a rubric no file at hand has (a copy kept with an older dataset): named by id and version
    ctx = Context(dataset="kyc", version=1, mission="m", find_rubric=lambda: (rubric, ""))
    with pytest.raises(InputError, match=rf"^rubric kyc-investigation@{rubric.version} \(the copy the dataset keeps;"):
        write_promptfoo([], ctx)


# --- the export ------------------------------------------------------------------------------------------------------


def test_tests_carry_tools_and_facts_and_judge_only_with_a_grader(datasets, tmp_path):
    result = export(datasets, "kyc", tmp_path / "kyc.yaml")
    assert result.exit_code == 0, result.output
    assert "judged criteria (llm-rubric) left out: they need --grader PROVIDER" in result.stderr
    text = (tmp_path / "kyc.yaml").read_text()
    assert re.search(r"^# Left out: \d+ judged assertions \(llm-rubric\), which need a grader: verdict_", text, re.M)
    assert "# To include them, export again with --grader PROVIDER" in text
    tests = yaml.safe_load(text)
    assert all(a["type"] != "llm-rubric" for t in tests for a in t["assert"])
    out_of_scope = [t for t in tests if t["metadata"]["category"] == "out_of_scope"]
    assert out_of_scope, "the kyc dataset has an out-of-scope case"
    for test in out_of_scope:
        assert test["vars"]["expected_tools"] == [] and test["vars"]["facts"]["verdict"] == "out_of_scope"
        [tools] = [a for a in test["assert"] if a["metric"] == "right_tools"]
        assert tools == {"type": "trajectory:step-count", "value": {"type": "tool", "max": 0}, "metric": "right_tools",
                         "weight": 1.0}  # fmt: skip
    for test in tests:
        facts = test["vars"]["facts"]
        assert set(facts) == {"verdict", "typology", "evidence_ids"}
        assert facts["evidence_ids"] == test["metadata"]["evidence_ids"]
        assert all(set(call) == {"name", "input"} for call in test["vars"]["expected_tools"])
        [tools] = [a for a in test["assert"] if a["metric"] == "right_tools"]
        names = list(dict.fromkeys(call["name"] for call in test["vars"]["expected_tools"]))
        assert tools["value"] == names if names else tools["type"] == "trajectory:step-count"

    result = export(datasets, "kyc", tmp_path / "graded.yaml", "--grader", "openai:gpt-4.1-mini")
    assert result.exit_code == 0 and not result.stderr, result.output
    text = (tmp_path / "graded.yaml").read_text()
    assert "# Judged criteria (llm-rubric) are graded by openai:gpt-4.1-mini." in text
    judged = [a for t in yaml.safe_load(text) for a in t["assert"] if a["type"] == "llm-rubric"]
    assert judged and all(a["provider"] == "openai:gpt-4.1-mini" for a in judged)
    assert {a["metric"] for a in judged} >= {"verdict_correct", "clear_conclusion"}

    result = export(datasets, "kyc", tmp_path / "x.yaml", "--grader", " ")
    assert result.exit_code == 2 and result.output.startswith("--grader: empty; give a promptfoo provider id")
    result = run("dataset", "export", "kyc", "--out", str(tmp_path / "x.jsonl"), "--grader", "echo",
                 "--output-dir", str(datasets))  # fmt: skip
    assert result.exit_code == 2 and result.output == "--grader: only --format promptfoo takes it\n"


# --- promptfoo runs it -----------------------------------------------------------------------------------------------

PROVIDER = r"""
// The agent under test, played by the golden answers: the rendered prompt (the reference answer) and the expected
// tool calls of vars.expected_tools, their names as a JSON line of the output (read by tool-call-f1) and each call
// as a span of the test's trace, sent to promptfoo's OTLP receiver (read by the trajectory assertions).
// config.mode "broken": the evidence ids removed, a national id and a promise of returns added, and the wrong tool
// calls (none where some are expected, one where none is).
const crypto = require('crypto');

module.exports = class GoldenAnswers {
  constructor(options) {
    this.config = options.config;
  }

  id() {
    return `goldsmith-${this.config.mode}`;
  }

  async callApi(prompt, context) {
    const vars = context.vars;
    let text = prompt;
    let calls = vars.expected_tools;
    if (this.config.mode === 'broken') {
      for (const ref of vars.facts.evidence_ids) text = text.split(ref).join('[id removed]');
      text += '\n\nNational id on file: 123-45-6789. These are guaranteed returns.';
      calls = calls.length ? [] : [{ name: 'get_customer_profile', input: { customer_id: 'C-0001' } }];
    }
    if (context.traceparent && calls.length) await this.trace(context.traceparent, calls);
    const line = calls.length ? '\n' + JSON.stringify({ tool_calls: calls.map((c) => ({ name: c.name })) }) : '';
    return { output: text + line };
  }

  async trace(traceparent, calls) {
    const [, traceId, parentSpanId] = traceparent.split('-');
    const start = BigInt(Date.now()) * 1000000n;
    const spans = calls.map((call, i) => ({
      traceId,
      spanId: crypto.randomBytes(8).toString('hex'),
      parentSpanId,
      name: `execute_tool ${call.name}`,
      kind: 1,
      startTimeUnixNano: String(start + BigInt(i) * 1000n),
      endTimeUnixNano: String(start + BigInt(i) * 1000n + 500n),
      attributes: [
        { key: 'gen_ai.tool.name', value: { stringValue: call.name } },
        { key: 'gen_ai.tool.call.arguments', value: { stringValue: JSON.stringify(call.input) } },
      ],
    }));
    const body = { resourceSpans: [{ resource: {}, scopeSpans: [{ scope: { name: 'goldsmith' }, spans }] }] };
    const response = await fetch(`http://127.0.0.1:${this.config.otlp_port}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`OTLP receiver: ${response.status} ${await response.text()}`);
  }
};
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def broken_metrics(test: dict) -> set[str]:
    """What the broken answer fails: the tools (and the actions), the evidence ids it removed, the national id and
    the promise of returns it added, where the test checks them."""
    metrics = {a["metric"] for a in test["assert"]}
    failed = {"right_tools"} | (metrics & {"no_national_ids", "no_promised_returns", "end_state_matches"})
    return failed | ({"evidence_grounded"} if test["vars"]["facts"]["evidence_ids"] else set())


@pytest.mark.slow
def test_promptfoo_passes_every_golden_answer_and_fails_what_a_broken_one_breaks(promptfoo, datasets, tmp_path):
    files = []
    for name in ("kyc", "crypto"):
        for options in ((), ("--grader", "echo")):
            files.append(f"{name}{'-graded' if options else ''}.yaml")
            result = export(datasets, name, tmp_path / files[-1], *options)
            assert result.exit_code == 0, result.output
    (tmp_path / "provider.js").write_text(PROVIDER)
    port = free_port()
    config = {
        "description": "Goldsmith golden answers",
        "prompts": ["{{reference_answer}}"],
        "providers": [
            {"id": "file://provider.js", "config": {"mode": mode, "otlp_port": port}} for mode in ("golden", "broken")
        ],
        "tests": [f"file://{file}" for file in files],
        # the `echo` grader answers with the grading prompt: a passing verdict
        "defaultTest": {"options": {"rubricPrompt": json.dumps({"pass": True, "score": 1, "reason": "echo grader"})}},
        "tracing": {
            "enabled": True,
            "failOnReceiverStartFailure": True,
            "otlp": {"http": {"enabled": True, "host": "127.0.0.1", "port": port}},
        },
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    env = {
        **os.environ,
        "PROMPTFOO_DISABLE_TELEMETRY": "1",
        "PROMPTFOO_DISABLE_UPDATE": "1",
        "PROMPTFOO_DISABLE_SHARING": "1",
        "PROMPTFOO_DISABLE_REMOTE_GENERATION": "true",
        "PROMPTFOO_CONFIG_DIR": str(tmp_path / "promptfoo-home"),  # its database and logs
        # the spans are stored before the provider returns: one look at the trace store is enough
        "PROMPTFOO_TRACE_FETCH_MAX_ATTEMPTS": "1",
        "PROMPTFOO_TRACE_FETCH_STABLE_POLLS": "1",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "NO_COLOR": "1",
    }
    command = [str(promptfoo), "eval", "-c", "config.yaml", "--no-cache", "-o", "results.json", "--no-table"]
    done = subprocess.run(
        [*command, "--no-progress-bar"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    log = (done.stdout + done.stderr)[-3000:]
    assert done.returncode in (0, 100), log  # 100: some tests failed (the broken answers)
    results = json.loads((tmp_path / "results.json").read_text())["results"]
    rows = results["results"]

    assert len(rows) == 2 * 4 * 30, log
    assert results["stats"]["errors"] == 0 and [r["error"] for r in rows if r["failureReason"] == 2] == []
    for row in rows:  # every assertion of the test ran and was reported
        assert len(row["gradingResult"]["componentResults"]) == len(row["testCase"]["assert"]), row["testCase"]
    golden = [r for r in rows if r["provider"]["id"] == "goldsmith-golden"]
    broken = [r for r in rows if r["provider"]["id"] == "goldsmith-broken"]
    failing = [
        (r["testCase"]["description"], c["assertion"]["metric"], c["reason"])
        for r in golden
        for c in r["gradingResult"]["componentResults"]
        if not c["pass"]
    ]
    assert not failing, failing[:5]
    assert all(r["success"] for r in golden) and len(golden) == 120
    results = [c for r in golden for c in r["gradingResult"]["componentResults"]]
    types = {c["assertion"]["type"] for c in results}
    assert types >= {"contains", "regex", "not-regex", "tool-call-f1", "trajectory:step-count"}
    assert types >= {"trajectory:tool-args-match", "llm-rubric"}
    judged = [c for c in results if c["assertion"]["type"] == "llm-rubric"]
    assert judged and {c["reason"] for c in judged} == {"echo grader"}  # graded by the exported `provider: echo`

    wrong = []
    for row in broken:
        failed = {c["assertion"]["metric"] for c in row["gradingResult"]["componentResults"] if not c["pass"]}
        if failed != broken_metrics(row["testCase"]) or row["success"]:
            wrong.append((row["testCase"]["description"], sorted(failed), sorted(broken_metrics(row["testCase"]))))
    assert not wrong, wrong[:5]
    assert len(broken) == 120
    passed = {name: sum(r["success"] for r in group) for name, group in (("golden", golden), ("broken", broken))}
    print(
        f"promptfoo {PROMPTFOO}: golden answers pass {passed['golden']}/120 tests, broken ones {passed['broken']}/120"
    )
