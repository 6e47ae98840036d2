"""`coral-runtime`: validate, show and reload the descriptor, serve the app, operate pipelines,
list plugins, deploy."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import yaml

from coral_serve.cli_pipelines import pipelines, print_table, reload_command
from coral_serve.version import __version__

if TYPE_CHECKING:
    from coral_serve.config import CoralConfig

__all__ = ["exit_on_config_error", "main"]

CONFIG_ERROR_EXIT = 2


@contextlib.contextmanager
def exit_on_config_error() -> Iterator[None]:
    """Print each configuration problem on its own line and exit 2, without a traceback."""
    # Imported here: the descriptor's schema and Hydra cost a second that `pipelines`
    # commands, which only talk to the API, do not pay.
    from coral_serve.config import ConfigError

    try:
        yield
    except ConfigError as exc:
        click.echo("configuration error:", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(CONFIG_ERROR_EXIT)


def config_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The layering options every command that reads the descriptor accepts."""
    command = click.option("--no-env", is_flag=True, help="Ignore CORAL_* environment variables.")(
        command
    )
    command = click.option(
        "--set",
        "sets",
        multiple=True,
        metavar="KEY=VALUE",
        help="Override one key (YAML scalar); repeatable; `streams.webrtc=turn` picks a group.",
    )(command)
    return click.option(
        "-c",
        "--config",
        "config_file",
        type=click.Path(path_type=Path),
        help="Descriptor file (YAML or JSON) layered over the defaults.",
    )(command)


def _load(config_file: Path | None, sets: tuple[str, ...], no_env: bool) -> CoralConfig:
    from coral_serve.config import ConfigSources, load_config

    with exit_on_config_error():
        return load_config(ConfigSources(file=config_file, sets=sets, use_env=not no_env))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="coral-runtime")
def main() -> None:
    """coral_serve control plane for edge video-inference pipelines."""


@main.group()
def config() -> None:
    """Check, show and start runtime descriptors."""


@config.command()
@config_options
def validate(config_file: Path | None, sets: tuple[str, ...], no_env: bool) -> None:
    """Exit 0 when the composed descriptor is valid, 2 with one line per problem otherwise."""
    _load(config_file, sets, no_env)
    click.echo("configuration is valid")


@config.command()
@config_options
@click.option("--json", "as_json", is_flag=True, help="JSON instead of YAML.")
def show(config_file: Path | None, sets: tuple[str, ...], no_env: bool, as_json: bool) -> None:
    """Print the effective descriptor with secrets masked."""
    data = _load(config_file, sets, no_env).public_dump()
    if as_json:
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo(yaml.safe_dump(data, sort_keys=False), nl=False)


@config.command()
@click.argument("path", type=click.Path(path_type=Path), default=Path("runtime.yaml"))
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(path: Path, force: bool) -> None:
    """Write a commented starter descriptor to PATH (default runtime.yaml)."""
    if path.exists() and not force:
        raise click.ClickException(f"{path} exists; pass --force to overwrite it")
    path.write_text((files("coral_serve.config") / "starter.yaml").read_text(encoding="utf-8"))
    click.echo(f"wrote {path}")


@config.command()
def reference() -> None:
    """Print the configuration reference (Markdown) generated from the schema."""
    from coral_serve.config.reference import render_reference

    click.echo(render_reference(), nl=False)


config.add_command(reload_command)
main.add_command(pipelines)


@main.group()
def web() -> None:
    """Run the web control plane."""


@web.command()
@config_options
def serve(config_file: Path | None, sets: tuple[str, ...], no_env: bool) -> None:
    """Start Ray (or join runtime.address) and serve the app until SIGINT/SIGTERM."""
    from coral_serve.serving.lifecycle import run_forever

    config = _load(config_file, sets, no_env)
    with exit_on_config_error():
        config.check_startable()
        run_forever(config)  # a taken http.port is a problem of the descriptor too


@main.group()
def plugins() -> None:
    """Inspect entry-point plugins."""


@plugins.command("list")
@config_options
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a table.")
def list_plugins(
    config_file: Path | None, sets: tuple[str, ...], no_env: bool, as_json: bool
) -> None:
    """Every discovered plugin: group, version, distribution, and why it did not load."""
    from coral_serve.plugins.discovery import discover_plugins

    found = [plugin.info for plugin in discover_plugins(_load(config_file, sets, no_env).plugins)]
    if as_json:
        click.echo(json.dumps([plugin.as_dict() for plugin in found], indent=2))
        return
    if not found:
        click.echo("no plugins found")
        return
    rows = [("NAME", "GROUP", "VERSION", "DISTRIBUTION", "LOADED", "REASON")]
    rows += [
        (p.name, p.group, p.version, p.distribution, "yes" if p.loaded else "no", p.reason)
        for p in found
    ]
    print_table(rows)


@main.group()
def deploy() -> None:
    """Generate deployment manifests."""


@deploy.command("serve-config")
@config_options
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write to a file.")
def serve_config(
    config_file: Path | None, sets: tuple[str, ...], no_env: bool, output: Path | None
) -> None:
    """A Serve config for `serve deploy` that binds the same graph as the builder."""
    from coral_serve.deploy.serve_config import render_serve_config

    config = _load(config_file, sets, no_env)
    text = yaml.safe_dump(
        render_serve_config(config, config_file=config_file, sets=sets, no_env=no_env),
        sort_keys=False,
    )
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text)
        click.echo(f"wrote {output}")


@deploy.command("kuberay")
@click.option(
    "-c",
    "--config",
    "config_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Descriptor file; it travels to the cluster in a ConfigMap.",
)
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override one key.")
@click.option("--name", default="coral", show_default=True, help="RayService name (prefix).")
@click.option(
    "--image",
    default=f"coral-serve:{__version__}",
    show_default=True,
    help="Image of the head and CPU workers (docker/Dockerfile).",
)
@click.option("--npu-image", help="Image of the NPU workers [default: IMAGE-rknn].")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write to a file.")
def kuberay(
    config_file: Path,
    sets: tuple[str, ...],
    name: str,
    image: str,
    npu_image: str | None,
    output: Path | None,
) -> None:
    """A KubeRay RayService (plus ConfigMap and PVC) serving the same graph on a cluster.

    Composes `deploy=cluster` first and never reads CORAL_* variables from this shell: on
    the cluster they come from the Secret NAME-secrets.
    """
    from coral_serve.deploy.kuberay import (
        KubeRayError,
        KubeRayOptions,
        dump_manifests,
        render_kuberay,
    )

    options = KubeRayOptions(name=name, image=image, npu_image=npu_image)
    with exit_on_config_error():
        try:
            documents = render_kuberay(config_file, sets, options)
        except KubeRayError as exc:
            raise click.ClickException(str(exc)) from None
    text = dump_manifests(documents, name)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text)
        click.echo(f"wrote {output}")
