"""Routing of StreamService calls: a WebRTC close goes to the replica that holds the session.

A viewer session lives in the replica that answered its offer, but Serve balances every call
over all replicas, so a close would mostly land on a replica that does not know the session.
Session ids start with their replica's tag (`serve.get_replica_context().replica_id`), and
this request router, which every handle to StreamService uses, sends `close_session` to that
replica; every other call goes to the less busy of two random replicas, preferring ones on
the caller's node, as Serve's default router does.
"""

from __future__ import annotations

import random

from ray import serve
from ray.serve.config import RequestRouterConfig
from ray.serve.request_router import (
    LocalityMixin,
    PendingRequest,
    RequestRouter,
    RunningReplica,
)

from coral_serve.streams.webrtc import session_owner

__all__ = ["SessionOwnerRouter", "replica_tag", "session_routing"]

_ROUTED_METHODS = frozenset({"close_session"})


def replica_tag() -> str:
    """This replica's id as routers know it; called inside a StreamService replica."""
    return serve.get_replica_context().replica_id.unique_id


def session_routing() -> RequestRouterConfig:
    return RequestRouterConfig(request_router_class=SessionOwnerRouter)


class SessionOwnerRouter(LocalityMixin, RequestRouter):
    """Exact matching (no FIFO mixin): the replica chosen for a close serves that close."""

    async def choose_replicas(
        self,
        candidate_replicas: list[RunningReplica],
        pending_request: PendingRequest | None = None,
    ) -> list[list[RunningReplica]]:
        owner = _owner(pending_request)
        if owner is not None and pending_request is not None:
            for replica in candidate_replicas:
                if replica.replica_id.unique_id == owner:
                    pending_request.routing_context.should_backoff = True
                    return [[replica]]
            # The replica is gone, and its sessions with it: any replica answers 404.
        by_id = {replica.replica_id: replica for replica in candidate_replicas}
        ids = [i for i in self.apply_locality_routing(pending_request) if i in by_id]
        if not ids:
            return []
        return [[by_id[i] for i in random.sample(ids, min(2, len(ids)))]]


def _owner(request: PendingRequest | None) -> str | None:
    if request is None or request.metadata.call_method not in _ROUTED_METHODS:
        return None
    if not request.args or not isinstance(request.args[0], str):
        return None
    return session_owner(request.args[0])
