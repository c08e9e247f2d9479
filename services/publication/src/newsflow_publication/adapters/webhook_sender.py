"""Send one webhook attempt over HTTP, within a time limit, to a public address only.

The host is resolved here and every address it resolves to must be allowed; the request
then goes to that address (the Host header and TLS server name stay the URL's), so a name
cannot resolve to a public address for the check and a private one for the request.
Redirects are not followed: a 3xx is a failed attempt."""

import asyncio
import ipaddress
import socket
from importlib.metadata import PackageNotFoundError, version

import httpx

from ..domain.webhook_urls import IPAddress, address_allowed
from ..domain.webhooks import Outcome


class Refused(Exception):
    """The URL's host is not an address webhooks may reach."""


def user_agent() -> str:
    try:
        return f"newsflow-webhooks/{version('newsflow-publication')}"
    except PackageNotFoundError:
        return "newsflow-webhooks"


class HttpWebhookSender:
    def __init__(
        self, *, timeout_s: float, allow_loopback: bool, client: httpx.AsyncClient | None = None
    ) -> None:
        self.timeout_s = timeout_s
        self.allow_loopback = allow_loopback
        self.client = client or httpx.AsyncClient(timeout=timeout_s)

    async def send(self, url: str, *, body: bytes, headers: dict[str, str]) -> Outcome:
        try:
            async with asyncio.timeout(self.timeout_s):  # resolving, connecting, answering: all of it
                return await self._post(httpx.URL(url), body, headers)
        except TimeoutError:
            return Outcome(error=f"no answer within {self.timeout_s:g} s")
        except Refused as error:
            return Outcome(error=str(error))
        except (httpx.HTTPError, OSError) as error:
            return Outcome(error=f"{type(error).__name__}: {error}"[:500])

    async def _post(self, url: httpx.URL, body: bytes, headers: dict[str, str]) -> Outcome:
        address = await self._address(url.host, url.port or (443 if url.scheme == "https" else 80))
        request = self.client.build_request(
            "POST",
            url.copy_with(host=str(address)),
            content=body,
            headers={"User-Agent": user_agent(), **headers, "Host": url.netloc.decode("ascii")},
            extensions={"sni_hostname": url.host} if url.scheme == "https" else {},
        )
        response = await self.client.send(request, stream=True, follow_redirects=False)
        await response.aclose()  # the status is the answer; the body is not read
        return Outcome(status=response.status_code)

    async def _address(self, host: str, port: int) -> IPAddress:
        try:
            addresses = [ipaddress.ip_address(host)]
        except ValueError:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
            addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
        if not addresses:
            raise Refused(f"{host} does not resolve")
        refused = [a for a in addresses if not address_allowed(a, allow_loopback=self.allow_loopback)]
        if refused:
            raise Refused(f"{host} resolves to a non-public address ({refused[0]})")
        return addresses[0]

    async def aclose(self) -> None:
        await self.client.aclose()
