"""Webhooks, pure part: signatures checked by an independent implementation (the
standardwebhooks package), the payloads, the retry schedule and the URL rules."""

import base64
import ipaddress
import json
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from newsflow_publication.domain.webhook_signing import (
    secret_bytes,
    secret_from_bytes,
    signature,
    signed_headers,
)
from newsflow_publication.domain.webhook_urls import InvalidUrl, address_allowed, check_url
from newsflow_publication.domain.webhooks import (
    Dead,
    Delivered,
    Outcome,
    RetryAt,
    RetryPolicy,
    after_attempt,
    event_payload,
)
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

SECRET = secret_from_bytes(bytes(range(32)))
T0 = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
PUBLISHED, RETRACTED = "news.article.published.v1", "news.article.retracted.v1"
POLICY = RetryPolicy(max_attempts=8, base_s=15, factor=4, max_s=6 * 3600)


def test_the_secret_is_whsec_and_base64_of_its_bytes() -> None:
    assert "whsec_" + base64.b64encode(bytes(range(32))).decode() == SECRET
    assert secret_bytes(SECRET) == bytes(range(32))
    with pytest.raises(ValueError):
        secret_from_bytes(b"short")
    with pytest.raises(ValueError):
        secret_bytes("nope_AAAA")


def test_signed_headers_verify_with_the_standardwebhooks_package() -> None:
    body = json.dumps(
        {"type": "news.article.published.v1", "data": {"headline": "Zürich — “quoted”"}}
    ).encode()
    headers = signed_headers(SECRET, msg_id="0d6f-msg", timestamp=int(time.time()), body=body)
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature", "content-type"}
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(SECRET).verify(body, headers) == json.loads(body)


def test_the_signature_matches_the_reference_for_fixed_inputs() -> None:
    reference = Webhook(SECRET).sign(
        msg_id="msg_1", timestamp=datetime.fromtimestamp(1700000000, UTC), data="{}"
    )
    assert signature(SECRET, msg_id="msg_1", timestamp=1700000000, body=b"{}") == reference


@pytest.mark.parametrize("tamper", ["body", "id", "timestamp", "secret"])
def test_any_change_fails_verification(tamper: str) -> None:
    body, now = b'{"a":1}', int(time.time())
    headers = signed_headers(SECRET, msg_id="m1", timestamp=now, body=body)
    secret = SECRET
    if tamper == "body":
        body = b'{"a":2}'
    elif tamper == "id":
        headers["webhook-id"] = "m2"
    elif tamper == "timestamp":
        headers["webhook-timestamp"] = str(now + 1)
    else:
        secret = secret_from_bytes(bytes(32))
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, headers)


def test_a_stale_timestamp_is_rejected_by_receivers() -> None:
    old = int(time.time()) - 600
    headers = signed_headers(SECRET, msg_id="m1", timestamp=old, body=b"{}")
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(SECRET).verify(b"{}", headers)


def test_payloads_have_the_standard_webhooks_shape() -> None:
    event = {"article_id": "a1", "version": 2, "future_field": {"kept": True}}
    published = json.loads(event_payload(PUBLISHED, json.dumps(event).encode(), timestamp=T0))
    assert published == {"type": PUBLISHED, "timestamp": "2026-11-28T12:00:00Z", "data": event}
    retraction = {"article_id": "a1", "version": 3, "kind": "kill", "reason": "Legal advice"}
    in_paris = datetime(2026, 11, 28, 14, tzinfo=timezone(timedelta(hours=1)))
    retracted = json.loads(event_payload(RETRACTED, json.dumps(retraction).encode(), timestamp=in_paris))
    assert retracted == {"type": RETRACTED, "timestamp": "2026-11-28T13:00:00Z", "data": retraction}
    assert "Zürich".encode() in event_payload(PUBLISHED, b'{"h": "Z\\u00fcrich"}', timestamp=T0)
    with pytest.raises(ValueError):
        event_payload(PUBLISHED, b"[1, 2]", timestamp=T0)
    with pytest.raises(ValueError):
        event_payload(PUBLISHED, b"{cut off", timestamp=T0)


