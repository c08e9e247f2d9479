"""Standard Webhooks signatures: `webhook-id`, `webhook-timestamp` and `webhook-signature`
headers, the signature being `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` keyed
with the secret's bytes. A secret reads `whsec_<base64 of its bytes>`. Pure."""

import base64
import binascii
import hashlib
import hmac

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def secret_from_bytes(key: bytes) -> str:
    if not 24 <= len(key) <= 64:
        raise ValueError("a webhook secret has 24 to 64 bytes")
    return SECRET_PREFIX + base64.b64encode(key).decode("ascii")


def secret_bytes(secret: str) -> bytes:
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"a webhook secret starts with {SECRET_PREFIX}")
    try:
        return base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except binascii.Error as error:
        raise ValueError("a webhook secret is base64 after its prefix") from error


def signature(secret: str, *, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signed_headers(secret: str, *, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The headers of one attempt: the id is the message's (the same on every retry), the
    timestamp the attempt's (receivers reject old ones)."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, msg_id=msg_id, timestamp=timestamp, body=body),
        "content-type": "application/json",
    }
