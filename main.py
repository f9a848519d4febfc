"""Goldsmith command line: parses arguments and dispatches to the core; nothing heavy is imported here."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from config.errors import InputError, RunFailed
from simulation.plan import MAX_COUNT

output_dir_option = click.option(
    "--output-dir",
    default="output",
    show_default=True,
    help="Where datasets live: a directory, or s3://bucket/prefix (needs AWS credentials).",
)


MODEL_OPTIONS = [
    click.option(
        "--config",
        "config_file",
        type=click.Path(path_type=Path, dir_okay=False),
        help="Model settings file  [default: ./goldsmith.yaml if it exists]",
    ),
    click.option("--model", help="Model for every role: simulated, bedrock:<model-id> or openai:<model>."),
    click.option("--user-model", help="Model for the user simulator (overrides --model)."),
    click.option("--task-model", help="Model for the task agent (overrides --model)."),
    click.option("--critic-model", help="Model(s) for the critic; several, comma-separated, make a judge jury."),
    click.option("--region", help="AWS region for Bedrock."),
    click.option("--profile", help="AWS named profile for Bedrock."),
    click.option("--endpoint-url", help="bedrock-runtime endpoint (VPC endpoint, local test server)."),
    click.option("--base-url", help="OpenAI-compatible server for openai: models (vLLM, Ollama, LM Studio)."),
    click.option("--rpm", type=click.IntRange(min=1), help="Requests per minute, per model (client-side)."),
    click.option("--tpm", type=click.IntRange(min=1), help="Input tokens per minute, per model (client-side)."),
    click.option(
        "--budget-usd",
        type=click.FloatRange(min=0, min_open=True),
        help="Stop starting episodes once the estimated cost reaches this; in-flight ones finish.",
    ),
]
MODEL_FLAGS = ("model", "user_model", "task_model", "critic_model", "region", "profile", "endpoint_url", "base_url")
MODEL_FLAGS += ("rpm", "tpm", "budget_usd")


def model_options(command):
    """The model-selection options shared by every command that runs models."""
    for option in reversed(MODEL_OPTIONS):
        command = option(command)
    return command


def _model_settings(options: dict):
    """goldsmith.yaml (or --config) with the model flags on top; removes those keys from `options`."""
    from agents.settings import load_settings, with_overrides

    flags = {key: options.pop(key) for key in MODEL_FLAGS}
    return with_overrides(load_settings(options.pop("config_file")), **flags)


def executor_options(items: str):
    """--workers, --executor, --ray-address: where a command's `items` are done."""
    options = [
        click.option(
            "--workers",
            type=click.IntRange(min=1),
            help=f"Processes doing the {items}, each with its own event loop (--concurrency is split between them); "
            "rate limits (and a run's budget) hold across all. With --executor ray: Ray actors.  [default: one per "
            "32 in flight, at most the number of cores: 1 up to --concurrency 32]",
        ),
        click.option(
            "--executor",
            type=click.Choice(["local", "ray"]),
            default="local",
            show_default=True,
            help="local: this machine. ray: Ray actors across a cluster (needs goldsmith[ray]); the dataset or OUT "
            "stays with this process.",
        ),
        click.option("--ray-address", metavar="ADDR", help="The Ray cluster to join  [default: a local Ray instance]."),
    ]

    def decorate(command):
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


run_id_option = click.option("--run-id", help="Run id  [default: timestamp + random suffix]")


def runtime_option(help: str):
    """--runtime: the agent framework the roles run in."""
    return click.option(
        "--runtime", type=click.Choice(["strands", "crewai"]), default="strands", show_default=True, help=help
    )


judge_mode_option = click.option(
    "--judge-mode",
    type=click.Choice(["together", "per_criterion"]),
    default="together",
    show_default=True,
    help="One judge call for all judged criteria per round, or one call per criterion.",
)


class _Cli(click.Group):
    """Bad input anywhere becomes `file:line: field: problem` lines on stderr and exit code 2;
    a run that could not complete safely (nothing written) exits with code 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except InputError as exc:
            for problem in exc.problems:
                click.echo(problem, err=True)
            sys.exit(2)
        except click.UsageError as exc:  # a bad option of a subcommand: one line, like every other bad input
            where = exc.ctx.command_path if exc.ctx else "goldsmith"
            click.echo(f"{where}: {exc.format_message()} (see {where} --help)", err=True)
            sys.exit(2)
        except RunFailed as exc:
            click.echo(str(exc), err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)


def _version() -> str:
    """The installed goldsmith's version; from pyproject.toml when running from a checkout that is not installed."""
    from importlib import metadata

    try:
        return metadata.version("goldsmith")
    except metadata.PackageNotFoundError:
        import tomllib

        pyproject = Path(__file__).resolve().parent / "pyproject.toml"
        return tomllib.loads(pyproject.read_text())["project"]["version"]


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(_version(), "--version", prog_name="goldsmith", message="%(prog)s %(version)s")
def cli() -> None:
    """Goldsmith: generate validated, versioned golden datasets with a user simulator, a task agent with
    tools and a critic that judges every answer against SME-written rubrics.

    Runs offline on simulated models by default. Datasets land in ./output/<name>/.

    \b
    Exit codes:
      0    ok
      1    a run failed or was stopped (nothing committed), generate accepted no example,
           revalidate could not judge an example, dataset verify found problems,
           a rubric test had a surprise
      2    bad input, damaged data or an environment problem (nothing was written)
      130  interrupted (Ctrl-C); in generate, one Ctrl-C lets the episodes in flight finish
           and commits them, and the codes above apply
    """


