"""Outbound requests: the one policy for every request the service makes on its own (webhook
deliveries, image fetches).

- http(s) only, to a host that resolves to public addresses only (unless
  ``outbound_allow_private``): a name that also points inside the network is refused as a
  whole. The check is made before every request, and the connection then goes to the address
  that was checked (no second DNS lookup that could answer differently), with TLS still
  verified against the host name (``pinned_request``).
- No proxies from the environment, no keep-alive (a connection to a checked address must
  never be reused for another host name), connect and read time out.
- Redirects are never followed by the HTTP client: webhooks take none; ``fetch_image`` follows
  at most ``MAX_REDIRECTS`` by hand, checking each hop like the first.
- Answers are read up to a cap, raw (``Accept-Encoding: identity``: nothing is inflated).
- Failed attempts are retried after ``backoff``: doubling, with jitter.
"""

import asyncio
import dataclasses
import ipaddress
import random
import socket
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Literal

import httpx

from app.config import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_REDIRECTS = 5
MAX_BACKOFF = timedelta(hours=24)
IMAGE_USER_AGENT = "ClaimReview-Images/1.0"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


# Destinations


class UnsafeDestination(ValueError):
    """The URL cannot be used: bad scheme, no host, does not resolve, or not a public address."""


@dataclasses.dataclass(frozen=True, slots=True)
class Destination:
    host: str
    port: int


def destination(url: str) -> Destination:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        raise UnsafeDestination("is not a valid URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.raw_host:
        raise UnsafeDestination("must be an absolute http:// or https:// URL")
    default_port = 443 if parsed.scheme == "https" else 80
    return Destination(host=parsed.raw_host.decode("ascii"), port=parsed.port or default_port)


def is_refused(address: IPAddress) -> bool:
    """Loopback, private, link-local, multicast, reserved, unspecified or otherwise not global."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def checked_address(
    target: Destination, infos: Sequence[tuple[Any, ...]], *, allow_private: bool
) -> str:
    """The address to connect to. Every address the host resolves to must be acceptable: a
    name that also points inside the network is refused as a whole."""
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not addresses:
        raise UnsafeDestination(f"the host '{target.host}' does not resolve")
    if not allow_private:
        for address in addresses:
            if is_refused(address):
                raise UnsafeDestination(
                    f"the host '{target.host}' resolves to {address}, which is not a public "
                    "address (loopback, private, link-local, multicast or reserved)"
                )
    return str(addresses[0])


def resolve(url: str, *, allow_private: bool) -> str:
    """Check a URL now (blocking DNS lookup); the address it resolves to."""
    target = destination(url)
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UnsafeDestination(f"the host '{target.host}' does not resolve") from None
    return checked_address(target, infos, allow_private=allow_private)


async def resolve_async(url: str, *, allow_private: bool) -> str:
    target = destination(url)
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UnsafeDestination(f"the host '{target.host}' does not resolve") from None
    return checked_address(target, infos, allow_private=allow_private)


# Requests


def http_client(*, timeout: float, max_connections: int) -> httpx.AsyncClient:
    """A client for ``pinned_request``s: no keep-alive, no redirects, no environment proxies."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(max_keepalive_connections=0, max_connections=max_connections),
    )


def pinned_request(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    address: str,
    headers: dict[str, str],
    content: bytes | None = None,
) -> httpx.Request:
    """A request to ``address`` (checked already) that speaks to, and verifies TLS for, the
    URL's host."""
    parsed = httpx.URL(url)
    headers = {**headers, "Host": parsed.netloc.decode("ascii")}
    request = client.build_request(
        method, parsed.copy_with(host=address), content=content, headers=headers
    )
    if parsed.scheme == "https":
        request.extensions["sni_hostname"] = parsed.raw_host.decode("ascii")
    return request


def backoff(*, attempts: int, base_seconds: float) -> timedelta:
    """``base * 2**(attempts - 1)``, ±25 % jitter so failing servers are not hit in step."""
    delay = timedelta(seconds=base_seconds * 2 ** (attempts - 1) * random.uniform(0.75, 1.25))
    return min(delay, MAX_BACKOFF)


# Images

FetchFailure = Literal[
    "refused", "redirects", "status", "not_image", "too_large", "timeout", "network"
]


class ImageFetchError(Exception):
    """An image could not be fetched; ``reason`` classifies why (for metrics), the message
    says it in words (kept as the image's ``last_error``)."""

    def __init__(self, message: str, *, reason: FetchFailure) -> None:
        super().__init__(message)
        self.reason = reason


@dataclasses.dataclass(frozen=True, slots=True)
class FetchedImage:
    body: bytes
    content_type: str
    url: str  # where it was found in the end, after redirects


async def fetch_image(url: str, *, settings: Settings, client: httpx.AsyncClient) -> FetchedImage:
    """GET an image under the outbound policy, within ``image_timeout_seconds`` in all, at
    most ``image_max_bytes``; raises ImageFetchError for anything else."""
    limit = settings.image_timeout_seconds
    try:
        async with asyncio.timeout(limit):
            return await _follow(url, settings=settings, client=client)
    except TimeoutError:
        raise ImageFetchError(f"no answer within {limit:g} s", reason="timeout") from None
    except httpx.HTTPError as error:
        message = f"{type(error).__name__}: {error}".rstrip(": ")
        raise ImageFetchError(message, reason="network") from None


async def _follow(url: str, *, settings: Settings, client: httpx.AsyncClient) -> FetchedImage:
    for _hop in range(MAX_REDIRECTS + 1):
        try:
            address = await resolve_async(url, allow_private=settings.outbound_allow_private)
        except UnsafeDestination as error:
            raise ImageFetchError(f"refused {url}: {error}", reason="refused") from None
        headers = {
            "User-Agent": IMAGE_USER_AGENT,
            "Accept": "image/*",
            "Accept-Encoding": "identity",
        }
        request = pinned_request(client, "GET", url, address=address, headers=headers)
        response = await client.send(request, stream=True)
        try:
            if response.status_code in _REDIRECTS:
                location = response.headers.get("location")
                if not location:
                    raise ImageFetchError(
                        f"{url} answered {response.status_code} without a Location",
                        reason="status",
                    )
                url = str(httpx.URL(url).join(location))
                continue
            return await _read_image(url, response, max_bytes=settings.image_max_bytes)
        finally:
            await response.aclose()
    raise ImageFetchError(f"more than {MAX_REDIRECTS} redirects", reason="redirects")


async def _read_image(url: str, response: httpx.Response, *, max_bytes: int) -> FetchedImage:
    if response.status_code != 200:
        raise ImageFetchError(f"{url} answered HTTP {response.status_code}", reason="status")
    content_type = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if not content_type.startswith("image/"):
        shown = content_type or "no content type"
        raise ImageFetchError(f"{url} is {shown}, not an image", reason="not_image")
    too_large = ImageFetchError(f"{url} is larger than {max_bytes} bytes", reason="too_large")
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_large
    body = bytearray()
    async for chunk in response.aiter_raw():
        body += chunk
        if len(body) > max_bytes:
            raise too_large
    return FetchedImage(body=bytes(body), content_type=content_type, url=url)
