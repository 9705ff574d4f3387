"""Queue names, and putting work on them: RQ on Redis, or in-process with no Redis."""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app
from redis import Redis
from rq import Queue, Retry

ESCALATIONS = "escalations"
FHIR = "fhir"
ROLLUPS = "rollups"
DEFAULT = "default"
ALL = (ESCALATIONS, FHIR, ROLLUPS, DEFAULT)

# Exponential backoff for retried jobs (seconds): the work is idempotent, so retries are safe.
RETRY = Retry(max=5, interval=[10, 30, 90, 270, 810])


def redis_connection(url: str | None = None) -> Redis | None:
    url = url or current_app.config.get("REDIS_URL")
    return Redis.from_url(url) if url else None


def enqueue(queue_name: str, func: Callable, *args, **kwargs):
    """Put ``func(*args, **kwargs)`` on a queue. Arguments are ids and plain values, never
    ORM objects. Without Redis (the embedded default) the job runs here and now."""
    connection = redis_connection()
    if connection is None:
        return func(*args, **kwargs)
    return Queue(queue_name, connection=connection).enqueue(
        func, *args, retry=RETRY, job_timeout=300, **kwargs
    )
