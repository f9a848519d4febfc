"""The SME workspace: a small server-rendered web app over a storage location's datasets (`review serve`).

SMEs browse versions and examples, and record decisions (approve, reject, correct, per-criterion marks) and
promotions of review-queue items; `publish` turns the pending decisions into the next version (review/publish.py).
Nothing is edited in place. Every id in a URL is matched against a pattern and then looked up in the store (an
unknown one is 404; no path is ever built from raw input), every form carries a CSRF token (an HMAC of the form's
path under a per-process secret), and only the hosts the server was started for are answered (DNS rebinding).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

import jinja2
from pydantic import TypeAdapter, ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from config import InputError
from exports.base import dumped_calls
from review.decisions import REVIEWER, Action, Correction, Decision, DecisionLog, new_decision
from review.publish import finding_problem, item_problem, item_ref, pending, publish, queue_by_ref
from store.dataset import Dataset, Manifest
from store.records import Attempt, Critique, Example, ReviewItem, ToolCall
from store.storage import Storage, open_storage

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
EXAMPLE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
ITEM = re.compile(r"^(?P<run>[A-Za-z0-9][A-Za-z0-9._-]{0,100}):(?P<episode>[0-9]{1,9})$")
STATUSES = ("undecided", "approved", "rejected", "corrected")
STATUS_OF = {"approve": "approved", "reject": "rejected", "correct": "corrected"}
SAVED = {
    "approve": "Approved.",
    "reject": "Rejected.",
    "correct": "Correction saved.",
    "mark": "Marks saved.",
    "promote": "Promotion saved.",
}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
TOOL_CALLS = TypeAdapter(list[ToolCall] | None)  # null: not stated (a judged seed example)


class BadForm(Exception):
    """A form the SME must fix: the page is shown again with this message, and nothing is saved."""


@dataclass
class Workspace:
    """What every request shares: where the datasets are, who reviews, and the CSRF secret of this process."""

    storage: Storage
    reviewer: str
    secret: bytes

    def dataset(self, name: str) -> Dataset:
        """The dataset `name`, 404 unless the name is well formed and such a dataset exists."""
        if not NAME.match(name) or name not in self.names():
            raise HTTPException(404, f"no dataset {name!r}")
        return Dataset(self.storage, name)

    def names(self) -> list[str]:
        return [n for n in self.storage.children("") if NAME.match(n) and Dataset(self.storage, n).info() is not None]

    def token(self, path: str) -> str:
        return hmac.new(self.secret, path.encode(), hashlib.sha256).hexdigest()

    def check_token(self, request: Request, form: FormData) -> None:
        given = form.get("csrf")
        if not isinstance(given, str) or not hmac.compare_digest(given, self.token(request.url.path)):
            raise HTTPException(403, "missing or wrong form token: reload the page and submit again")


def create_app(output_dir: str, reviewer: str, *, hosts: Sequence[str] = ("127.0.0.1", "localhost")) -> Starlette:
    """The workspace over the datasets in `output_dir` (a directory or s3://bucket/prefix); decisions are recorded
    as `reviewer`. Only requests addressed to `hosts` are answered."""
    if not re.match(REVIEWER, reviewer):
        raise InputError(f"--reviewer: {reviewer!r} is not a reviewer name (letters, digits, space . _ @ -)")
    space = Workspace(open_storage(output_dir), reviewer, secrets.token_bytes(32))
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.globals["zip"] = zip
    env.filters["pretty"] = lambda value: json.dumps(value, indent=2, ensure_ascii=False, default=str)
    templates = Jinja2Templates(env=env)

    def page(request: Request, template: str, status: int = 200, **context: Any) -> Response:
        context = {"notice": None, "error": None} | context
        context |= {"reviewer": space.reviewer, "token": space.token(request.url.path), "where": output_dir}
        response = templates.TemplateResponse(request, template, context, status_code=status)
        response.headers.update(SECURITY_HEADERS)
        return response

    async def index(request: Request) -> Response:
        rows = []
        for name in space.names():
            dataset = Dataset(space.storage, name)
            info = dataset.info()
            try:
                versions = dataset.versions()
                latest = dataset.manifest() if versions else None
                waiting = len(pending(dataset, latest).current) if latest else 0
            except InputError as exc:  # one damaged dataset is shown as such; the others are listed as usual
                rows.append({"name": name, "info": info, "damaged": str(exc)})
                continue
            rows.append({"name": name, "info": info, "versions": len(versions), "latest": latest, "pending": waiting,
                         "damaged": None})  # fmt: skip
        return page(request, "index.html", datasets=rows)

    async def versions(request: Request) -> Response:
        return dataset_page(request, space.dataset(request.path_params["name"]))

    def dataset_page(request: Request, dataset: Dataset, status: int = 200, error: list[str] | None = None) -> Response:
        manifests = [dataset.manifest(v) for v in dataset.versions()]
        latest = manifests[-1] if manifests else None
        todo = pending(dataset, latest) if latest else None
        notice = "No pending decisions: nothing was published." if request.query_params.get("nothing") else None
        return page(
            request,
            "dataset.html",
            status,
            name=dataset.name,
            manifests=list(reversed(manifests)),
            pending=todo,
            notice=notice,
            error=error,
            publish_token=space.token(f"/d/{dataset.name}/publish"),
        )

    async def version(request: Request) -> Response:
        dataset = space.dataset(request.path_params["name"])
        manifest = version_of(dataset, request.path_params["version"])
        records = list(dataset.records(manifest))
        statuses = example_statuses(dataset)
        chosen = {key: request.query_params.get(key, "") for key in FILTERS}
        rows = [r for r in records if matches(r, statuses.get(r.id, "undecided"), chosen)]
        options = {
            "category": sorted({r.category for r in records}),
            "tag": sorted({t for r in records for t in r.tags}),
            "difficulty": sorted({r.difficulty for r in records}),
            "rounds": sorted({str(r.critique.rounds) for r in records}),
            "failed": sorted({c for r in records for c in r.critique.failed_criteria()}),
            "status": list(STATUSES),
            "truth": sorted({r.truth for r in records}),
        }
        published = (
            manifest.generation if manifest.operation == "review" and request.query_params.get("published") else None
        )
        return page(
            request,
            "version.html",
            name=dataset.name,
            manifest=manifest,
            rows=rows,
            total=len(records),
            statuses=statuses,
            chosen=chosen,
            options=options,
            published=published,
        )

    async def example(request: Request) -> Response:
        dataset = space.dataset(request.path_params["name"])
        manifest = version_of(dataset, request.path_params["version"])
        record = record_of(dataset, manifest, request.path_params["example_id"])
        if request.method == "POST":
            return await decided(
                request,
                dataset,
                lambda values: example_decision(dataset, manifest, record, values, space.reviewer),
                lambda values, **shown: example_page(request, dataset, manifest, record, values, **shown),
            )
        saved = SAVED.get(request.query_params.get("saved", ""))
        return example_page(request, dataset, manifest, record, {}, notice=saved)

    async def decided(
        request: Request,
        dataset: Dataset,
        make: Callable[[dict[str, str]], Decision],
        again: Callable[..., Response],
    ) -> Response:
        """A posted decision form: its token checked, the decision `make`s from it saved, then a redirect to the
        page; when the SME must fix something, the page `again` with the message (HTTP 400), nothing saved."""
        form = await request.form()
        space.check_token(request, form)
        values = {k: v for k, v in form.items() if isinstance(v, str)}
        try:
            decision = make(values)
        except BadForm as problem:
            return again(values, error=str(problem), status=400)
        DecisionLog(dataset).save(decision)
        return RedirectResponse(f"{request.url.path}?saved={decision.action}", status_code=303)

    def example_page(
        request: Request,
        dataset: Dataset,
        manifest: Manifest,
        record: Example,
        values: dict[str, str],
        *,
        error: str | None = None,
        notice: str | None = None,
        status: int = 200,
    ) -> Response:
        decisions = [d for d in DecisionLog(dataset).all() if d.target == "example" and d.ref == record.id]
        form = {
            "reference_answer": record.reference_answer,
            "finding": json.dumps(record.reference_output, indent=2, ensure_ascii=False),
            "expected_tool_calls": json.dumps(dumped_calls(record.expected_tool_calls), indent=2, ensure_ascii=False),
            "note": "",
        } | {k: v for k, v in values.items() if k in ("reference_answer", "finding", "expected_tool_calls", "note")}
        judged = [c for c in record.critique.criteria if c.method == "judge"]
        marks = {c.id: values.get(f"mark:{c.id}", "") for c in judged}
        return page(
            request,
            "example.html",
            status,
            name=dataset.name,
            manifest=manifest,
            record=record,
            decisions=decisions,
            form=form,
            judged=judged,
            marks=marks,
            error=error,
            notice=notice,
        )

    async def queue(request: Request) -> Response:
        dataset = space.dataset(request.path_params["name"])
        latest = dataset.latest()
        ids = dataset.ids(latest)
        items = list(queue_by_ref(dataset).values())
        current = DecisionLog(dataset).current()
        rows = [
            {"item": item, "ref": item_ref(item), "problem": item_problem(dataset, item, ids),
             "decision": current.get(("review_item", item_ref(item)))}
            for item in items
        ]  # fmt: skip
        return page(request, "queue.html", name=dataset.name, rows=rows)

    async def queue_item(request: Request) -> Response:
        dataset = space.dataset(request.path_params["name"])
        ref = request.path_params["item"]
        item = queue_by_ref(dataset).get(ref) if ITEM.match(ref) else None
        if item is None:
            raise HTTPException(404, f"no review-queue item {ref!r}")
        if request.method == "POST":
            return await decided(
                request,
                dataset,
                lambda values: item_decision(dataset, item, values, space.reviewer),
                lambda values, **shown: item_page(request, dataset, item, values, **shown),
            )
        return item_page(request, dataset, item, {}, notice=SAVED.get(request.query_params.get("saved", "")))

    def item_page(
        request: Request,
        dataset: Dataset,
        item: ReviewItem,
        values: dict[str, str],
        *,
        error: str | None = None,
        notice: str | None = None,
        status: int = 200,
    ) -> Response:
        last = item.attempts[-1] if item.attempts else None
        form = {
            "reference_answer": last.answer if last else "",
            "finding": json.dumps({k: v for k, v in (last.finding if last else {}).items() if k != "answer"}, indent=2),
        } | {k: v for k, v in values.items() if k in ("reference_answer", "finding")}
        ref = item_ref(item)
        judged = [c for c in item.critiques[-1].criteria if c.method == "judge"] if item.critiques else []
        return page(
            request,
            "item.html",
            status,
            name=dataset.name,
            item=item,
            ref=ref,
            judged=judged,
            marks={c.id: values.get(f"mark:{c.id}", "") for c in judged},
            rounds=list(zip_attempts(item)),
            problem=item_problem(dataset, item, dataset.ids(dataset.latest())),
            decisions=[d for d in DecisionLog(dataset).all() if d.target == "review_item" and d.ref == ref],
            form=form,
            error=error,
            notice=notice,
        )

    async def publish_pending(request: Request) -> Response:
        dataset = space.dataset(request.path_params["name"])
        form = await request.form()
        space.check_token(request, form)
        try:
            result = await run_in_threadpool(publish, dataset, space.reviewer)
        except InputError as problem:
            return dataset_page(request, Dataset(space.storage, dataset.name), 400, problem.problems)
        if result.manifest is None:
            return RedirectResponse(f"/d/{dataset.name}?nothing=1", status_code=303)
        return RedirectResponse(f"/d/{dataset.name}/v/{result.manifest.version}?published=1", status_code=303)

    async def not_found(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return page(request, "error.html", exc.status_code, code=exc.status_code, problems=[exc.detail])

    async def store_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, InputError)
        return page(request, "error.html", 500, code=500, problems=exc.problems)

    routes = [
        Route("/", index),
        Route("/d/{name}", versions),
        Route("/d/{name}/v/{version}", version),
        Route("/d/{name}/v/{version}/e/{example_id}", example, methods=["GET", "POST"]),
        Route("/d/{name}/queue", queue),
        Route("/d/{name}/queue/{item}", queue_item, methods=["GET", "POST"]),
        Route("/d/{name}/publish", publish_pending, methods=["POST"]),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=list(hosts))],
        exception_handlers={HTTPException: not_found, InputError: store_error},
    )


FILTERS = ("category", "tag", "difficulty", "rounds", "failed", "status", "truth")


def matches(record: Example, status: str, chosen: dict[str, str]) -> bool:
    """Whether a record passes the version page's filters (an empty filter passes everything)."""
    checks = {
        "category": record.category,
        "difficulty": record.difficulty,
        "rounds": str(record.critique.rounds),
        "status": status,
        "truth": record.truth,
    }
    if any(chosen[key] and chosen[key] != value for key, value in checks.items()):
        return False
    if chosen["tag"] and chosen["tag"] not in record.tags:
        return False
    return not chosen["failed"] or chosen["failed"] in record.critique.failed_criteria()


def example_statuses(dataset: Dataset) -> dict[str, str]:
    """Example id → the SME status its latest decision gives (examples with none are undecided)."""
    current = DecisionLog(dataset).current()
    return {ref: STATUS_OF[d.action] for (target, ref), d in current.items() if target == "example"}


def version_of(dataset: Dataset, text: str) -> Manifest:
    if not text.isdigit() or int(text) not in dataset.versions():
        raise HTTPException(404, f"dataset '{dataset.name}' has no version {text!r}")
    return dataset.manifest(int(text))


def record_of(dataset: Dataset, manifest: Manifest, example_id: str) -> Example:
    if EXAMPLE_ID.match(example_id) and example_id in dataset.ids(manifest):
        return next(r for r in dataset.records(manifest) if r.id == example_id)
    raise HTTPException(404, f"{dataset.name}@v{manifest.version} has no example {example_id!r}")


def zip_attempts(item: ReviewItem) -> Iterator[tuple[Attempt | None, Critique | None]]:
    """(attempt, its critique) per round of a queue item (either may be missing)."""
    for index in range(max(len(item.attempts), len(item.critiques))):
        attempt = item.attempts[index] if index < len(item.attempts) else None
        yield attempt, item.critiques[index] if index < len(item.critiques) else None


def example_decision(
    dataset: Dataset, manifest: Manifest, record: Example, values: dict[str, str], reviewer: str
) -> Decision:
    """The decision a submitted example form makes; BadForm when the SME must fix something."""
    action = values.get("action", "")
    if action not in ("approve", "reject", "correct", "mark"):
        raise BadForm("choose approve, reject, correct or save marks")
    marks = marks_given(values, record.critique)
    note = values.get("note", "").strip()
    correction = None
    if action == "reject" and not note:
        raise BadForm("a rejection needs a reason: say what is wrong with this example")
    if action == "mark" and not marks:
        raise BadForm("mark at least one criterion pass or fail to save marks")
    if action == "correct":
        correction = example_correction(dataset, record, values)
    return made(
        dataset, manifest.version, "example", record.id, cast(Action, action), reviewer, note, correction, marks
    )


def marks_given(values: dict[str, str], critique: Critique | None) -> dict[str, bool]:
    """The SME's pass/fail per judged criterion of `critique`, from the form's `mark:<id>` radios."""
    marks = {}
    for criterion in (c for c in critique.criteria if c.method == "judge") if critique else []:
        given = values.get(f"mark:{criterion.id}", "")
        if given not in ("", "pass", "fail"):
            raise BadForm(f"mark of {criterion.id}: pass, fail or no opinion")
        if given:
            marks[criterion.id] = given == "pass"
    return marks


def example_correction(dataset: Dataset, record: Example, values: dict[str, str]) -> Correction:
    """The fields the SME changed, as a Correction; BadForm when one is not valid or nothing changed."""
    changed: dict[str, Any] = {}
    answer = _text(values.get("reference_answer", ""))
    if not answer:
        raise BadForm("the reference answer cannot be empty")
    if answer != record.reference_answer.strip():
        changed["reference_answer"] = answer
    finding = parse_finding(values.get("finding", ""))
    if finding != record.reference_output:
        check_finding(dataset, finding, answer)
        changed["finding"] = finding
    try:
        calls = TOOL_CALLS.validate_json(values.get("expected_tool_calls", "") or "null")
    except ValidationError as exc:
        raise BadForm(f"expected tool calls: not a JSON list of {{name, input}} calls ({_first(exc)})") from None
    if calls != record.expected_tool_calls:
        changed["expected_tool_calls"] = calls
    if not changed:
        raise BadForm("nothing changed: edit the reference answer, the finding or the expected tool calls")
    return Correction(**changed)


def item_decision(dataset: Dataset, item: ReviewItem, values: dict[str, str], reviewer: str) -> Decision:
    """The decision a submitted queue-item form makes (a promotion, or marks alone); BadForm when the SME must fix
    something."""
    marks = marks_given(values, item.critiques[-1] if item.critiques else None)
    if values.get("action") == "mark":
        if not marks:
            raise BadForm("mark at least one criterion pass or fail to save marks")
        latest = dataset.latest()
        return made(dataset, latest.version if latest else 1, "review_item", item_ref(item), "mark", reviewer, "",
                    None, marks)  # fmt: skip
    return promotion(dataset, item, values, reviewer, marks)


def promotion(
    dataset: Dataset, item: ReviewItem, values: dict[str, str], reviewer: str, marks: dict[str, bool]
) -> Decision:
    """The promotion a submitted queue-item form makes; BadForm when the SME must fix something."""
    problem = item_problem(dataset, item, dataset.ids(dataset.latest()))
    if problem:
        raise BadForm(f"this item cannot be promoted: {problem}")
    last = item.attempts[-1]
    answer = _text(values.get("reference_answer", ""))
    if not answer:
        raise BadForm("the reference answer cannot be empty")
    fields: dict[str, Any] = {"reference_answer": answer}
    finding = parse_finding(values.get("finding", ""))
    if finding != {k: v for k, v in last.finding.items() if k != "answer"}:
        check_finding(dataset, finding, answer)
        fields["finding"] = finding
    latest = dataset.latest()
    version = latest.version if latest else 1
    return made(dataset, version, "review_item", item_ref(item), "promote", reviewer, "", Correction(**fields), marks)


def made(
    dataset: Dataset,
    version: int,
    target: Literal["example", "review_item"],
    ref: str,
    action: Action,
    reviewer: str,
    note: str,
    correction: Correction | None,
    marks: dict[str, bool],
) -> Decision:
    """A validated decision made now; BadForm with the first problem when it is not a valid one."""
    try:
        return new_decision(
            dataset.name,
            version,
            target=target,
            ref=ref,
            action=action,
            reviewer=reviewer,
            note=note,
            correction=correction,
            marks=marks,
        )
    except ValidationError as exc:
        raise BadForm(_first(exc)) from None


def parse_finding(text: str) -> dict[str, Any]:
    """The finding textarea as a JSON object; BadForm when it is not one."""
    try:
        finding = json.loads(text)
    except ValueError as exc:
        raise BadForm(f"finding: not valid JSON ({exc})") from None
    if not isinstance(finding, dict):
        raise BadForm("finding: must be a JSON object (verdict, typology, evidence_ids)")
    return finding


def check_finding(dataset: Dataset, finding: dict[str, Any], answer: str) -> None:
    """BadForm unless `finding` is a finding of the dataset's domain."""
    from simulation.domains import get_domain

    info = dataset.info()
    assert info is not None
    problem = finding_problem(get_domain(info.domain), finding, answer)
    if problem:
        raise BadForm(f"finding: {problem}")


def _text(value: str) -> str:
    """A textarea's text as the record keeps it: browsers send CRLF line ends."""
    return value.replace("\r\n", "\n").strip()


def _first(error: ValidationError) -> str:
    """A validation error's first problem as one line: `field: message`."""
    detail = error.errors()[0]
    where = ".".join(str(p) for p in detail["loc"])
    return f"{where}: {detail['msg']}" if where else detail["msg"]