@cli.command()
@click.option("--domain", default="kyc", show_default=True, help="Domain pack to generate for.")
@click.option(
    "--count",
    default=20,
    show_default=True,
    type=click.IntRange(1, MAX_COUNT),
    help="Episodes to run (with --cases: the file's requests, unless given).",
)
@click.option("--dataset", help="Dataset name  [default: the domain name]")
@output_dir_option
@click.option("--seed", type=int, help="Varies which cases are drawn and how they are phrased  [default: random]")
@click.option(
    "--cases",
    type=click.Path(path_type=Path),
    help="Real requests to seed goldens from, instead of drawing cases from the world: JSONL or CSV, one request "
    "a line, with the SME's facts where known (see docs/domains.md).",
)
@click.option(
    "--paraphrase",
    is_flag=True,
    help="With --cases: the user simulator rewords each request instead of sending it as written.",
)
@click.option(
    "--world-seed",
    type=int,
    help="World the dataset is bound to; fixed at creation, reused by later batches  [default: 1]",
)
@click.option(
    "--max-rounds",
    default=3,
    show_default=True,
    type=click.IntRange(min=1),
    help="Critique rounds before an episode goes to the review queue.",
)
@click.option(
    "--concurrency", default=4, show_default=True, type=click.IntRange(min=1), help="Episodes in flight at once."
)
@executor_options("episodes")
@click.option("--rubric", type=click.Path(path_type=Path), help="Rubric file  [default: rubrics/<domain>.yaml]")
@model_options
@click.option(
    "--sim-defect-rate",
    default=0.3,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Simulated task model: share of first drafts with a planted defect.",
)
@click.option(
    "--sim-latency-ms",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Simulated models: latency added to each call.",
)
@click.option(
    "--sim-malformed-rate",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Simulated models: share of structured outputs that fail validation (retried with the error).",
)
@click.option(
    "--sim-throttle-rate",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Simulated models: share of calls throttled (retried by the retry strategy).",
)
@judge_mode_option
@runtime_option("Agent framework for the three roles; crewai needs goldsmith[crewai].")
@click.option(
    "--task-agent",
    metavar="MODULE:FACTORY",
    help="Your own task agent: a factory returning a strands Agent or a CrewAI Agent / Crew (see docs/runtimes.md).",
)
@click.option(
    "--mcp-server", metavar='"COMMAND ARGS"', help="Give the task agent the tools of this MCP server (stdio)."
)
@click.option(
    "--mcp-url", metavar="URL", help="Give the task agent the tools of the MCP server at URL (streamable HTTP)."
)
@click.option(
    "--run-id",
    help="Run id  [default: timestamp + random suffix]. An existing run id resumes that run: finished "
    "episodes are kept, interrupted ones continue from their last stage.",
)
@click.pass_context
def generate(ctx: click.Context, **options) -> None:
    """Generate golden examples and append them to the dataset as a new version.

    Models: simulated (offline, the default), bedrock:<model-id> (needs AWS credentials) or openai:<model>
    (with --base-url for a local server). Real models are checked with one cheap call before any episode.

    Every episode is checkpointed after each stage. Ctrl-C (or SIGTERM) once: no new episodes, those in
    flight finish and the accepted ones are committed. Twice: stop now. Either way, or after a crash,
    `generate --run-id ID` resumes the run and commits each accepted example exactly once.

    Exits 1, after the summary, when the run holds no accepted example at all. The agent frameworks' log
    lines (throttling, retries) go to <output>/<dataset>/runs/<run>/run.log, not the console; with an
    s3:// output, to <tmp>/goldsmith/<dataset>/runs/<run>/run.log."""

    from click.core import ParameterSource

    from review.report_html import write_latest
    from simulation.console import framework_logs, progress_note, run_log_path
    from simulation.runner import Run, RunConfig
    from simulation.summary import nothing_accepted, progress_bar, render_summary
    from store.files import WriteFailed

    given = {name for name in ctx.params if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE}
    explicit = {"models" if name in MODEL_FLAGS or name == "config_file" else name for name in given}
    run = Run(RunConfig(models=_model_settings(options), **options), explicit)
    done = run.finished_before  # so the bar counts what the table does
    start = (
        f"resuming run {run.run_id} ({done.total()} of {run.config.count} done)" if run.resumed else f"run {run.run_id}"
    )
    click.echo(
        f"{start}: {run.config.count} episodes of {run.domain.name} into {run.dataset.where} (seed {run.seed}, "
        f"world seed {run.settings.world_seed}, rubric {run.rubric.id}@{run.rubric.version})"
    )
    with framework_logs(run_log_path(run.dataset, run.run_id)) as log:

        def note() -> str:
            return progress_note(run.lineup.meters.stats(), log)

        try:
            with progress_bar(run.config.count, done=done, note=note) as on_result:
                summary = run.execute(on_result)
        except WriteFailed as exc:  # full disk, read-only: the checkpoints written so far let the run resume
            raise InputError(f"{exc} (add --run-id {run.run_id} to resume)") from None
    render_summary(summary, log=log.describe())
    try:
        if page := write_latest(run.dataset):
            click.echo(f"report: {page}")
    except Exception as exc:  # a full disk, a version the page cannot read: the run is committed all the same
        click.echo(f"report: not written ({type(exc).__name__}: {exc})", err=True)
    if problem := nothing_accepted(summary, run.config.output_dir):
        raise RunFailed(problem)