def test_the_backoff_grows_exponentially_to_its_cap_with_bounded_jitter() -> None:
    plain = [POLICY.delay_s(n, spread=0) for n in range(1, 8)]
    assert plain == [15, 60, 240, 960, 3840, 15360, 21600]
    most = [POLICY.delay_s(n, spread=0.999999) for n in range(1, 8)]
    assert all(p <= m <= p * 1.25 for p, m in zip(plain, most, strict=True))
    assert all(a < b for a, b in zip(most[:5], plain[1:6], strict=True))  # jitter never reorders
    assert sum(plain) / 3600 == pytest.approx(11.7, abs=0.1)  # about half a day before a delivery is dead


def test_after_an_attempt_delivered_retry_or_dead() -> None:
    assert after_attempt(3, Outcome(status=204), policy=POLICY, now=T0, spread=0) == Delivered()
    assert after_attempt(1, Outcome(status=500), policy=POLICY, now=T0, spread=0) == RetryAt(
        T0 + timedelta(seconds=15)
    )
    assert after_attempt(2, Outcome(error="timeout"), policy=POLICY, now=T0, spread=0.5) == RetryAt(
        T0 + timedelta(seconds=60 * 1.125)
    )
    assert after_attempt(8, Outcome(status=410), policy=POLICY, now=T0, spread=0) == Dead()
    assert not Outcome(status=302).ok and not Outcome(status=100).ok and Outcome(status=299).ok


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/newsflow",
        "https://hooks.example.com:8443/in?token=x",
        "https://93.184.216.34/hook",
        "https://[2606:4700:4700::1111]/hook",
    ],
)
def test_public_https_urls_are_accepted(url: str) -> None:
    assert check_url(url, allow_http_localhost=False) == url


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://hooks.example.com/x", "https"),
        ("ftp://hooks.example.com/x", "https"),
        ("https:///x", "no host"),
        ("https://user:pw@hooks.example.com/x", "credentials"),
        ("https://hooks.example.com/x#frag", "fragment"),
        ("https://hooks.example.com:99999/x", "not a URL"),
        ("https://10.0.0.8/x", "private"),
        ("https://192.168.1.1/x", "private"),
        ("https://172.16.0.1/x", "private"),
        ("https://169.254.169.254/latest/meta-data", "private"),
        ("https://100.64.0.1/x", "private"),
        ("https://0.0.0.0/x", "private"),
        ("https://[fd00::1]/x", "private"),
        ("https://[fe80::1]/x", "private"),
        ("https://[::ffff:10.0.0.1]/x", "private"),
        ("https://224.0.0.1/x", "private"),
        ("https://127.0.0.1/x", "this machine"),
        ("http://localhost:8080/x", "this machine"),
        ("https://api.localhost/x", "this machine"),
        ("https://hooks.example.com/" + "x" * 2048, "longer"),
    ],
)
def test_unsafe_urls_are_refused(url: str, why: str) -> None:
    with pytest.raises(InvalidUrl, match=why):
        check_url(url, allow_http_localhost=False)


def test_loopback_over_http_only_when_allowed_and_never_other_private_addresses() -> None:
    for url in ("http://127.0.0.1:8080/x", "http://localhost/x", "https://[::1]/x"):
        assert check_url(url, allow_http_localhost=True) == url
    with pytest.raises(InvalidUrl, match="https"):
        check_url("http://hooks.example.com/x", allow_http_localhost=True)
    with pytest.raises(InvalidUrl, match="private"):
        check_url("https://10.1.2.3/x", allow_http_localhost=True)


def test_addresses_a_delivery_may_connect_to() -> None:
    def allowed(text: str, loopback: bool = False) -> bool:
        return address_allowed(ipaddress.ip_address(text), allow_loopback=loopback)

    assert allowed("93.184.216.34") and allowed("2606:4700:4700::1111")
    assert not allowed("127.0.0.1") and allowed("127.0.0.1", loopback=True)
    assert not allowed("::ffff:127.0.0.1") and allowed("::ffff:127.0.0.1", loopback=True)
    for private in (
        "10.0.0.1",
        "172.31.255.255",
        "192.168.0.1",
        "169.254.169.254",
        "fd12::1",
        "::ffff:10.0.0.1",
    ):
        assert not allowed(private, loopback=True)
