"""`pipelines`: where desired state lives and what sources pipelines may read."""

from __future__ import annotations

import re
from enum import Enum
from typing import Any

from pydantic import (
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    field_validator,
    model_validator,
)

from coral_serve.schema.base import CoralBaseModel
from coral_serve.schema.changes import merge_patch
from coral_serve.schema.redact import masked_uri
from coral_serve.schema.spec import NAME_PATTERN, PipelineSpec, RestartPolicy
from coral_serve.schema.uri import SOURCE_SCHEMES

__all__ = [
    "DownloadConfig",
    "EventRetention",
    "Isolation",
    "ModelPolicy",
    "OutboundPolicy",
    "PipelinesConfig",
    "RestartPolicy",
    "SourcePolicy",
    "resolve_template",
]


def resolve_template(
    item: dict[str, Any], templates: dict[str, dict[str, Any]], where: str
) -> tuple[dict[str, Any], str | None]:
    """A spec with `template: NAME` as that template deep-merged with the spec's own fields
    (JSON merge patch: objects merge, lists and values replace, null removes), and the
    template's name; a spec without one as it is. `where` names the spec in errors."""
    name = item.get("template")
    if name is None:
        return item, None
    if not isinstance(name, str) or name not in templates:
        known = ", ".join(sorted(templates)) or "none"
        raise ValueError(
            f"{where}.template: no template {name!r} in pipelines.templates (known: {known})"
        )
    own = {key: value for key, value in item.items() if key != "template"}
    return merge_patch(templates[name], own), name


class Isolation(str, Enum):
    """How pipelines share a node's processes (docs/operations.md, "Isolation")."""

    process = "process"  # one Ray actor process per pipeline, with its own model
    shared = "shared"  # one host process per node and resource shape, models shared


class DownloadConfig(CoralBaseModel):
    concurrency: int = Field(
        default=2, ge=1, le=32, description="Source downloads at once on one node."
    )
    retries: int = Field(default=3, ge=0, le=20, description="Attempts after the first failure.")
    timeout: float = Field(default=300.0, gt=0, description="Seconds allowed per download.")

    @model_validator(mode="before")
    @classmethod
    def _renamed_keys(cls, data: Any) -> Any:
        if isinstance(data, dict) and "allow_private_networks" in data:
            raise ValueError(
                "allow_private_networks was replaced by pipelines.outbound, which applies to "
                "every source, probe and download: remove it and set "
                "pipelines.outbound.allow_link_local or pipelines.outbound.block_metadata instead"
            )
        return data


class OutboundPolicy(CoralBaseModel):
    """Where the server may connect because a request named the address: sources, probes
    and downloads alike. Multicast and unspecified addresses are always refused."""

    allow_private: bool = Field(
        default=True,
        description="Allow private networks (10/8, 172.16/12, 192.168/16, fc00::/7, "
        "100.64/10): where cameras live.",
    )
    allow_loopback: bool = Field(
        default=False,
        description="Allow this machine's own addresses (127/8, ::1), e.g. an RTSP relay on "
        "the box; they also reach the control plane's own ports.",
    )
    allow_link_local: bool = Field(
        default=False,
        description="Allow link-local addresses (169.254/16, fe80::/10), e.g. cameras on "
        "auto-IP; metadata addresses stay refused while block_metadata is true.",
    )
    block_metadata: bool = Field(
        default=True,
        description="Refuse cloud metadata services (169.254.169.254, fd00:ec2::254, "
        "metadata.google.internal, ...) whatever the other settings allow.",
    )


class EventRetention(CoralBaseModel):
    max_age_days: float = Field(
        default=30.0, gt=0, le=3650, description="Lifecycle events older than this are removed."
    )
    max_per_pipeline: int = Field(
        default=1000, ge=1, le=1_000_000, description="Newest lifecycle events kept per pipeline."
    )


class SourcePolicy(CoralBaseModel):
    schemes: list[str] = Field(
        default_factory=lambda: list(SOURCE_SCHEMES),
        description="URI schemes a pipeline source or probe may use.",
    )
    file_roots: list[str] = Field(
        default_factory=list,
        description="Directories local file sources must lie under; empty allows no local "
        "files at all (the data dir is always allowed).",
    )


class ModelPolicy(CoralBaseModel):
    roots: list[str] = Field(
        default_factory=list,
        description="Directories model files and class-name files must lie under, symlinks "
        "resolved; `<data_dir>/models` is always allowed (the data dir itself is not: it holds "
        "the store and the URL-signing key). Relative model paths are read from the server's "
        "working directory.",
    )
    max_file_bytes: int = Field(
        default=2 << 30,
        ge=1,
        description="Largest model file loaded (bytes); a larger one, or one that is not a "
        "regular file, is refused before the runtime reads it.",
    )


