"""The fault-injection suite reuses the integration fixtures (broker, settings, worker processes)."""

from tests.integration.conftest import broker, settings, workers  # noqa: F401
