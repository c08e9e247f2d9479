"""`GET /livez`, `GET /readyz` and a bounded stop, the same on every service.

Live: the event loop answers. Ready: every registered check passes (MongoDB, Redis, Kafka,
the consumers' group membership) and no stop has begun; otherwise 503 problem+json naming
the failing checks. A service registers its checks in its wiring point.

Consumers and several replicas: a consumer is ready once it has been given an assignment by
its group. An assignment with no partition is ready too: the group's assignor gives a member
nothing only when the group has more members than partitions, and such a standby replica must
stay in service (its HTTP side works, and it takes over partitions at the next rebalance).
During a rebalance (partitions revoked, none given yet) a consumer that held an assignment
stays ready for `rebalance_grace_s`: a routine rebalance moves every member of the group at
once, and failing readiness then would take every replica out of service together.

Stop: at SIGTERM (or SIGINT) the process is not ready at once; uvicorn stops taking
connections and lets requests in flight finish (a quarter of `NEWSFLOW_SHUTDOWN_TIMEOUT_S`),
then FastStream stops reading and waits for the records in hand (half of it); their offsets
are committed and the group left when the consumers close. Should anything hang, the process
ends itself when the whole timeout has passed (what was not committed is read again by the
next member: at-least-once)."""

import asyncio
import logging
import os
import signal
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from .problems import problem_response

log = logging.getLogger("newsflow.health")

Check = Callable[[], Awaitable[str | None]]
"""Returns a detail when it passes, raises (any exception) when it fails."""


class NotReady(Exception):
    pass


class Health:
    def __init__(self, *, check_timeout_s: float = 2.0, rebalance_grace_s: float = 30.0) -> None:
        self.checks: dict[str, Check] = {}
        self.optional: set[str] = set()
        self.check_timeout_s = check_timeout_s
        self.rebalance_grace_s = rebalance_grace_s
        self.stopping = False

    def add(self, name: str, check: Check, *, required: bool = True) -> None:
        """A check that is not `required` is reported but does not make the service unready
        (a dependency the service works without, e.g. ingest's rate limit in Redis)."""
        self.checks[name] = check
        if not required:
            self.optional.add(name)

    async def _run(self, name: str, check: Check) -> tuple[str, bool, str]:
        try:
            detail = await asyncio.wait_for(check(), self.check_timeout_s)
        except TimeoutError:
            return name, False, f"no answer within {self.check_timeout_s:g}s"
        except Exception as error:
            return name, False, str(error) or type(error).__name__
        return name, True, detail or "ok"

    async def report(self) -> tuple[bool, dict[str, dict[str, Any]]]:
        results = await asyncio.gather(*(self._run(n, c) for n, c in self.checks.items()))
        checks: dict[str, dict[str, Any]] = {}
        for name, ok, detail in results:
            checks[name] = {"ok": ok, "detail": detail}
            if name in self.optional:
                checks[name]["required"] = False
        if self.stopping:
            checks["shutdown"] = {"ok": False, "detail": "stopping"}
        return all(c["ok"] for n, c in checks.items() if n not in self.optional), checks

    def stop_on_signals(self, *, timeout_s: float) -> None:
        """Chain a handler before the server's own SIGTERM/SIGINT handler: not ready at once,
        and a hard exit if the stop takes longer than `timeout_s`. Main thread only."""
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous = signal.getsignal(sig)

            def handler(signum: int, frame: Any, previous: Any = previous) -> None:
                self._begin_stop(timeout_s)
                if callable(previous):
                    previous(signum, frame)

            signal.signal(sig, handler)

    def _begin_stop(self, timeout_s: float) -> None:
        if self.stopping:
            return
        self.stopping = True
        log.info("stopping: not ready; exiting within %.0fs", timeout_s)

        def overdue() -> None:
            log.error("the stop took longer than %.0fs: exiting now", timeout_s)
            logging.shutdown()
            os._exit(70)

        timer = threading.Timer(timeout_s, overdue)
        timer.daemon = True
        timer.start()


def install(app: FastAPI, health: Health) -> None:
    router = APIRouter()

    @router.get("/livez", include_in_schema=False)
    async def livez() -> JSONResponse:
        return JSONResponse({"status": "live"})

    @router.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> JSONResponse:
        ready, checks = await health.report()
        if ready:
            return JSONResponse({"status": "ready", "checks": checks})
        failing = sorted(n for n, c in checks.items() if not c["ok"] and n not in health.optional)
        return problem_response(
            503,
            "not-ready",
            "Not ready",
            "Failing: " + ", ".join(f"{n} ({checks[n]['detail']})" for n in failing),
            instance=str(request.url.path),
            failing=failing,
            checks=checks,
        )

    app.include_router(router)
    app.state.health = health


# -- the checks ----------------------------------------------------------------------------------


def mongodb_check(client: Callable[[], Any]) -> Check:
    """`client()` gives the AsyncMongoClient (it may be made at start)."""

    async def check() -> str | None:
        await client().admin.command("ping")
        return None

    return check


def redis_check(client: Callable[[], Any]) -> Check:
    async def check() -> str | None:
        await client().ping()
        return None

    return check


def _kafka_client(broker: Any) -> Any:
    producer = getattr(getattr(broker, "_producer", None), "_producer", None)
    return getattr(getattr(producer, "producer", None), "client", None)


def kafka_check(client: Callable[[], Any]) -> Check:
    """A metadata round trip on the given aiokafka client's connections."""

    async def check() -> str | None:
        kafka = client()
        if kafka is None:
            raise NotReady("not connected")
        if not await kafka.force_metadata_update():
            raise NotReady("no broker answered a metadata request")
        return None

    return check


def broker_kafka_check(broker: Any) -> Check:
    return kafka_check(lambda: _kafka_client(broker))


class ConsumerAssignments:
    """Every group consumer of the broker has been given its assignment (see the module's
    docstring for an empty one and for rebalances)."""

    def __init__(self, broker: Any, *, grace_s: float) -> None:
        self.broker = broker
        self.grace_s = grace_s
        self._last_assigned: dict[int, float] = {}

    async def __call__(self) -> str | None:
        failing, held = [], 0
        now = time.monotonic()
        for subscriber in list(self.broker.subscribers):
            group = getattr(subscriber, "group_id", None)
            if not group:
                continue  # partitions assigned by hand, no group to join
            consumers = _group_consumers(subscriber)
            if not consumers:
                failing.append(f"{group}: stopped")
                continue
            for consumer in consumers:
                subscription = getattr(consumer._subscription, "subscription", None)
                assignment = subscription.assignment if subscription is not None else None
                if assignment is not None:
                    self._last_assigned[id(consumer)] = now
                    held += len(assignment.tps)
                    continue
                last = self._last_assigned.get(id(consumer))
                if last is None:
                    failing.append(f"{group}: waiting for an assignment")
                elif now - last > self.grace_s:
                    failing.append(f"{group}: rebalancing for {now - last:.0f}s")
        if failing:
            raise NotReady("; ".join(failing))
        return f"{held} partitions held"


def _group_consumers(subscriber: Any) -> list[Any]:
    consumers = getattr(subscriber, "consumers", None)
    if consumers:
        return list(consumers)
    consumer = getattr(subscriber, "consumer", None)
    return [consumer] if consumer is not None else []
