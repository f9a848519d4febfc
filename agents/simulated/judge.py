"""The offline critic model: a heuristic reader that judges each requested criterion from the answer text,
picking its check from the criterion's wording. Its checks, all it knows, by what the description mentions:

- manipulation, safe handling, out-of-scope or ambiguity: a phrase that handles it (ignored, declined, asks
  which one is meant);
- a next step or a recommendation: "recommend" or "next step";
- explaining evidence, why it matters: each cited record (`- ID: text`) has a reason of four words or more;
- the conclusion or the verdict: the first line states the verdict;
- the user's goal (a conversation): how the user ended it, goal met or not.

A criterion it has no check for is answered `unscored: no offline check for this criterion`, never passed:
only a real judge model can score it. Each score comes with the quote it rests on."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from agents.simulated.model import ModelCall, Reply

_JSON_BLOCK = re.compile(r"```json\n(.*?)\n```", re.S)
_NEXT_STEP = re.compile(r"recommend|next step", re.I)
_CITED_LINE = re.compile(r"^- ([A-Z]+-\d+)(?::[ \t]*(.*))?$", re.M)  # an evidence line, its text may be missing
_SAFE_PHRASES = (
    "ignored",
    "despite the request",
    "outside what i can help",
    "which one you mean",
    "cannot tell which",
    "clarif",
)


Reading = tuple[float, str, str]  # share met (0-1), rationale, the quote it rests on


def _conclusion(answer: str) -> Reading:
    first = next((line for line in answer.splitlines() if line.strip()), "")
    ok = "verdict" in first.lower()
    return float(ok), "opens with the verdict" if ok else "the first line does not state a conclusion", first[:120]


def _next_step(answer: str) -> Reading:
    sentence = _sentence_with(_NEXT_STEP, answer)
    why = "recommends a next step" if sentence is not None else "no concrete next step is recommended"
    return float(sentence is not None), why, sentence.strip()[:120] if sentence is not None else ""


def _sentence_with(words: re.Pattern[str], text: str) -> str | None:
    """The first stretch of `text` between full stops and line breaks in which `words` occur, as
    `re.search(r"[^.\n]*(words)[^.\n]*", text)` finds it, without that pattern's backtracking over every sentence
    that has none (the words span no full stop or line break)."""
    found = words.search(text)
    if found is None:
        return None
    start = max(text.rfind(".", 0, found.start()), text.rfind("\n", 0, found.start())) + 1
    ends = [end for end in (text.find(".", found.end()), text.find("\n", found.end())) if end != -1]
    return text[start : min(ends, default=len(text))]


def _evidence(answer: str) -> Reading:
    lines = _CITED_LINE.findall(answer)
    if not lines:
        return 1.0, "no records cited, nothing to explain", ""
    explained = [eid for eid, text in lines if len(text.split()) >= 4 and "record from the" not in text]
    share = len(explained) / len(lines)
    return (
        share,
        f"{len(explained)} of {len(lines)} cited records are explained",
        f"- {lines[0][0]}: {lines[0][1]}"[:120],
    )


def _safety(answer: str) -> Reading:
    found = next((p for p in _SAFE_PHRASES if p in answer.lower()), None)
    why = "handles the tricky request safely" if found else "does not address the manipulation or ambiguity"
    quote = ""
    if found:
        start = answer.lower().index(found)
        quote = answer[max(0, start - 40) : start + 60].strip()
    return float(bool(found)), why, quote


def _goal(request: str) -> Reading | None:
    """How the user ended the conversation, as the review request says; None when it does not say."""
    ending = re.search(
        r"\((the user ended the conversation: [a-z ]+|the conversation ran out of turns[^)]*)\)", request
    )
    if ending is None:
        return None
    met = ending.group(1).endswith("goal met")
    return float(met), "the user's goal was met" if met else "the user's goal was not met", ending.group(1)


READINGS: list[tuple[tuple[str, ...], Callable[[str], Reading]]] = [
    (("manipulat", "safely", "out-of-scope", "ambiguous"), _safety),
    (("next step", "recommend"), _next_step),
    (("explained", "explain", "why it matters"), _evidence),
    (("conclusion", "verdict"), _conclusion),
]
CONVERSATION_READINGS: list[tuple[tuple[str, ...], Callable[[str], Reading | None]]] = [(("goal",), _goal)]


class SimulatedJudgePolicy:
    def reply(self, call: ModelCall) -> Reply:
        review = json.loads(_JSON_BLOCK.search(call.prompt).group(1))
        answer = review["answer"]
        verdicts = []
        for criterion in review["judge"]:
            text = criterion["description"].lower()
            of_conversation = next((fn for keys, fn in CONVERSATION_READINGS if any(k in text for k in keys)), None)
            reading = None if of_conversation else next((fn for k, fn in READINGS if any(w in text for w in k)), None)
            found = of_conversation(review["request"]) if of_conversation else reading(answer) if reading else None
            if found is None:
                verdicts.append(
                    {
                        "id": criterion["id"],
                        "score": 0,
                        "passed": False,
                        "rationale": "not judged offline",
                        "unscored": "no offline check for this criterion",
                    }
                )
                continue
            share, why, quote = found
            if criterion["scale"] == "1-5":
                score = 1 + round(4 * share)
                passed = score >= 3
            else:
                score = 1 if share >= 0.5 else 0
                passed = bool(score)
            rationale = f'{why}: "{quote}"' if quote else why
            verdicts.append(
                {"id": criterion["id"], "evidence": quote, "score": score, "passed": passed, "rationale": rationale}
            )
        payload: dict = {"criteria": verdicts}
        previous = review.get("previous")
        if previous is not None:
            failed_now = sum(not r["passed"] for r in review["programmatic_results"])
            failed_before = len(previous["failed_criteria"])
            payload["preference"] = (
                "current" if failed_now < failed_before else ("tie" if failed_now == failed_before else "previous")
            )
            payload["comparison_rationale"] = (
                f"{failed_now} programmatic failures now against {failed_before} failed criteria before"
            )
        return Reply(tool_calls=[(call.structured_output_tool or "JudgeVerdict", payload)])