@cli.command()
@click.argument("name")
@click.option("--rubric", required=True, type=click.Path(path_type=Path), help="The (edited) rubric to judge with.")
@click.option("--repair", is_flag=True, help="Send failing examples back through the task agent's revise loop.")
@click.option(
    "--max-rounds",
    default=3,
    show_default=True,
    type=click.IntRange(min=1),
    help="Revise rounds per failing example with --repair.",
)
@click.option(
    "--concurrency", default=4, show_default=True, type=click.IntRange(min=1), help="Examples judged at once."
)
@click.option(
    "--judge-batch",
    is_flag=True,
    help="Judge as Amazon Bedrock batch inference jobs (batch: in goldsmith.yaml; a bedrock: critic).",
)
@click.option(
    "--no-fallback",
    "fallback",
    flag_value=False,
    default=True,
    help="With --judge-batch: report what the batch did not judge instead of judging it on demand.",
)
@executor_options("examples")
@model_options
@judge_mode_option
@output_dir_option
@run_id_option
def revalidate(name: str, **options) -> None:
    """Re-judge every example of dataset NAME (latest version) against a rubric and write a new version.

    Examples that still pass are kept with their new critique; failing ones move to the review queue,
    or with --repair are revised by the task agent first. The user simulator and task agent are not re-run
    for passing examples.

    With --judge-batch the first round's judge requests go to Bedrock as batch inference jobs (about half the
    on-demand price); killed and started again with the same --run-id, it picks up the jobs it submitted."""
    from simulation.console import framework_logs, progress_note, run_log_path
    from simulation.revalidate import RevalidateConfig, Revalidation
    from simulation.summary import count_bar, progress_bar, render_revalidation

    job = Revalidation(RevalidateConfig(dataset=name, models=_model_settings(options), **options))
    with framework_logs(run_log_path(job.dataset, job.run_id)) as log:

        def note() -> str:
            return progress_note(job.lineup.meters.stats(), log)

        if job.config.judge_batch:
            click.echo(f"run {job.run_id}: judge requests as Bedrock batch jobs (--run-id {job.run_id} resumes)")
            with count_bar("batch jobs: records judged") as on_progress:
                job.judge_in_batch(on_progress)
        with progress_bar(job.source.records, "examples", note=note) as on_result:
            summary = job.execute(on_result)
    render_revalidation(summary)
    if described := log.describe():
        click.echo(f"framework log: {described}")


class _DefaultCommandGroup(click.Group):
    """A group whose first argument, when it names no subcommand, goes to its default command:
    `evaluate kyc --agent sim` runs `evaluate run kyc --agent sim`, and `evaluate compare A B` compares."""

    default = "run"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = [self.default, *args]
        return super().parse_args(ctx, args)


@cli.command()
@click.argument("ref", metavar="NAME[@vN]")
@output_dir_option
@click.option("--out", required=True, type=click.Path(path_type=Path, dir_okay=False), help="The HTML file to write.")
def report(ref: str, output_dir: str, out: Path) -> None:
    """Write the run report of NAME (latest version) or NAME@vN as one self-contained HTML page: the category mix
    configured, drawn and accepted, tags, critique rounds, top failure reasons, tool-call F1 of first drafts and
    accepted answers, tokens and cost per model, jury agreement, SME decisions, the dataset audit and the judge's
    calibration against SMEs' marks. Charts are drawn offline (plotly.js is embedded)."""
    from review.report import build_report
    from review.report_html import write_report
    from store.dataset import Dataset, parse_ref

    name, version = parse_ref(ref)
    built = build_report(Dataset(output_dir, name), version)
    click.echo(f"report of {built.dataset}@v{built.version}: {write_report(built, out)}")


@cli.command()
@click.argument("ref", metavar="NAME[@vN]")
@output_dir_option
@click.option(
    "--labels",
    type=click.Path(path_type=Path, dir_okay=False),
    help="SMEs' marks as CSV: example_id,criterion,passed,reviewer (with those of the SME workspace).",
)
@click.option(
    "--threshold",
    type=click.FloatRange(0, 1),
    help="Flag criteria whose kappa is below this  [default: the rubric's calibration.min_kappa, else 0.6]",
)
@click.option(
    "--json", "json_file", type=click.Path(path_type=Path, dir_okay=False), help="Also write the numbers to this file."
)
def calibrate(ref: str, output_dir: str, labels: Path | None, threshold: float | None, json_file: Path | None) -> None:
    """How far to trust each judged criterion of NAME (latest version) or NAME@vN: the judge's pass/fail against
    SMEs' marks, with n, agreement, Cohen's kappa and its 95% bootstrap interval, the 2x2 table and the examples
    where they disagree; criteria below the threshold are flagged. Also the kappa between two reviewers who marked
    the same examples. Exits 0 even when a criterion is flagged; 2 on bad input or when there are no marks."""
    from review.calibrate import calibrate as judge_vs_smes
    from review.calibrate import no_labels_problem, render_calibration
    from review.labels import read_labels
    from store.dataset import Dataset, parse_ref
    from store.files import atomic_write

    name, version = parse_ref(ref)
    extra = read_labels(labels) if labels else []
    result = judge_vs_smes(Dataset(output_dir, name), version, extra, threshold)
    if problem := no_labels_problem(result):
        raise InputError(problem)
    render_calibration(result)
    if json_file:
        atomic_write(json_file, result.model_dump_json(indent=2).encode())
        click.echo(f"numbers: {json_file}")


@cli.group(cls=_DefaultCommandGroup)
def evaluate() -> None:
    """Evaluate candidate agents on a dataset's goldens: `evaluate NAME[@vN] --agent SPEC [--agent SPEC ...]`
    (see `evaluate run --help`), and compare two evaluations (`evaluate compare DIR_A DIR_B`)."""


@evaluate.command("run")
@click.argument("ref", metavar="NAME[@vN]")
@click.option(
    "--agent",
    "agents",
    multiple=True,
    required=True,
    metavar="SPEC",
    help="A candidate (repeatable): sim, sim:defect=R, bedrock:<model-id>, openai:<model>, package.module:factory, "
    "mcp:<server command or URL> (the --task-model with an MCP server's tools), "
    "baseline:no-tools, baseline:majority, baseline:reference (the goldens' own answers: must pass).",
)
@click.option("--judge", metavar="SPEC", help="The critic's model  [default: --critic-model, else simulated]")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), help="Where results go  [default: "
              "<output-dir>/<name>/evaluations/<name>-v<N>]")  # fmt: skip
