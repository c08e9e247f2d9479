"""The webhook sender connects only to the address it checked, keeps the URL's Host and TLS
name, follows no redirect and gives up after its time limit."""

import asyncio

import httpx
import pytest
from newsflow_publication.adapters.webhook_sender import HttpWebhookSender

HEADERS = {"webhook-id": "m1", "content-type": "application/json"}


def sender(handler: object, *, allow_loopback: bool = True, timeout_s: float = 2.0) -> HttpWebhookSender:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))  # type: ignore[arg-type]
    return HttpWebhookSender(timeout_s=timeout_s, allow_loopback=allow_loopback, client=client)


async def test_the_request_goes_to_the_checked_address_with_the_urls_host_and_tls_name() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    outcome = await sender(handler).send("https://localhost:8443/in?x=1", body=b"{}", headers=HEADERS)
    assert outcome.ok and outcome.status == 204
    [request] = seen
    assert request.url.host in ("127.0.0.1", "::1") and request.url.port == 8443
    assert request.url.raw_path == b"/in?x=1"
    assert request.headers["host"] == "localhost:8443"
    assert request.extensions["sni_hostname"] == "localhost"
    assert request.headers["webhook-id"] == "m1" and request.content == b"{}"
    assert request.headers["user-agent"].startswith("newsflow-webhooks")


async def test_a_name_resolving_to_a_refused_address_is_never_requested() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("must not be requested")

    outcome = await sender(handler, allow_loopback=False).send(
        "https://localhost/x", body=b"{}", headers=HEADERS
    )
    assert not outcome.ok and outcome.error is not None
    assert "non-public address" in outcome.error
    literal = await sender(handler, allow_loopback=False).send(
        "https://10.0.0.1/x", body=b"{}", headers=HEADERS
    )
    assert literal.error is not None and "non-public address" in literal.error


@pytest.mark.parametrize("status", [301, 302, 400, 410, 500, 503])
async def test_redirects_and_errors_are_failed_attempts(status: int) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers={"location": "http://169.254.169.254/"})

    outcome = await sender(handler).send("http://127.0.0.1:9/x", body=b"{}", headers=HEADERS)
    assert outcome.status == status and not outcome.ok
    assert outcome.describe() == f"HTTP {status}"


async def test_no_answer_within_the_limit_and_network_errors_are_failed_attempts() -> None:
    async def hangs(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(204)

    slow = await sender(hangs, timeout_s=0.2).send("http://127.0.0.1:9/x", body=b"{}", headers=HEADERS)
    assert slow.error == "no answer within 0.2 s"

    def refuses(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    refused = await sender(refuses).send("http://127.0.0.1:9/x", body=b"{}", headers=HEADERS)
    assert refused.error == "ConnectError: connection refused"
