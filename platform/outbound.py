"""Outgoing HTTP to addresses someone else typed in: public hosts only, checked at connection time.

A coordinator names their identity provider's address, and the server then fetches documents
from it (SSO discovery, keys, tokens). Checking the name when it is saved is not enough: a host
name can resolve to an internal address (``intranet.example``, the machine's own name), and
DNS can answer differently a second later (rebinding). So the check runs where the socket is
opened: the name is resolved once, every address it has must be public, and the connection
goes to the address that was checked. TLS still verifies the certificate against the name.

Development and tests run their provider on 127.0.0.1: ``LIVC_SSO_ALLOW_PRIVATE=true`` lets
them, and production refuses to start with it.
"""

from __future__ import annotations

import ipaddress
import socket

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NewConnectionError


class PrivateAddressRefused(NewConnectionError):
    """The host name leads to a private, loopback, link-local, reserved or multicast address."""


def public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 scope (fe80::1%eth0) is not part of it
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_link_local or ip.is_loopback
                                 or ip.is_private or ip.is_unspecified)


class _PublicOnly:
    """Resolves the host once and connects to a checked address (mixed into urllib3's connections)."""

    def _new_conn(self) -> socket.socket:
        try:
            found = socket.getaddrinfo(self._dns_host, self.port, type=socket.SOCK_STREAM)
        except socket.gaierror:
            return super()._new_conn()  # urllib3 reports the failed resolution its own way
        addresses = [info[4][0] for info in found]
        if not addresses or not all(public_address(address) for address in addresses):
            raise PrivateAddressRefused(self, f"{self.host} resolves to a non-public address")
        name, self._dns_host = self._dns_host, addresses[0]
        try:
            return super()._new_conn()
        finally:
            self._dns_host = name


class _PublicHTTPConnection(_PublicOnly, HTTPConnection):
    pass


class _PublicHTTPSConnection(_PublicOnly, HTTPSConnection):
    pass


class _PublicHTTPPool(HTTPConnectionPool):
    ConnectionCls = _PublicHTTPConnection


class _PublicHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _PublicHTTPSConnection


class PublicOnlyAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _PublicHTTPPool, "https": _PublicHTTPSPool}


def guard_session(session: requests.Session, *, allow_private: bool) -> requests.Session:
    """``session`` connecting to public addresses only (unless ``allow_private``, development)."""
    if not allow_private:
        adapter = PublicOnlyAdapter()
        session.mount("http://", adapter)
        session.mount("https://", adapter)
    return session


def refused_as_private(error: BaseException) -> bool:
    """Whether a ``requests`` error came from :class:`PrivateAddressRefused`."""
    seen: set[int] = set()
    pending = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, PrivateAddressRefused):
            return True
        pending.extend([getattr(current, "reason", None), current.__cause__, current.__context__,
                        *(arg for arg in getattr(current, "args", ()) if isinstance(arg, BaseException))])
    return False
