import pytest

pytestmark = pytest.mark.usefixtures("live_stack")


@pytest.fixture(autouse=True)
def _needs_live_stack(live_stack: None) -> None:
    """Every test in this tier talks to the real local Kafka, FerretDB and Redis."""
