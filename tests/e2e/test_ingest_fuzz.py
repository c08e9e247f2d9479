"""schemathesis against the running ingest service and the real servers: over a thousand
generated requests (valid and invalid) from the committed OpenAPI document; no answer is a
5xx, and every 4xx is RFC 9457 problem+json."""

import asyncio
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode

from tests.support.processes import Services
from tests.support.stack import unique

OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "openapi" / "ingest.json"
EXAMPLES_PER_OPERATION = 700
schema = schemathesis.openapi.from_path(OPENAPI)
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], deterministic=True)
STATUSES: Counter[int] = Counter()
pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def ingest() -> Iterator[tuple[str, str]]:
    services = Services.isolated()
    asyncio.run(services.groups_at_end())
    services.env["NEWSFLOW_RATE_LIMIT_PER_SECOND"] = "100000"
    try:
        services.start("ingest")
        yield services.url("ingest"), services.create_key(unique("fuzz-cms"))
    finally:
        services.stop_all()


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck))
def test_generated_requests_get_no_5xx_and_every_4xx_is_problem_json(case, ingest) -> None:  # type: ignore[no-untyped-def]
    url, key = ingest
    response = case.call(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=15)
    STATUSES[response.status_code] += 1
    failure = f"{response.status_code}: {response.text[:300]}\n{case.as_curl_command()}"
    assert response.status_code < 500, failure
    if response.status_code >= 400:
        content_type = response.headers.get("content-type", [""])
        assert content_type == ["application/problem+json"], case.as_curl_command()
        problem = response.json()
        assert problem["status"] == response.status_code and problem["title"] and problem["type"]


def test_the_fuzzing_made_over_a_thousand_requests() -> None:
    print(f"\nschemathesis: {sum(STATUSES.values())} requests, statuses {dict(sorted(STATUSES.items()))}")
    assert sum(STATUSES.values()) >= 1000
    assert STATUSES[202] > 0 and sum(n for s, n in STATUSES.items() if 400 <= s < 500) > 0
