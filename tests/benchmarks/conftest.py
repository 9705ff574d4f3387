"""Benchmarks run the app under gunicorn on a database of their own."""

import pytest


@pytest.fixture(autouse=True)
def _clean_database():
    """Overrides the suite's per-test truncation: no shared test database is needed here."""
    yield