class PipelinesConfig(CoralBaseModel):
    store_path: str | None = Field(
        default=None,
        description="SQLite file holding pipeline definitions and events; null: "
        "`<data_dir>/coral.db`.",
    )
    data_dir: str = Field(
        default="./data", min_length=1, description="Directory for the store and downloads."
    )
    auto_restore: bool = Field(
        default=True, description="Start stored pipelines again when the service starts."
    )
    reconcile_interval: float = Field(
        default=5.0, gt=0, le=3600, description="Seconds between reconcile passes."
    )
    isolation: Isolation = Field(
        default=Isolation.shared,
        description="`shared`: one host process per node and resource shape runs the "
        "pipelines as threads and keeps one session per model file, backend, providers, "
        "threads and batching (about a seventh of the memory per added camera); a crash of "
        "the host restarts all of its pipelines, and its shape is reserved once for all of "
        "them. `process`: each pipeline is its own Ray actor process with its own model "
        "session and its own resource reservation (the `deploy=cluster` default). "
        "docs/operations.md, Isolation.",
    )
    host_malloc_arenas: int = Field(
        default=2,
        ge=0,
        le=64,
        description="glibc malloc arenas of each `shared` host process (MALLOC_ARENA_MAX in "
        "its environment); 0: glibc's default of 8 per core. Its many engine threads would "
        "each get an arena that keeps freed frames' memory. Per-process workers keep "
        "glibc's default: there it saved nothing measurable (docs/operations.md, Isolation).",
    )
    default_restart_policy: RestartPolicy = Field(
        default=RestartPolicy.on_failure,
        description="Restart policy for pipelines that do not set one.",
    )
    downloads: DownloadConfig = Field(
        default_factory=DownloadConfig, description="Fetching http(s) file sources."
    )
    outbound: OutboundPolicy = Field(
        default_factory=OutboundPolicy,
        description="Which network addresses sources, probes and downloads may reach.",
    )
    sources: SourcePolicy = Field(
        default_factory=SourcePolicy, description="Which sources pipelines may open."
    )
    models: ModelPolicy = Field(
        default_factory=ModelPolicy, description="Which model files pipelines may load."
    )
    events: EventRetention = Field(
        default_factory=EventRetention,
        description="How long lifecycle events are kept (those of deleted pipelines go with them).",
    )
    templates: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Partial pipeline specs by name: a declared or applied spec with "
        "`template: NAME` is the template deep-merged with its own fields, validated as a "
        "whole (the model block 30 cameras share, say).",
    )
    declared: list[PipelineSpec] = Field(
        default_factory=list,
        description="Pipelines declared here are reconciled like API-created ones, keep ids "
        "derived from their names, and can only be removed from the configuration; each "
        "may name a `template`.",
    )
    _declared_templates: dict[str, str] = PrivateAttr(default_factory=dict)
    # The layers this descriptor was composed from (a `ConfigSources`): what a reload reads.
    _sources: Any = PrivateAttr(default=None)

    def keep_sources(self, sources: object) -> None:
        self._sources = sources

    @property
    def sources_read(self) -> Any:
        """The `ConfigSources` a reload composes again; None for a descriptor built in code."""
        return self._sources

    def public_templates(self) -> dict[str, dict[str, Any]]:
        """The templates with the credentials of any source URI in them masked."""
        shown = {}
        for name, template in self.templates.items():
            source = template.get("source")
            if isinstance(source, dict) and isinstance(source.get("uri"), str):
                template = {**template, "source": {**source, "uri": masked_uri(source["uri"])}}
            shown[name] = template
        return shown

    def template_of(self, name: str) -> str | None:
        """The template a declared pipeline was resolved from."""
        return self._declared_templates.get(name)

    def keep_templates_of(self, other: PipelinesConfig) -> None:
        """Take `other`'s record of which template each declared pipeline came from."""
        self._declared_templates = dict(other._declared_templates)

    @model_validator(mode="wrap")
    @classmethod
    def _resolve_declared(
        cls, data: Any, handler: ModelWrapValidatorHandler[PipelinesConfig]
    ) -> PipelinesConfig:
        """Declared specs naming a template become the merged spec before validation; the
        template each came from is kept beside them."""
        used: dict[str, str] = {}
        if isinstance(data, dict) and isinstance(data.get("declared"), list):
            templates = data.get("templates") or {}
            resolved = []
            for index, item in enumerate(data["declared"]):
                if isinstance(item, dict) and isinstance(templates, dict):
                    item, template = resolve_template(item, templates, f"declared[{index}]")
                    if template is not None:
                        used[str(item.get("name"))] = template
                resolved.append(item)
            data = {**data, "declared": resolved}
        config = handler(data)
        config._declared_templates = used
        return config

    @field_validator("templates")
    @classmethod
    def _template_keys(cls, templates: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        fields = set(PipelineSpec.model_fields) - {"name"}
        for name, template in templates.items():
            if not re.match(NAME_PATTERN, name):
                raise ValueError(f"template name {name!r} must match {NAME_PATTERN}")
            unknown = sorted(set(template) - fields)
            if unknown:
                raise ValueError(
                    f"template {name!r}: {', '.join(unknown)} cannot be set in a template "
                    f"(it may set {', '.join(sorted(fields))})"
                )
        return templates

    @field_validator("declared")
    @classmethod
    def _unique_names(cls, declared: list[PipelineSpec]) -> list[PipelineSpec]:
        names = [spec.name for spec in declared]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"declared pipeline names must be unique: {', '.join(duplicates)}")
        return declared
