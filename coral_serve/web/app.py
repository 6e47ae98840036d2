"""`create_web_app(config, services)`: the FastAPI ingress, free of Ray."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from coral_serve.config import CoralConfig
from coral_serve.config.http import AuthMode, Role
from coral_serve.version import __version__
from coral_serve.web.admission import AdmissionMiddleware
from coral_serve.web.auth import Authenticator, AuthMiddleware
from coral_serve.web.errors import install_error_handlers
from coral_serve.web.http_metrics import install_http_metrics
from coral_serve.web.limits import BodyLimitMiddleware
from coral_serve.web.openapi import document_errors
from coral_serve.web.plugins import mount_plugins
from coral_serve.web.roles import Guarded, require_role
from coral_serve.web.routes import (
    apply,
    auth,
    events,
    health,
    metrics,
    monitor,
    pipelines,
    plugins,
    recordings,
    results,
    schema,
    sources,
    streams,
    watch,
)
from coral_serve.web.routes.ui import mount_ui
from coral_serve.web.services import Services
from coral_serve.web.snapshot import PipelineSnapshot, SnapshotWritesMiddleware

__all__ = ["create_web_app"]


def create_web_app(config: CoralConfig, services: Services) -> FastAPI:
    """Assemble routers, error handling, CORS and static mounts for one ingress replica."""
    # List and status reads are answered from this replica's copy of the views, which
    # PipelineService refreshes as often as the monitor polls the workers.
    snapshot = PipelineSnapshot(services.pipelines, config.monitoring.poll_interval)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await snapshot.stop()

    app = FastAPI(
        title="coral_serve",
        version=__version__,
        description="Control plane for edge video-inference pipelines.",
        lifespan=lifespan,
    )
    app.state.config = config
    app.state.snapshot = snapshot
    app.state.services = services
    install_error_handlers(app)
    document_errors(app)
    app.state.authenticator = Authenticator(
        config.http.auth, key_source=lambda: services.pipelines.call("url_signing_secret")
    )
    app.add_middleware(SnapshotWritesMiddleware, snapshot=snapshot)
    _add_admission(app, config)
    # Added first, so they run inside CORS: a 401 still carries the CORS headers.
    app.add_middleware(AuthMiddleware, authenticator=app.state.authenticator)
    app.add_middleware(BodyLimitMiddleware, max_bytes=config.http.max_body_bytes)
    if config.http.cors_origins:
        wildcard = "*" in config.http.cors_origins
        app.add_middleware(
            CORSMiddleware,
            allow_origins=config.http.cors_origins,
            # Browsers refuse credentials with `*`, and sending both would widen access.
            allow_credentials=not wildcard,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "If-Match"],
            expose_headers=["ETag"],
        )
    install_http_metrics(app, config, services.monitor)
    app.include_router(auth.router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(monitor.router)
    app.include_router(pipelines.router)
    app.include_router(results.router)
    app.include_router(events.router)
    app.include_router(schema.router)
    app.include_router(apply.router)
    app.include_router(streams.router)
    app.include_router(sources.router)
    app.include_router(recordings.router)
    app.include_router(plugins.router)
    app.include_router(watch.router)
    for mount in config.http.static_mounts:
        files = Guarded(StaticFiles(directory=mount.directory), require_role(Role.viewer))
        app.mount(mount.path, files, name=f"static:{mount.path}")
    app.state.plugins = mount_plugins(app, config, services)
    mount_ui(app, config, app.state.plugins)
    return app


def _add_admission(app: FastAPI, config: CoralConfig) -> None:
    """Inside authentication, which tells the client a request's budget belongs to."""
    admission = config.http.admission
    if not admission.enabled:
        return
    auth = config.http.auth
    names = frozenset(t.name for t in auth.tokens) if auth.mode is AuthMode.token else frozenset()
    app.add_middleware(AdmissionMiddleware, config=admission, token_names=names)
