"""A webhook subscriber for tests: HTTP on 127.0.0.1 in a thread, verifying every request
with the standardwebhooks package (an implementation independent of newsflow's), and failing
on purpose where a test says so."""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from tests.support.stack import free_port


@dataclass
class Route:
    secret: str | None = None
    fail_first: int = 0
    """Answer 500 to the first attempts of each message, this many."""
    fail_types: frozenset[str] = frozenset()
    """...of these payload types only (all when empty)."""
    always_fail: bool = False
    article_id: str | None = None
    """Fail only for this article's events (others on the shared servers are answered 204)."""
    delay_s: float = 0.0
    attempts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Received:
    path: str
    at: float
    headers: dict[str, str]
    body: bytes
    payload: Any
    verified: bool
    status: int

    @property
    def msg_id(self) -> str:
        return self.headers.get("webhook-id", "")


@dataclass
class Receiver:
    port: int
    routes: dict[str, Route] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path: str, article_id: str | None = None) -> list[Received]:
        with self.lock:
            return [
                r
                for r in self.received
                if r.path == path
                and (article_id is None or (r.payload or {}).get("data", {}).get("article_id") == article_id)
            ]

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> tuple[Any, bool, int]:
        route = self.routes.get(path)
        if route is None or route.secret is None:
            return None, False, 404
        try:
            payload = Webhook(route.secret).verify(body, headers)
        except (WebhookVerificationError, ValueError):
            return None, False, 401
        if route.article_id is not None and payload["data"].get("article_id") != route.article_id:
            return payload, True, 204
        if route.delay_s:
            time.sleep(route.delay_s)
        if route.always_fail:
            return payload, True, 503
        msg_id = headers["webhook-id"]
        with self.lock:
            route.attempts[msg_id] = route.attempts.get(msg_id, 0) + 1
            seen = route.attempts[msg_id]
        if seen <= route.fail_first and (not route.fail_types or payload.get("type") in route.fail_types):
            return payload, True, 500
        return payload, True, 204


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver(port=free_port())

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            payload, verified, status = receiver.answer(self.path, headers, body)
            with receiver.lock:
                receiver.received.append(
                    Received(self.path, time.monotonic(), headers, body, payload, verified, status)
                )
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", receiver.port), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        httpd.shutdown()
        httpd.server_close()
