"""Run the three services as real processes, isolated by port, database and consumer group;
and publication's Related indexer, `related`, a process of its own as deployed."""

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from newsflow_contracts.topics import (
    ARTICLE_ENRICHED,
    ARTICLE_INGESTED,
    ARTICLE_PUBLISHED,
    ARTICLE_RETRACTED,
    ARTICLE_SUBMITTED,
)

from tests.support.stack import commit_group_at_end, free_port, unique

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"
LOGS = ROOT / ".run" / "logs" / "tests"
GROUP_TOPICS = {
    "NEWSFLOW_SUBMISSIONS_GROUP": [ARTICLE_SUBMITTED.name],
    "NEWSFLOW_ENRICHMENT_GROUP": [ARTICLE_INGESTED.name],
    "NEWSFLOW_PUBLICATION_GROUP": [ARTICLE_ENRICHED.name, ARTICLE_RETRACTED.name],
    "NEWSFLOW_WEBHOOK_GROUP": [ARTICLE_PUBLISHED.name],
}
COMMANDS = {"related": ("publication", "related")}
"""A process that is not `newsflow-<name> serve`: (program, command)."""


def _die_with_the_test_run() -> None:
    """A service outlives a test run killed by a timeout unless the kernel ends it: left
    running, it would consume the next run's records."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Services:
    env: dict[str, str]
    ports: dict[str, int]
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @classmethod
    def isolated(cls) -> "Services":
        run = unique("e2e")
        ports = {name: free_port() for name in ("ingest", "enrichment", "publication", "related", "site")}
        env = {
            **os.environ,
            "NEWSFLOW_INGEST_PORT": str(ports["ingest"]),
            "NEWSFLOW_ENRICHMENT_PORT": str(ports["enrichment"]),
            "NEWSFLOW_PUBLICATION_PORT": str(ports["publication"]),
            "NEWSFLOW_SITE_PORT": str(ports["site"]),
            "NEWSFLOW_RELATED_PORT": str(ports["related"]),
            "NEWSFLOW_SITE_API_URL": f"http://127.0.0.1:{ports['publication']}",
            "NEWSFLOW_INGEST_DB": f"{run}_ingest",
            "NEWSFLOW_PUBLICATION_DB": f"{run}_publication",
            "NEWSFLOW_ENRICHMENT_GROUP": f"{run}-enrichment",
            "NEWSFLOW_PUBLICATION_GROUP": f"{run}-publication",
            "NEWSFLOW_WEBHOOK_GROUP": f"{run}-webhooks",
            "NEWSFLOW_SUBMISSIONS_GROUP": f"{run}-submissions",
            # Related lists of this run's articles only, in keys of its own
            "NEWSFLOW_RELATED_PREFIX": f"{run}:related",
            "NEWSFLOW_RELATED_START": "end",
            # these tiers resend the sample articles under new ids: with deduplication on they
            # would be recorded as duplicates and never published (it has its own tests)
            "NEWSFLOW_DEDUP_ENABLED": "false",
        }
        return cls(env=env, ports=ports)

    async def groups_at_end(self) -> None:
        """Start every consumer group of these services at the end of its topics, so that
        they handle only what the test produces, not the history earlier runs left."""
        for variable, topics in GROUP_TOPICS.items():
            if variable in self.env:
                await commit_group_at_end(self.env[variable], topics)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def start(self, name: str, timeout_s: float = 60) -> None:
        """Start a service (or `related`); `<service>#<n>` is a further replica of it, on a port
        of its own."""
        service = name.split("#")[0]
        program, command = COMMANDS.get(service, (service, "serve"))
        port = self.ports.setdefault(name, free_port())
        LOGS.mkdir(parents=True, exist_ok=True)
        log = open(LOGS / f"{service}-{port}.log", "ab")  # noqa: SIM115
        self.procs[name] = subprocess.Popen(
            [str(BIN / f"newsflow-{program}"), command],
            env={**self.env, f"NEWSFLOW_{service.upper()}_PORT": str(port)},
            stdout=log,
            stderr=log,
            start_new_session=True,
            preexec_fn=_die_with_the_test_run,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.procs[name].poll() is not None:
                raise RuntimeError(f"{name} exited with {self.procs[name].returncode}; see {log.name}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.ports[name])) == 0:
                    return
            time.sleep(0.1)
        raise TimeoutError(f"{name} did not listen on {self.ports[name]} within {timeout_s}s")

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(name, None)
        if proc and proc.poll() is None:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=30)

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.kill(name, signal.SIGTERM)

    def create_key(self, source: str) -> str:
        out = subprocess.run(
            [str(BIN / "newsflow-ingest"), "keys", "create", "--source", source],
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return next(line.split()[1] for line in out.splitlines() if line.startswith("key:"))


ALL_SERVICES = ("ingest", "enrichment", "publication", "related")


@contextlib.asynccontextmanager
async def running_services(*names: str, **env: str) -> AsyncIterator[Services]:
    """Isolated services (the three and the Related indexer unless named; "site" for the reader
    site), with extra settings, stopped at the end."""
    services = Services.isolated()
    services.env.update(env)
    await services.groups_at_end()
    try:
        for name in names or ALL_SERVICES:
            services.start(name)
        yield services
    finally:
        services.stop_all()