@click.option("--limit", type=click.IntRange(min=1), help="Evaluate only the first N goldens.")
@click.option("--concurrency", type=click.IntRange(min=1), default=4, show_default=True, help="Goldens in flight.")
@click.option("--rubric", type=click.Path(path_type=Path), help="Score with this rubric  [default: the dataset's]")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the simulated models' draws.")
@runtime_option("Agent framework the candidates, the user simulator and the judge run in.")
@click.option(
    "--judge-batch",
    is_flag=True,
    help="Answer every golden first, then judge them all as Amazon Bedrock batch inference jobs "
    "(batch: in goldsmith.yaml; a bedrock: judge).",
)
@click.option(
    "--no-fallback",
    "fallback",
    flag_value=False,
    default=True,
    help="With --judge-batch: report what the batch did not judge (a failed golden) instead of judging it on demand.",
)
@executor_options("goldens")
@output_dir_option
@model_options
def evaluate_run(ref: str, agents: tuple[str, ...], out: Path | None, **options) -> None:
    """Replay every golden of dataset NAME (latest version, or @vN) against each candidate and score it with the
    dataset's rubric, in the dataset's own world: verdict, evidence, tool calls (names and arguments), end
    state, judged criteria, pass/fail, latency, tokens and cost.

    Prints a leaderboard with 95% confidence intervals (bootstrap over goldens), per category and per tag, and
    whether the dataset tells the candidates apart. Writes OUT/results.jsonl (one line per golden and candidate,
    as they come), OUT/summary.json and OUT/report.html (one self-contained page). Run again with the same OUT to
    resume: nothing is scored twice. A model candidate answers once, without revision rounds."""
    from evaluation.report import print_leaderboard, summary, write_html, write_summary
    from evaluation.run import EvaluateConfig, Evaluation
    from simulation.summary import batch_line, count_bar, progress_bar
    from store.dataset import parse_ref
    from store.records import utc_now

    name, version = parse_ref(ref)
    settings = _model_settings(options)
    if out is None:
        label = f"{name}-v{version}" if version else f"{name}-latest"
        out = Path(options["output_dir"]) / name / "evaluations" / label
    job = Evaluation(EvaluateConfig(dataset=ref, agents=list(agents), out=out, models=settings, **options))
    click.echo(
        f"evaluating {len(job.candidates)} candidate(s) on {len(job.goldens)} goldens of "
        f"{name}@v{job.manifest.version} (rubric {job.rubric.id}@{job.rubric.version}, judge {job.judge}) into {out}"
        + (f"; {job.unstated} left out: nobody stated their facts or tool calls" if job.unstated else "")
    )
    if job.config.judge_batch:
        with progress_bar(job.pending, "answers") as advance:
            job.answer_all(lambda ok: advance(_Outcome("answered" if ok else "error")))
        with count_bar("batch jobs: records judged") as on_progress:
            job.judge_in_batch(on_progress)
    with progress_bar(job.pending, "goldens") as advance:
        results = job.execute(lambda r: advance(_Outcome("error" if r.error else "passed" if r.passed else "failed")))
    meta = {**job.meta, "rubric_id": job.rubric.id, "rubric_version": job.rubric.version, "created_at": utc_now()}
    if job.batch is not None:
        meta["judge_batch"] = job.batch.stats.model_dump(mode="json")
        click.echo(batch_line(job.batch.stats))
    report = summary(results, meta)
    write_summary(report, out / "summary.json")
    write_html(report, results, out / "report.html")
    print_leaderboard(report)
    click.echo(f"results: {out / 'results.jsonl'} · summary: {out / 'summary.json'} · report: {out / 'report.html'}")


class _Outcome:
    def __init__(self, status: str):
        self.status = status


@evaluate.command("compare")
@click.argument("dir_a", type=click.Path(path_type=Path, file_okay=False))
@click.argument("dir_b", type=click.Path(path_type=Path, file_okay=False))
def evaluate_compare(dir_a: Path, dir_b: Path) -> None:
    """Per golden, what changed from evaluation DIR_A to DIR_B: regressions (passed in A, fail in B) and fixes,
    and each candidate's pass rate in both."""
    from evaluation.compare import compare, print_comparison

    print_comparison(compare(dir_a, dir_b))


@cli.group()
def dataset() -> None:
    """List, show, diff, verify, repair, export and import datasets, and read their review queues."""


EXPORT_FORMATS = (
    "jsonl",
    "bedrock",
    "bedrock-rag",
    "strands-evals",
    "deepeval",
    "ragas",
    "promptfoo",
    "agentcore",
    "agentcore-simulated",
)


@dataset.command("publish")
@click.argument("ref", metavar="NAME[@vN]")
@click.option("--to", "target", type=click.Choice(["agentcore"]), required=True, help="Where to publish.")
@click.option(
    "--schema",
    type=click.Choice(["predefined", "simulated"]),
    default="predefined",
    show_default=True,
    help="AgentCore's schema: predefined scenarios (turns, expected responses and trajectory) or simulated ones "
    "(an actor profile and an opening message).",
)
@click.option("--dataset-name", help="The AgentCore dataset's name  [default: NAME, '-' as '_']")
@click.option("--s3-uri", help="s3://bucket/prefix: send the examples through S3 (large versions).")
@click.option("--region", help="AWS region.")
@click.option("--profile", help="AWS named profile.")
@click.option(
    "--endpoint-url", help="bedrock-agentcore-control endpoint (also AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL)."
)
@click.option(
    "--poll", type=click.FloatRange(min=0), default=2.0, show_default=True, help="Seconds between status checks."
)
@output_dir_option
def dataset_publish(ref: str, target: str, output_dir: str, region, profile, endpoint_url, poll, **options) -> None:
    """Publish REF to Amazon Bedrock AgentCore Evaluations as a managed dataset (needs AWS credentials).

    The first publish creates the AgentCore dataset and an AgentCore version; a later Goldsmith version sends only
    the examples AgentCore does not hold yet and creates the next AgentCore version; a version already published
    sends nothing. The mapping is kept in <dataset>/published/ beside the manifests."""
    from collections import Counter

    from rich.console import Console

    from exports.publish import AgentCorePublisher, agentcore_client
    from store.dataset import Dataset, parse_ref

    name, version = parse_ref(ref)
    data = Dataset(output_dir, name)
    if data.info() is None:
        raise InputError(f"no dataset '{name}' in {data.storage.url()}")
    s3 = None
    if options["s3_uri"]:
        import boto3

        s3 = boto3.Session(profile_name=profile, region_name=region).client("s3")
    client = agentcore_client(region, profile, endpoint_url)
    with Console(stderr=True).status("AgentCore: publishing") as shown:
        checks = Counter()

        def on_status(status: str) -> None:
            checks[status] += 1
            shown.update(f"AgentCore: dataset {status} (status checked {sum(checks.values())} times)")

        publisher = AgentCorePublisher(data, client, poll_s=poll, s3_client=s3, on_status=on_status, **options)
        outcome = publisher.publish(version)
    ref_text = f"{name}@v{outcome.goldsmith_version}"
    if outcome.already:
        published = f"AgentCore dataset {outcome.dataset_id} version {outcome.agentcore_version}"
        click.echo(f"{ref_text} is already {published}: nothing sent")
        return
    how = "created" if outcome.created else "updated"
    click.echo(
        f"{ref_text} → AgentCore dataset {outcome.dataset_name} ({outcome.dataset_id}, {how}) version "
        f"{outcome.agentcore_version}: {outcome.added} examples sent, {outcome.examples} in all"
    )


