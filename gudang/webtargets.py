"""Where a webhook may be delivered: the internet, not the plant's own network.

A webhook URL comes from an integrator (API subscription) or the site file, and
gudang then POSTs to it with its own network position: without a check it
reaches InfluxDB, the API itself, the broker's host or the cloud metadata
service (the field trial ran `CREATE DATABASE` on InfluxDB through one). So a
target is refused unless every address its host resolves to is globally
routable unicast: loopback, link-local, private, unique-local, carrier-grade
NAT, multicast, reserved and unspecified addresses are refused, in any spelling
(decimal, IPv4-mapped IPv6, names), because the check is made on the resolved
addresses. The API's own and InfluxDB's address and port are refused always.

An operator allows an on-premises ordering system explicitly
(``GUDANG_WEBHOOK_ALLOW``: networks in CIDR form). The check runs when a
subscription is made and again before every delivery, and the delivery goes to
the very address that was checked (the name is kept for the Host header and
TLS), so a name that resolves differently later (DNS rebinding) cannot slip
through. Redirects are never followed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from gudang.errors import GudangError

__all__ = ["Resolved", "TargetPolicy", "TargetRefused", "redact"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]


class TargetRefused(GudangError, ValueError):
    """The URL may not be a webhook target; the message says why."""


@dataclass(frozen=True)
class Resolved:
    """A checked target: connect to `address`, say `host` (Host header, TLS)."""

    url: str  # the URL with the checked address in place of the host
    host: str
    address: str


def redact(url: str) -> str:
    """The URL without its user info (a password in a URL is never shown back)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<not a URL>"
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))


async def _system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


class TargetPolicy:
    def __init__(
        self,
        allow: Iterable[str] = (),
        deny: Iterable[tuple[str, int]] = (),
        resolver: Resolver | None = None,
    ) -> None:
        """`allow`: networks (CIDR) an operator permits although not global;
        `deny`: (host, port) pairs refused whatever `allow` says (the API's
        own, InfluxDB's). Raises ValueError for an invalid network."""
        self.allow = [ipaddress.ip_network(n, strict=False) for n in allow]
        self._deny_spec = list(deny)
        self._deny: set[tuple[IPAddress, int]] | None = None
        self.resolve = resolver or _system_resolver

    async def _denied(self) -> set[tuple[IPAddress, int]]:
        if self._deny is None:
            out: set[tuple[IPAddress, int]] = set()
            for host, port in self._deny_spec:
                try:
                    addresses = await self.resolve(host, port)
                except OSError:
                    continue
                for a in addresses:
                    ip = _ip(a)
                    out.add((ip, port))
                    if ip.is_unspecified:  # a server on 0.0.0.0 answers on loopback too
                        out |= {(_ip("127.0.0.1"), port), (_ip("::1"), port)}
            self._deny = out
        return self._deny

    async def check(self, url: str) -> Resolved:
        """Resolve `url`'s host now and check every address; the first to use."""
        try:
            parts = urlsplit(url)
        except ValueError as exc:  # e.g. an unclosed [IPv6 literal
            raise TargetRefused(f"not a URL: {exc}") from None
        if parts.scheme not in ("http", "https"):
            raise TargetRefused("a webhook URL must start with http:// or https://")
        host = parts.hostname
        if not host:
            raise TargetRefused("the URL has no host")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise TargetRefused(f"invalid port: {exc}") from None
        try:
            addresses = await self.resolve(host, port)
        except OSError as exc:
            raise TargetRefused(f"cannot resolve {host[:100]}: {exc.strerror or exc}") from None
        except (UnicodeError, ValueError):  # a name IDNA cannot encode
            raise TargetRefused(f"{host[:100]!r} is not a valid host name") from None
        if not addresses:
            raise TargetRefused(f"{host} resolves to no address")
        denied = await self._denied()
        for a in addresses:
            ip = _ip(a)
            if (ip, port) in denied:
                raise TargetRefused(f"{host}:{port} is gudang's own API or InfluxDB")
            why = self._why_not(ip)
            if why is not None:
                raise TargetRefused(f"{host} resolves to {ip}, {why}; allow its network with "
                                    "GUDANG_WEBHOOK_ALLOW if it is your own")  # fmt: skip
        address = addresses[0]
        netloc_host = f"[{address}]" if ":" in address else address
        netloc = f"{netloc_host}:{port}" if parts.port else netloc_host
        if parts.username is not None:
            netloc = parts.netloc.rsplit("@", 1)[0] + "@" + netloc
        return Resolved(urlunsplit(parts._replace(netloc=netloc)), host, address)

    def _why_not(self, ip: IPAddress) -> str | None:
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if any(ip in n for n in self.allow):
            return None
        for test, name in (
            (ip.is_unspecified, "an unspecified address"),
            (ip.is_loopback, "a loopback address"),
            (ip.is_link_local, "a link-local address (cloud metadata lives there)"),
            (ip.is_multicast, "a multicast address"),
            (ip.is_private, "a private address"),
            (ip.is_reserved, "a reserved address"),
            (not ip.is_global, "not a global address"),
        ):
            if test:
                return name
        return None


def _ip(text: str) -> IPAddress:
    return ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone
