"""`review serve` and `review publish`: the SME workspace and turning its decisions into a version. Only click is
imported here; the web stack and the store load when a command runs."""

from __future__ import annotations

import click

# main.py's --output-dir (not imported from main: main registers this group, so it would import itself again)
output_dir_option = click.option(
    "--output-dir",
    default="output",
    show_default=True,
    help="Where datasets live: a directory, or s3://bucket/prefix (needs AWS credentials).",
)
reviewer_option = click.option(
    "--reviewer", required=True, help="Your name, recorded on every decision (letters, digits, space . _ @ -)."
)


@click.group()
def review() -> None:
    """The SME workspace: review goldens in a browser (`serve`), then publish the decisions as the next version
    (`publish`). Decisions never edit a version in place."""


@review.command("serve")
@output_dir_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (keep it local).")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@reviewer_option
def serve(output_dir: str, host: str, port: int, reviewer: str) -> None:
    """Serve the workspace over the datasets in --output-dir until Ctrl-C: browse versions and examples, approve,
    reject, correct, mark judged criteria, promote review-queue items, publish."""
    import uvicorn

    from review.app import create_app

    if host in ("127.0.0.1", "localhost"):
        hosts = ["127.0.0.1", "localhost"]
    elif host in ("0.0.0.0", "::"):  # every interface: the Host header cannot be known in advance
        hosts = ["*"]
        click.echo(f"warning: listening on every interface; anyone who reaches port {port} decides as {reviewer}")
    else:
        hosts = [host]
    app = create_app(output_dir, reviewer, hosts=hosts)
    click.echo(f"review workspace for {reviewer} on http://{host}:{port}/ (datasets in {output_dir}); Ctrl-C stops")
    uvicorn.run(app, host=host, port=port, log_level="warning")


@review.command("publish")
@click.argument("name")
@output_dir_option
@reviewer_option
def publish_command(name: str, output_dir: str, reviewer: str) -> None:
    """Publish the pending decisions on dataset NAME as its next version: rejected examples leave, corrected ones are
    replaced, promoted queue items come in, approved ones stay with their review recorded. Corrections are checked
    against the dataset's world first; one it contradicts stops the publish (exit 2, nothing written)."""
    from review.publish import publish
    from store.dataset import Dataset

    result = publish(Dataset(output_dir, name), reviewer)
    click.echo(result.message)
    for line in result.stale:
        click.echo(f"  not applied: {line}")