@dataset.command("export")
@click.argument("ref")
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), default="jsonl", show_default=True)
@click.option(
    "--out",
    "--to",
    "out",
    required=True,
    help="File to write: a path, or s3://bucket/key (for a Bedrock job). Bedrock formats shard past 1,000 records.",
)
@click.option(
    "--filter",
    "filters",
    multiple=True,
    help="FIELD=VALUE[,FIELD=VALUE]: keep matching records (fields: category, difficulty, persona). Repeatable.",
)
@click.option("--sample", type=click.IntRange(min=1), help="Export N records, stratified by category.")
@click.option("--seed", default=0, show_default=True, help="Seed of --sample.")
@click.option(
    "--rubric",
    type=click.Path(path_type=Path),
    help="The rubric file the version was judged with, for datasets that do not keep a copy (older ones).",
)
@click.option(
    "--with-responses",
    is_flag=True,
    help="bedrock: add the stored answers as modelResponses, labelled with the task model.",
)
@click.option(
    "--role-arn",
    help="bedrock: also write a create_evaluation_job request per file (needs --to s3://... and responses).",
)
@click.option(
    "--evaluator-model", default="amazon.nova-pro-v1:0", show_default=True, help="bedrock: the job's judge model."
)
@click.option(
    "--grader",
    metavar="PROVIDER",
    help="promptfoo: the provider id that grades the judged criteria (llm-rubric), e.g. openai:gpt-4.1-mini. "
    "Without it they are left out.",
)
@output_dir_option
def dataset_export(ref: str, fmt: str, out: str, output_dir: str, **options) -> None:
    """Export REF (NAME for the latest version, or NAME@vN) for a downstream evaluation tool.

    Formats: jsonl (Goldsmith records), bedrock and bedrock-rag (Amazon Bedrock evaluation jobs),
    strands-evals (an Experiment file), deepeval (goldens), ragas (samples), promptfoo (tests), agentcore and
    agentcore-simulated (Amazon Bedrock AgentCore Evaluations: predefined or simulated-user scenarios). The README
    maps every field, and says what each format cannot carry."""
    from exports import ExportRequest, export, parse_filters
    from store.dataset import Dataset, parse_ref

    name, version = parse_ref(ref)
    options["filters"] = parse_filters(options["filters"])
    result = export(Dataset(output_dir, name), version, ExportRequest(format=fmt, out=out, **options))
    click.echo(f"wrote {result.records} records of {name}@v{result.manifest.version} ({fmt}) to")
    for file in result.files:
        click.echo(f"  {file}")
    if fmt == "promptfoo" and not options["grader"]:
        click.echo("note: judged criteria (llm-rubric) left out: they need --grader PROVIDER", err=True)


@dataset.command("import")
@click.argument("source")
@click.option("--into", "name", required=True, help="The dataset to import into (created when it does not exist).")
@click.option(
    "--rubric",
    type=click.Path(path_type=Path),
    help="Rubric whose programmatic criteria every record must pass  [default: rubrics/<domain>.yaml]",
)
@click.option("--judge", is_flag=True, help="Have the critic judge every record again too (model calls).")
@model_options
@output_dir_option
def dataset_import(source: str, name: str, output_dir: str, rubric: Path | None, judge: bool, **options) -> None:
    """Import Goldsmith records (a jsonl export; a path or s3://bucket/key) into a dataset as a new version.

    Nothing is taken on trust: each record's case is rebuilt from the dataset's world, its facts and expected
    tool calls must equal the world's, its tool calls are replayed against the world, and its answer must pass
    the rubric's programmatic criteria (with --judge, the judged criteria too). Records that fail go to the
    review queue with their reasons (exit 1); the others are appended unchanged."""
    from simulation.importer import import_file
    from store.dataset import Dataset

    result = import_file(Dataset(output_dir, name), source, rubric=rubric, judge=judge, models=_model_settings(options))
    if result.manifest is not None:
        click.echo(
            f"imported {result.manifest.added} records from {source} into {name}@v{result.manifest.version}"
            + (f" ({len(result.skipped)} already there)" if result.skipped else "")
        )
    elif not result.rejected:
        click.echo(f"nothing new: all {result.read} records of {source} are already in {name}")
    for rejected in result.rejected:
        click.echo(
            f"{source}:{rejected.line}: {rejected.record.id}: rejected: {'; '.join(rejected.problems)}", err=True
        )
    if result.rejected:
        raise RunFailed(
            f"{len(result.rejected)} of {result.read} records rejected (not imported); they are in the review queue: "
            f"python main.py dataset queue {name}"
        )


@dataset.command("list")
@output_dir_option
def dataset_list(output_dir: str) -> None:
    """List the datasets in --output-dir: versions, records and the rubric versions they were judged with."""
    from store.dataset import Dataset
    from store.storage import open_storage

    storage = open_storage(output_dir)
    names = [name for name in storage.children("") if "dataset.json" in storage.children(name)]
    if not names:
        click.echo(f"no datasets in {storage.url()}")
    for name in names:
        data = Dataset(storage, name)
        try:
            info, manifests = data.info(), [data.manifest(v) for v in data.versions()]
        except InputError as error:  # one damaged dataset does not hide the others
            click.echo(f"{name}: damaged: {error.problems[0]}")
            continue
        latest = manifests[-1] if manifests else None
        rubrics = sorted({f"{m.rubric.get('id')}@{m.rubric.get('version')}" for m in manifests})
        click.echo(
            f"{name}: domain {info.domain}, world seed {info.world_seed}, "
            + (
                f"v1..v{latest.version}, {latest.records} records in v{latest.version}, rubrics {', '.join(rubrics)}"
                if latest
                else "no versions yet"
            )
        )


