"""One media agent per alive Ray node, so media written on any node can be listed, played,
deleted and kept within the disk quota.

Agents are named, detached actors (`coral-media-<node id>`), created or adopted by name like
pipeline workers, and pinned to their node by node affinity: a node id is exact, whereas the
`node:<ip>` resource is shared by every node of one host (a simulated cluster). An agent
reserves no CPU and enforces the quota on its own node's disk. The agent of the caller's own
node is not called through Ray: the caller's process reads that node's files itself.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from coral_serve.config.monitoring import DiskQuotaConfig
from coral_serve.services.media_agent import MediaAgent

__all__ = ["AGENT_PREFIX", "RayMediaNodes"]

AGENT_PREFIX = "coral-media-"
# Concurrent calls per agent: chunk reads of several playbacks, listings, the quota loop.
_AGENT_CONCURRENCY = 32
# How long a replica trusts its list of alive nodes (each playback chunk asks for it).
_NODES_TTL = 5.0


class RayMediaNodes:
    """Picklable: Serve passes it to every StreamService replica."""

    def __init__(
        self, namespace: str, recordings_dir: str, data_dir: str, disk: DiskQuotaConfig
    ) -> None:
        self.namespace = namespace
        self._args = (recordings_dir, data_dir, disk)
        self._handles: dict[str, Any] = {}
        self._own: tuple[str, MediaAgent] | None = None
        self._nodes: tuple[float, list[str]] | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"namespace": self.namespace, "args": self._args}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["namespace"], *state["args"])  # type: ignore[misc]

    async def agents(self, in_process: bool = True) -> Mapping[str, Any]:
        """Every alive node's agent, started there if it has none yet; `in_process=False`
        gives this node's actor too (the one whose quota loop runs) instead of this
        process's own reader of its files."""
        own_node, own_agent = self._own_agent()
        nodes = await self._alive_nodes()
        for gone in self._handles.keys() - set(nodes):
            del self._handles[gone]
        found: dict[str, Any] = {}
        for node in nodes:
            if node not in self._handles:
                self._handles[node] = await asyncio.to_thread(self._adopt, node)
            local = in_process and node == own_node
            found[node] = own_agent if local else self._handles[node]
        return found

    async def keep_quota(self) -> None:
        """Agents on nodes that joined; a quota loop on each (idempotent, so an agent that
        Ray restarted gets its loop back)."""
        await self.agents()
        for agent in self._handles.values():  # the actors, this node's one too
            agent.keep_quota.remote()

    def _own_agent(self) -> tuple[str, MediaAgent]:
        if self._own is None:
            self._own = (ray.get_runtime_context().get_node_id(), MediaAgent(*self._args))
        return self._own

    async def _alive_nodes(self) -> list[str]:
        now = time.monotonic()
        if self._nodes is None or now - self._nodes[0] > _NODES_TTL:
            nodes = await asyncio.to_thread(ray.nodes)
            self._nodes = (now, [n["NodeID"] for n in nodes if n.get("Alive")])
        return self._nodes[1]

    def _adopt(self, node: str) -> Any:
        """The node's agent: the one already there, or a new one."""
        return (
            ray.remote(MediaAgent)
            .options(
                name=f"{AGENT_PREFIX}{node}",
                namespace=self.namespace,
                lifetime="detached",
                get_if_exists=True,
                num_cpus=0,
                max_concurrency=_AGENT_CONCURRENCY,
                max_restarts=-1,  # restarted on its node if it dies; its node is its reason
                scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False),
            )
            .remote(*self._args)
        )
