"""`coral-runtime pipelines ...` and `config reload`: the API from a shell, on the client.

Exit codes scripts can rely on: 0 done, 1 the server said no (or could not be reached),
2 a usage or spec-file problem found before anything was sent.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click
import httpx
import yaml
from pydantic import BaseModel

from coral_serve.client import CoralAPIError, CoralClient
from coral_serve.client.stream import Message
from coral_serve.schema.plans import ApplyPlan, ReloadPlan
from coral_serve.schema.views import PipelineView

__all__ = ["pipelines", "print_table", "reload_command"]

F = TypeVar("F", bound=Callable[..., Any])

SERVER_SAID_NO = 1
SPEC_FILE_SUFFIXES = (".yaml", ".yml", ".json")
# Seconds one `apply` may take: it checks and starts every pipeline it creates.
BULK_TIMEOUT = 300.0


class SpecFileError(click.ClickException):
    """A spec file cannot be read or is not a spec: a usage problem (exit 2)."""

    exit_code = 2


class Refused(click.ClickException):
    """The server refused (or could not be reached): exit 1."""

    exit_code = SERVER_SAID_NO


def print_table(rows: Sequence[Sequence[str]]) -> None:
    """Left-aligned columns, two spaces apart; the first row is the header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        click.echo("  ".join(cells).rstrip())