@dataset.command("show")
@click.argument("ref")
@click.option("--examples", default=3, show_default=True, type=click.IntRange(min=0), help="Examples to print.")
@click.option("--category", default=None, help="Print only examples of this category.")
@output_dir_option
def dataset_show(ref: str, examples: int, category: str | None, output_dir: str) -> None:
    """Show REF (NAME or NAME@vN): its manifest, counts per category and difficulty, and a few examples; a
    conversation turn by turn (each answer's first line and the tools it called), with its expected actions and
    whether the end state matched."""
    from itertools import islice

    from store.dataset import Dataset, parse_ref

    name, version = parse_ref(ref)
    data = Dataset(output_dir, name)
    m = data.manifest(version)
    click.echo(f"{name}@v{m.version} ({m.operation}, parent {f'v{m.parent}' if m.parent else '-'}, {m.created_at})")
    click.echo(f"  run {m.run_id}, rubric {m.rubric.get('id')}@{m.rubric.get('version')}")
    click.echo(f"  domain {m.domain} {m.domain_version}, world seed {m.world_seed}, models {m.models}")
    click.echo(f"  records {m.records} (added {m.added}, removed {m.removed}), sha256 {m.sha256}")
    click.echo("  by category:   " + ", ".join(f"{k} {v}" for k, v in m.categories.items()))
    click.echo("  by difficulty: " + ", ".join(f"{k} {v}" for k, v in m.difficulties.items()))
    if seeded := m.generation.get("cases"):
        truth = ", ".join(f"{k} {v}" for k, v in seeded.get("truth", {}).items())
        click.echo(
            f"  seeded from {seeded.get('file')} (truth: {truth}); {seeded.get('unreviewed', 0)} judged examples "
            "await an SME's sign-off (review serve)"
        )
    chosen = (r for r in data.records(m) if category is None or r.category == category)
    for record in islice(chosen, examples):
        prompt = " ".join(record.prompt.split())
        click.echo(f"- {record.id} [{record.category}, {record.difficulty}] {prompt[:100]}")
        if record.scenario is None:
            continue
        click.echo(f"    goal: {record.scenario.goal}")
        for turn in record.conversation[1:]:
            lines = [" ".join(line.split()) for line in turn.content.splitlines() if line.strip()]
            text = lines[0] if len(lines) == 1 else f"{lines[0]} … {lines[-1]}"
            tools = f" [{', '.join(e.name for e in turn.tool_trace)}]" if turn.tool_trace else ""
            click.echo(f"    {turn.role}:{tools} {text[:160]}")
        expected = "; ".join(f"{a.name} {json.dumps(a.input, sort_keys=True)}" for a in record.expected_actions)
        matched = "matches" if record.end_state == record.expected_end_state else "DIFFERS"
        click.echo(f"    expected actions: {expected or 'none'} · end state {matched}")


@dataset.command("diff")
@click.argument("old")
@click.argument("new")
@output_dir_option
def dataset_diff(old: str, new: str, output_dir: str) -> None:
    """What changed between two versions (e.g. kyc@v1 kyc@v3): ids added, removed and changed, and why."""
    from store.dataset import Dataset, parse_ref
    from store.history import diff

    (name, a), (other, b) = parse_ref(old), parse_ref(new)
    if name != other:
        raise InputError(f"{new}: compare two versions of one dataset, not {name} and {other}")
    data = Dataset(output_dir, name)
    a, b = data.manifest(a).version, data.manifest(b).version
    if a >= b:
        raise InputError(f"{old} {new}: give the older version first")
    result = diff(data, a, b)
    click.echo(
        f"{name}@v{a} → {name}@v{b}: {len(result.added)} added, {len(result.removed)} removed, "
        f"{len(result.changed)} changed"
    )
    for sign, changes in (("+", result.added), ("-", result.removed), ("~", result.changed)):
        for change in changes:
            click.echo(f"{sign} {change.id}  v{change.version}: {change.reason}")


@dataset.command("verify")
@click.argument("name")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="Processes hashing and validating the batches, from 50,000 records on (below, one).  [default: the number "
    "of cores]",
)
@output_dir_option
def dataset_verify(name: str, workers: int | None, output_dir: str) -> None:
    """Recompute every version's digests against its manifest and validate every record; exit 1 on any problem."""
    from simulation.summary import count_bar
    from simulation.workers import cores
    from store.dataset import Dataset
    from store.history import verify

    data = Dataset(output_dir, name)
    if not data.versions():
        raise InputError(f"dataset '{name}' has no versions in {data.storage.url()}")
    with count_bar("records verified") as progress:
        checked, problems = verify(data, workers=workers or cores(), on_progress=progress)
    if problems:
        raise RunFailed("\n".join([*problems, f"{name}: {len(problems)} problem(s) in {checked} versions"]))
    click.echo(f"{name}: {checked} versions verified (batch digests, sha256 chain, records, unique ids)")


@dataset.command("audit")
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="Print the audit as JSON.")
@output_dir_option
def dataset_audit(ref: str, as_json: bool, output_dir: str) -> None:
    """Is REF (NAME or NAME@vN) worth evaluating on? Per request type, the verdicts and how often always answering
    the most common one is right (the shortcut score); distinct and repeated cases; hardness tags; configured vs
    actual category mix; requests that are example questions filled in verbatim; request types whose expected
    tools differ from case to case."""
    from simulation.audit import audit
    from simulation.console import print_audit
    from store.dataset import Dataset, parse_ref

    name, version = parse_ref(ref)
    result = audit(Dataset(output_dir, name), version)
    if as_json:
        click.echo(result.model_dump_json(indent=2))
    else:
        print_audit(result)


