"""The one outbound policy: which addresses the server connects to because a request named
them (probes, pipeline sources at create time, downloads)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from ipaddress import IPv4Address, IPv6Address
from urllib.parse import urlsplit

from coral_serve.config.pipelines import OutboundPolicy
from coral_serve.errors import InvalidRequestError
from coral_serve.schema.redact import masked_uri
from coral_serve.schema.uri import NETWORK_SCHEMES, parse_source_uri

__all__ = ["canonical_address", "check_outbound"]

IPAddress = IPv4Address | IPv6Address

_METADATA_HOSTS = frozenset(
    {"metadata", "metadata.google.internal", "metadata.goog", "instance-data",
     "instance-data.ec2.internal"}
)  # fmt: skip
# AWS, GCP, Azure and OpenStack (169.254.169.254), AWS ECS tasks, AWS over IPv6, Alibaba.
_METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def canonical_address(text: str) -> IPAddress:
    """The IPv4 address an IPv6 form carries (`::ffff:a.b.c.d`, `::a.b.c.d`, NAT64, 6to4),
    else the address itself: the form the policy judges, whatever encoding reached us."""
    address = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone (`%eth0`)
    if isinstance(address, IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
            return IPv4Address(int(address) & 0xFFFFFFFF)
        if address.sixtofour is not None:
            return address.sixtofour
    return address


def _refusal(address: IPAddress, policy: OutboundPolicy) -> str | None:
    """Why `address` may not be reached (naming the setting that would allow it), or None."""
    if address in _METADATA_ADDRESSES and policy.block_metadata:
        return "a cloud metadata address (pipelines.outbound.block_metadata)"
    if address.is_multicast or address.is_unspecified:
        return "not a unicast address"
    if address.is_loopback:
        return None if policy.allow_loopback else "loopback (pipelines.outbound.allow_loopback)"
    if address.is_link_local:
        return (
            None if policy.allow_link_local else "link-local (pipelines.outbound.allow_link_local)"
        )
    if not address.is_global and not policy.allow_private:
        return "a private network (pipelines.outbound.allow_private)"
    return None


async def check_outbound(uri: str, policy: OutboundPolicy) -> None:
    """Refuse (422) a network URI whose host is, or resolves to, an address the policy
    forbids. Local files and cameras pass: they reach no network.

    Every address the name resolves to is judged (resolution runs off the event loop), so
    IPv4-mapped IPv6 literals and the decimal or hex IPv4 forms getaddrinfo accepts are
    judged as the address they reach.
    """
    if parse_source_uri(uri).scheme not in NETWORK_SCHEMES:  # check_source parsed it first
        return
    try:
        host = urlsplit(uri).hostname
    except ValueError:
        host = None
    if not host:
        raise InvalidRequestError(f"source {masked_uri(uri)} names no host")
    if policy.block_metadata and host.lower().rstrip(".") in _METADATA_HOSTS:
        raise InvalidRequestError(
            f"source {masked_uri(uri)} is refused: {host} is a cloud metadata service "
            "(pipelines.outbound.block_metadata)"
        )
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise InvalidRequestError(f"cannot resolve {host}: {exc}") from None
    for info in infos:
        address = canonical_address(str(info[4][0]))
        reason = _refusal(address, policy)
        if reason is not None:
            named = host if host == str(address) else f"{host} is {address},"
            raise InvalidRequestError(f"source {masked_uri(uri)} is refused: {named} {reason}")
