"""`http`: the ingress listener, CORS, authentication and extra static mounts."""

from __future__ import annotations

import hashlib
import re
from enum import Enum

from pydantic import Field, SecretStr, field_validator, model_validator

from coral_serve.config.admission import AdmissionConfig
from coral_serve.schema.base import CoralBaseModel

__all__ = [
    "AuthConfig",
    "AuthMode",
    "HttpConfig",
    "Listener",
    "Role",
    "StaticMount",
    "TokenConfig",
]

_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


class Listener(str, Enum):
    """Who accepts the HTTP connections on `http.host:http.port`."""

    proxy = "proxy"
    ingress = "ingress"


class AuthMode(str, Enum):
    none = "none"
    token = "token"


class Role(str, Enum):
    admin = "admin"
    viewer = "viewer"


class TokenConfig(CoralBaseModel):
    name: str = Field(min_length=1, description="Label of the token, shown in logs instead of it.")
    token: SecretStr | None = Field(
        default=None, description="Bearer token value (a secret; only its hash is kept)."
    )
    token_sha256: SecretStr | None = Field(
        default=None,
        description="SHA-256 (hex) of the token, so the file need not hold the token itself "
        "(masked like a secret: it allows offline guessing of the token).",
    )
    role: Role = Field(default=Role.viewer, description="Role granted: admin or viewer.")

    @model_validator(mode="after")
    def _one_form(self) -> TokenConfig:
        if (self.token is None) == (self.token_sha256 is None):
            raise ValueError("give exactly one of token and token_sha256")
        if self.token is not None and len(self.token.get_secret_value()) < 16:
            raise ValueError("token must be at least 16 characters")
        if self.token_sha256 is not None and not _SHA256_HEX.match(
            self.token_sha256.get_secret_value()
        ):
            raise ValueError("token_sha256 must be 64 lowercase hex digits")
        return self

    @property
    def digest(self) -> str:
        """Hex SHA-256 of the token: the only form compared at request time."""
        if self.token_sha256 is not None:
            return self.token_sha256.get_secret_value()
        assert self.token is not None
        return hashlib.sha256(self.token.get_secret_value().encode()).hexdigest()


class AuthConfig(CoralBaseModel):
    mode: AuthMode = Field(default=AuthMode.none, description="Authentication: none or token.")
    tokens: list[TokenConfig] = Field(
        default_factory=list, description="Accepted bearer tokens and their roles."
    )
    protect_metrics: bool = Field(
        default=False, description="Require a token for /metrics when auth is on."
    )
    signed_url_ttl: float = Field(
        default=300.0,
        gt=0,
        le=86400,
        description="Lifetime in seconds of signed media URLs (video src, MJPEG); a URL "
        "asking for a later expiry is refused.",
    )
    url_signing_secret: SecretStr | None = Field(
        default=None,
        description="Key of signed media URLs (at least 32 characters); null: one generated "
        "on first start and kept next to the pipeline store (`url-signing.key`, mode 0600).",
    )

    @field_validator("url_signing_secret")
    @classmethod
    def _long_enough(cls, secret: SecretStr | None) -> SecretStr | None:
        if secret is not None and len(secret.get_secret_value()) < 32:
            raise ValueError("url_signing_secret must be at least 32 characters")
        return secret


class StaticMount(CoralBaseModel):
    path: str = Field(pattern=r"^/[A-Za-z0-9._/-]*$", description="URL path to mount at.")
    directory: str = Field(min_length=1, description="Directory served read-only.")


class HttpConfig(CoralBaseModel):
    host: str = Field(default="127.0.0.1", min_length=1, description="Address the ingress binds.")
    port: int = Field(default=9001, ge=1, le=65535, description="TCP port of the ingress.")
    listener: Listener = Field(
        default=Listener.proxy,
        description="proxy: Ray Serve's HTTP proxy listens and forwards each request to an "
        "ingress replica (any number, on any node); ingress: the one ingress replica listens "
        "itself and no Serve proxy runs (one box: ~6x the requests per CPU second, one process "
        "less). deploy=local picks ingress; `serve run` and `serve deploy` always use the proxy.",
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Origins allowed by CORS; empty disables CORS. `*` is never combined "
        "with credentials.",
    )
    auth: AuthConfig = Field(default_factory=AuthConfig, description="Authentication settings.")
    static_mounts: list[StaticMount] = Field(
        default_factory=list, description="Extra read-only static directories."
    )
    max_body_bytes: int = Field(
        default=1_048_576, ge=1024, description="Largest request body accepted, in bytes."
    )
    admission: AdmissionConfig = Field(
        default_factory=AdmissionConfig, description="Per-client request limits."
    )

    @field_validator("cors_origins")
    @classmethod
    def _origins_have_scheme(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if origin != "*" and "://" not in origin:
                raise ValueError(f"origin {origin!r} needs a scheme, e.g. https://host")
        return origins