@dataset.command("repair")
@click.argument("name")
@output_dir_option
@click.option("--yes", is_flag=True, help="Do the repair; without it, print what it would do and change nothing.")
def dataset_repair(name: str, output_dir: str, yes: bool) -> None:
    """Bring a damaged dataset back to its last good version: the versions from the first damaged one on
    are set aside (their manifests move to NAME/damaged/<time>/, nothing is deleted) and stale index files
    are rebuilt. Prints the plan; exits 1 without --yes when there is damage to repair."""
    from store.dataset import Dataset
    from store.history import check, plan_repair, repair

    data = Dataset(output_dir, name)
    if not data.versions():
        raise InputError(f"dataset '{name}' has no versions in {data.storage.url()}")
    plan = plan_repair(data)
    if not plan.needed:
        click.echo(f"{name}: {len(plan.found.versions)} versions verified, nothing to repair")
        return
    for problem in plan.found.problems:
        click.echo(problem)
    if plan.set_aside:
        versions = ", ".join(f"{name}@v{v}" for v in plan.set_aside)
        click.echo(f"set aside {versions} into {data.storage.url(plan.folder)}/ (kept, with problems.txt)")
        if plan.keep is None:
            outcome = f"{name} has no good version (v1 is damaged): the next generate starts it again at v1"
        else:
            outcome = f"{name}@v{plan.keep.version} ({plan.keep.records} records) becomes the latest version"
        if plan.newest:
            left = plan.newest.records - (plan.keep.records if plan.keep else 0)
            outcome += f"; {name}@v{plan.newest.version} had {plan.newest.records} records"
            outcome += f" ({left} fewer after the repair)" if left > 0 else ""
        click.echo(outcome)
    for batch in plan.found.stale_indexes:
        click.echo(f"rebuild the index of batch {batch.file} from the batch")
    where = "" if data.storage.url() == "output" else f" --output-dir {data.storage.url()}"
    if not yes:
        raise RunFailed(f"nothing changed; to do it: python main.py dataset repair {name}{where} --yes")
    repair(data, plan)
    after = check(Dataset(output_dir, name))
    if after.problems:
        raise RunFailed("\n".join(["repaired, but problems remain (was it written meanwhile?)", *after.problems]))
    click.echo(f"repaired: {name} now has {len(after.versions)} versions, all verified")


@dataset.command("queue")
@click.argument("name")
@output_dir_option
@click.option("--run", help="Only the items of this run.")
@click.option("--show", type=click.IntRange(min=1), metavar="N", help="Print item N of the list in full.")
def dataset_queue(name: str, output_dir: str, run: str | None, show: int | None) -> None:
    """List the review queue of dataset NAME: the episodes and re-validated examples that produced no golden
    example, with their reasons. --show N prints one in full: the request, each attempt's answer and tool
    calls, each critique's failed criteria with the critic's rationale, and the error."""
    from simulation.console import item_lines, queue_command, queue_lines
    from store.dataset import Dataset
    from store.review import queue_items

    data = Dataset(output_dir, name)
    if data.info() is None:
        raise InputError(f"no dataset '{name}' in {data.storage.url()}")
    items = queue_items(data, run)
    if not items:
        click.echo(f"{name}: the review queue is empty" + (f" for run {run}" if run else ""))
        return
    if show is not None:
        if show > len(items):
            raise InputError(f"--show: there are {len(items)} items; give a number from 1 to {len(items)}")
        click.echo("\n".join(item_lines(items[show - 1], show, len(items))))
        return
    runs = len({item.run_id for item in items})
    click.echo(f"{name}: {len(items)} items in the review queue, from {runs} run{'s' if runs != 1 else ''}")
    click.echo("\n".join(queue_lines(items)))
    click.echo(f"print one in full: {queue_command(name, output_dir)}" + (f" --run {run}" if run else "") + " --show N")


@cli.group()
def rubric() -> None:
    """Check and inspect SME rubrics."""


@rubric.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def rubric_check(files: tuple[Path, ...]) -> None:
    """Validate rubric FILES: exit 0 with a summary each, or exit 2 with `file:line: field: problem` lines.

    Also warns when judged criteria that are not required can fail together while an attempt still passes
    (the threshold leaves that much slack)."""
    from rubrics.check import check_files, describe, slack_warnings
    from rubrics.suite import suites_beside

    surprises = 0
    for path, checked in check_files(list(files)):
        click.echo(f"{path}: ok, {describe(checked)}")
        for warning in slack_warnings(path, checked):
            click.echo(warning)
        suites = suites_beside(path)
        if suites:
            surprises += _rubric_test(path, suites, None, world_seed=1, settings=None, table=False)
    if surprises:
        sys.exit(1)


def _rubric_test(rubric_file: Path, suites: list[Path], expect, world_seed: int, settings, table: bool) -> int:
    """Judge the suites' answers against the rubric, print what happened; the number of surprises."""
    from rubrics.suite import RubricTester, read_suite
    from simulation.console import print_rubric_test

    known = [k for suite in suites for k in read_suite(suite, expect)]
    tester = RubricTester(rubric_file, world_seed, settings)
    verdicts = tester.run(known)
    print_rubric_test(rubric_file, verdicts, table=table)
    return sum(v.surprise is not None for v in verdicts)


