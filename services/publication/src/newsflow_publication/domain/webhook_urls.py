"""Which URLs a subscriber may register and which addresses a delivery may connect to.

Deliveries are requests our servers make to URLs strangers chose, so nothing reaches a
private, link-local, reserved or multicast address (cloud metadata, the cluster, the stack),
by literal or by name: names are checked again, resolved, at every attempt. Loopback is for
local development only, and only then may a URL be plain http. Pure."""

import ipaddress
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2048
LOCAL_NAMES = ("localhost", "localhost.")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class InvalidUrl(ValueError):
    """The URL may not receive webhooks; the message says why."""


def address_allowed(address: IPAddress, *, allow_loopback: bool) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return allow_loopback
    return address.is_global and not address.is_multicast


def _is_local_name(host: str) -> bool:
    return host in LOCAL_NAMES or host.rstrip(".").endswith(".localhost")


def check_url(url: str, *, allow_http_localhost: bool) -> str:
    """The URL as given, or `InvalidUrl`."""
    if len(url) > MAX_URL_LENGTH:
        raise InvalidUrl(f"longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        _ = parts.port  # raises on a port out of range
    except ValueError as error:
        raise InvalidUrl(f"not a URL: {error}") from None
    if parts.scheme not in ("https", "http"):
        raise InvalidUrl("must be https")
    if not host:
        raise InvalidUrl("has no host")
    if parts.username is not None or parts.password is not None:
        raise InvalidUrl("must not carry credentials")
    if parts.fragment:
        raise InvalidUrl("must not have a fragment")
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    local = _is_local_name(host) or (literal is not None and literal.is_loopback)
    if local and not allow_http_localhost:
        raise InvalidUrl("must not point at this machine")
    if parts.scheme == "http" and not local:
        raise InvalidUrl("must be https (plain http is allowed only for localhost in development)")
    if literal is not None and not address_allowed(literal, allow_loopback=allow_http_localhost):
        raise InvalidUrl("must not point at a private, link-local or reserved address")
    return url