def _answered(command: F) -> F:
    """Turn the server's refusals and unreachable servers into exit 1 with one line."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except CoralAPIError as exc:
            raise Refused(f"{exc.status} {exc.error}: {exc.detail}") from None
        except httpx.HTTPError as exc:
            raise Refused(f"cannot reach the server: {exc}") from None

    return run  # type: ignore[return-value]


def _connection(command: F) -> F:
    command = click.option(
        "--token",
        envvar="CORAL_TOKEN",
        show_envvar=True,
        help="Bearer token (when http.auth.mode is token).",
    )(command)
    return click.option(
        "--url",
        envvar="CORAL_URL",
        show_envvar=True,
        help="Base URL of the API [default: http://127.0.0.1:9001].",
    )(command)


def _output(command: F) -> F:
    return click.option(
        "-o",
        "--output",
        type=click.Choice(["table", "json", "yaml"]),
        default="table",
        show_default=True,
        help="Output format.",
    )(command)


def _dump(data: Any, output: str) -> None:
    if output == "json":
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo(yaml.safe_dump(data, sort_keys=False), nl=False)


def _plain(data: BaseModel | list[BaseModel]) -> Any:
    if isinstance(data, list):
        return [item.model_dump(mode="json") for item in data]
    return data.model_dump(mode="json")


def _find(client: CoralClient, ref: str) -> PipelineView:
    """A pipeline by id or by name."""
    for view in client.pipelines():
        if ref in (view.id, view.name):
            return view
    raise Refused(f"404 not_found: no pipeline named or with id {ref!r}")


def _rows(views: Sequence[PipelineView]) -> list[tuple[str, ...]]:
    rows = [("NAME", "STATE", "FPS", "SOURCE", "NODE")]
    for view in views:
        extra = view.status.model_extra or {}
        source = str(view.spec.get("source", {}).get("uri", ""))
        node = str(extra.get("node") or "-")
        fps = f"{view.status.fps:.1f}"
        rows.append((view.name, view.status.state.value, fps, source, node))
    return rows


# -- spec files ---------------------------------------------------------------------------


def _spec_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix in SPEC_FILE_SUFFIXES and p.is_file())
    return [path]


def _documents(path: Path) -> Iterator[Any]:
    try:
        yield from yaml.safe_load_all(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecFileError(f"{path}: cannot be read ({exc})") from None
    except yaml.YAMLError as exc:
        raise SpecFileError(f"{path}: not YAML or JSON ({exc})".replace("\n", " ")) from None


def load_specs(path: Path) -> list[dict[str, Any]]:
    """Every spec in FILE_OR_DIR: a document is one spec, a list of them, or
    `{pipelines: [...]}`; validated by the server (templates are resolved there)."""
    specs: list[dict[str, Any]] = []
    for file in _spec_files(path):
        for document in _documents(file):
            if document is None:
                continue
            if isinstance(document, dict) and isinstance(document.get("pipelines"), list):
                document = document["pipelines"]
            for spec in document if isinstance(document, list) else [document]:
                if not isinstance(spec, dict) or "name" not in spec:
                    raise SpecFileError(f"{file}: every spec must be a mapping with a name")
                specs.append(spec)
    if not specs:
        raise SpecFileError(f"{path}: no pipeline specs found")
    return specs


def _echo_plan(plan: ApplyPlan) -> None:
    """The plan as a diff: + created, ~ changed (hot or cold), - removed, = unchanged."""
    for name in plan.added:
        click.echo(f"+ {name}")
    for change in plan.changed:
        click.echo(f"~ {change.name} ({change.applied}: {', '.join(change.changed)})")
    for name in plan.removed:
        click.echo(f"- {name}")
    for name in plan.unchanged:
        click.echo(f"= {name}")
    for reason in plan.skipped:
        click.echo(f"! skipped {reason}", err=True)
    if isinstance(plan, ReloadPlan) and plan.needs_redeploy:
        keys = ", ".join(plan.needs_redeploy)
        click.echo(f"needs a redeploy (not applied): {keys}", err=True)
    summary = f"{len(plan.added)} created, {len(plan.changed)} changed, {len(plan.removed)} removed"
    click.echo(f"{summary} (dry run: nothing changed)" if plan.dry_run else summary)


def _finish_plan(plan: ApplyPlan, output: str) -> None:
    if output == "table":
        _echo_plan(plan)
    else:
        _dump(_plain(plan), output)
    if plan.skipped:
        raise SystemExit(SERVER_SAID_NO)


# -- commands -----------------------------------------------------------------------------


@click.group()
def pipelines() -> None:
    """List, apply and control pipelines through the API (CORAL_URL, CORAL_TOKEN)."""


@pipelines.command("list")
@_connection
@_output
@_answered
def list_command(url: str | None, token: str | None, output: str) -> None:
    """Every pipeline: name, state, fps, source (credentials masked) and node."""
    with CoralClient(url, token) as client:
        views = client.pipelines()
    if output == "table":
        print_table(_rows(views))
    else:
        _dump(_plain(views), output)


@pipelines.command("get")
@click.argument("ref")
@_connection
@_output
@_answered
def get_command(ref: str, url: str | None, token: str | None, output: str) -> None:
    """One pipeline by name or id (json/yaml: the whole view, spec and status)."""
    with CoralClient(url, token) as client:
        view = client.pipeline(_find(client, ref).id)
    if output == "table":
        print_table(_rows([view]))
    else:
        _dump(_plain(view), output)


_SPEC_PATH = click.Path(exists=True, path_type=Path)


@pipelines.command("create")
@click.option("-f", "--file", "path", required=True, type=_SPEC_PATH, help="Spec file or dir.")
@_connection
@_answered
def create_command(path: Path, url: str | None, token: str | None) -> None:
    """Create the pipelines of FILE; one that exists already is an error (see apply)."""
    specs = load_specs(path)
    with CoralClient(url, token, timeout=BULK_TIMEOUT) as client:
        taken = {view.name for view in client.pipelines()} & {spec["name"] for spec in specs}
        if taken:
            raise Refused(f"409 conflict: already exist: {', '.join(sorted(taken))}")
        plan = client.apply(specs)  # templates are resolved by the server
    for name in plan.added:
        click.echo(f"created {name}")


@pipelines.command("apply")
@click.option("-f", "--file", "path", required=True, type=_SPEC_PATH, help="Spec file or dir.")
@click.option("--dry-run", is_flag=True, help="Print what would change; change nothing.")
@click.option("--prune", is_flag=True, help="Delete API-created pipelines not in the files.")
@_connection
@_output
@_answered
def apply_command(
    path: Path, dry_run: bool, prune: bool, url: str | None, token: str | None, output: str
) -> None:
    """Create or update the pipelines of FILE_OR_DIR by name; unchanged ones are left
    alone, so applying twice changes nothing the second time."""
    specs = load_specs(path)
    with CoralClient(url, token, timeout=BULK_TIMEOUT) as client:
        plan = client.apply(specs, prune=prune, dry_run=dry_run)
    _finish_plan(plan, output)


def _control(action: str, done: str) -> click.Command:
    @click.argument("ref")
    @_connection
    @_answered
    def command(ref: str, url: str | None, token: str | None) -> None:
        with CoralClient(url, token) as client:
            view = _find(client, ref)
            getattr(client, action)(view.id)
        click.echo(f"{done} {view.name}")

    command.__doc__ = f"{action.capitalize()} a pipeline by name or id."
    return pipelines.command(action)(command)


for _action, _done in (
    ("pause", "paused"),
    ("resume", "resumed"),
    ("restart", "restarted"),
    ("delete", "deleted"),
):
    _control(_action, _done)


@pipelines.command("results")
@click.argument("ref")
@click.option("--follow", is_flag=True, help="Keep printing records as they come.")
@click.option("--after", default=0, show_default=True, help="Only records with a higher seq.")
@_connection
@_answered
def results_command(ref: str, follow: bool, after: int, url: str | None, token: str | None) -> None:
    """Result records, one JSON object per line (nothing is consumed)."""
    with CoralClient(url, token) as client:
        pipeline_id = _find(client, ref).id
        if not follow:
            for record in client.results(pipeline_id, after, max_items=10_000):
                click.echo(json.dumps(record))
            return
        for message in client.stream(pipeline_id, after, events=False):
            _echo_message(message)


def _echo_message(message: Message) -> None:
    """A streamed record or event as a JSON line; the stream's end (the pipeline deleted)
    as a refusal."""
    if message.event == "end":
        raise Refused(f"the stream ended: {message.data.get('detail', '')}")
    click.echo(json.dumps(message.data))


@pipelines.command("events")
@click.argument("ref")
@click.option("--follow", is_flag=True, help="Keep printing object events as they change.")
@_connection
@_output
@_answered
def events_command(ref: str, follow: bool, url: str | None, token: str | None, output: str) -> None:
    """Object events of a pipeline (what tracked objects did), newest first; with --follow,
    each new or changed event as a JSON line."""
    with CoralClient(url, token) as client:
        pipeline_id = _find(client, ref).id
        if follow:
            for message in client.stream(pipeline_id):
                if message.event != "result":
                    _echo_message(message)
            return
        events = client.object_events(pipeline_id, limit=500).events
    if output != "table":
        _dump(_plain(list(events)), output)
        return
    rows = [("ID", "LABEL", "PHASE", "START", "ZONES")]
    for event in events:
        rows.append(
            (event.id, event.label, event.phase.value, f"{event.start:.3f}", ",".join(event.zones))
        )
    print_table(rows)


@pipelines.command("logs")
@click.argument("ref")
@click.option("--follow", is_flag=True, help="Keep printing events as they are logged.")
@_connection
@_output
@_answered
def logs_command(ref: str, follow: bool, url: str | None, token: str | None, output: str) -> None:
    """The lifecycle log of a pipeline: created, started, updated, failed, restarted, ..."""
    with CoralClient(url, token) as client:
        pipeline_id = _find(client, ref).id
        events = client.follow_events(pipeline_id) if follow else iter(client.events(pipeline_id))
        for event in events:
            if output == "table":
                click.echo(f"{event.seq}\t{event.ts:.3f}\t{event.kind}\t{event.detail}".rstrip())
            else:
                click.echo(json.dumps(event.model_dump(mode="json")))


@click.command("reload")
@_connection
@_output
@_answered
def reload_command(url: str | None, token: str | None, output: str) -> None:
    """Make the running server read its descriptor again (declared pipelines, templates)."""
    with CoralClient(url, token) as client:
        plan = client.reload()
    _finish_plan(plan, output)