@rubric.command("test")
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--answers",
    type=click.Path(path_type=Path, dir_okay=False),
    multiple=True,
    help="A suite of known answers (JSON Lines; repeatable)  [default: tests/<rubric>.good.jsonl and "
    "tests/<rubric>.bad.jsonl beside the rubric]",
)
@click.option(
    "--expect",
    type=click.Choice(["pass", "fail"]),
    help="What the rubric must say of the --answers  [default: from the file name: *.good.jsonl pass, *.bad.jsonl "
    "fail]",
)
@click.option("--dataset", help="Judge in this dataset's world (its world seed)  [default: world seed 1]")
@output_dir_option
@model_options
def rubric_test(file: Path, answers: tuple[Path, ...], expect: str | None, dataset: str | None, **options) -> None:
    """Judge known-good and known-bad answers against rubric FILE and print a table (answer, expected, got,
    failed criteria). Exits 1 when any answer surprises: a good one fails, a bad one passes, or a bad one passes
    a criterion it is listed to fail.

    A suite line is a whole record, or a case key with the answer, the finding and the criteria it must fail;
    its tool calls are made again against the world, so checks read real tool output. Offline the critic is the
    simulated judge; give --critic-model to test with a real one."""
    from rubrics.check import load_checked
    from rubrics.suite import suites_beside

    output_dir = options.pop("output_dir")
    settings = _model_settings(options)
    suites = list(answers) or suites_beside(file)
    if not suites:
        raise InputError(
            f"{file}: no suites beside it ({file.parent / 'tests'}/{file.stem}.good.jsonl or "
            ".bad.jsonl); give --answers FILE"
        )
    world_seed = 1
    if dataset is not None:
        from store.dataset import Dataset

        info = Dataset(output_dir, dataset).info()
        if info is None:
            raise InputError(f"no dataset '{dataset}' in {output_dir}")
        rubric_domain = load_checked(file).applies_to.domain
        if info.domain != rubric_domain:
            raise InputError(f"{file}: the rubric is for {rubric_domain}, dataset '{dataset}' is {info.domain}")
        world_seed = info.world_seed
    if _rubric_test(file, suites, expect, world_seed, settings, table=True):
        sys.exit(1)


@rubric.command("show")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--prompt", is_flag=True, help="Print the critic's system prompt built from the rubric.")
def rubric_show(file: Path, prompt: bool) -> None:
    """Show a rubric's criteria, or with --prompt the judge prompt the critic model receives."""
    from rubrics.check import describe, load_checked
    from rubrics.judge import judge_instructions

    checked = load_checked(file)
    if prompt:
        click.echo(judge_instructions(checked).system_prompt)
        return
    click.echo(describe(checked))
    for c in checked.criteria:
        flags = ", ".join(
            f for f in ("required" if c.required else "", f"only {c.applies_to}" if c.applies_to else "") if f
        )
        click.echo(
            f"- {c.id} [{c.method}, weight {c.weight:g}{', ' + flags if flags else ''}]: "
            f"{' '.join(c.description.split())}"
        )


@cli.group()
def domain() -> None:
    """Domain packs: list, check and scaffold them; dump a world."""


@domain.command("list")
def domain_list() -> None:
    """Every installed domain pack: name, version, categories, where it comes from and its rubric. Exits 2 when a
    pack does not load."""
    from simulation.domains import get_domain, installed

    broken = 0
    for name, source in sorted(installed().items()):
        try:
            pack = get_domain(name, paths=True)
        except InputError as exc:
            broken += 1
            click.echo(f"{name}: does not load ({source.origin}): {' '.join(exc.problems)}")
            continue
        click.echo(
            f"{name} {pack.version}: {len(pack.categories)} categories, {source.origin}, rubric {pack.rubric_path}"
        )
    if broken:
        sys.exit(2)


@domain.command("check")
@click.argument("pack")
def domain_check(pack: str) -> None:
    """Load domain PACK (an installed pack's name, or a pack directory) and check that it keeps the contract:
    exit 0 saying what was checked, or exit 2 with one `file:line: problem` line each."""
    from simulation.domains.check import check_pack

    for line in check_pack(pack):
        click.echo(line)


@domain.command("new")
@click.argument("name")
@click.option(
    "--dir",
    "parent",
    default=".",
    show_default=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Directory to write the pack into (as DIR/NAME).",
)
def domain_new(name: str, parent: Path) -> None:
    """Write a working domain pack NAME to start from: a seeded world, tools, a labeller, a persona card, a
    rubric with its test suites, a simulated task model, pyproject.toml and tests."""
    from simulation.domains.scaffold import new_pack

    written = new_pack(name, parent)
    target = parent / name
    click.echo(f"wrote {len(written)} files to {target} (start with {target / 'README.md'})")
    click.echo(f"try it: python main.py generate --domain {target} --count 10")


@domain.command("dump")
@click.argument("name")
@click.option("--world-seed", default=1, show_default=True, type=int, help="World to generate.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="JSON file to write.")
def domain_dump(name: str, world_seed: int, out: Path) -> None:
    """Write the world of domain NAME as JSON, so evaluation can serve the same tools."""
    from simulation.domains import get_domain
    from store.files import atomic_write

    pack = get_domain(name, paths=True)
    atomic_write(out, pack.dump_world(pack.build_world(world_seed)).encode())
    click.echo(f"wrote {pack.name} world (seed {world_seed}, domain version {pack.version}) to {out}")


@cli.group()
def cases() -> None:
    """Seed cases for `generate --cases`: what real users asked an agent, taken from its traces."""


@cases.command("from-traces")
@click.argument("traces", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--out", required=True, type=click.Path(path_type=Path, dir_okay=False), help="The cases file to write.")
@click.option("--force", is_flag=True, help="Replace --out when it exists.")
def cases_from_traces(traces: Path, out: Path, force: bool) -> None:
    """Extract one seed case per agent invocation from TRACES, the OpenTelemetry spans a strands agent wrote:
    JSON Lines of spans as the Python SDK writes them (ReadableSpan.to_json(), one a line), or OTLP/JSON as a
    collector's file exporter writes it (resourceSpans). A case is the user's request, the conversation before it
    and the tools the agent called (name and input), in start-time order; an invocation with no user text is
    skipped and counted. Writes --out (JSON Lines) only when the whole file parsed."""
    from simulation.traces import extract_cases
    from store.files import atomic_write

    if out.exists() and not force:
        raise InputError(f"{out}: already exists; give --force to replace it")
    result = extract_cases(traces)
    atomic_write(out, result.jsonl().encode())
    click.echo(f"{result.summary()}; wrote {out}")


from review.cli import review as _review_group  # noqa: E402 (after `cli`: the group is registered on it)

cli.add_command(_review_group)


if __name__ == "__main__":
    cli()
