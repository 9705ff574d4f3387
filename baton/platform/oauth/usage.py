"""Requests per client per day, for admins: counters in Redis (in process memory without
Redis). Losing them loses nothing that must survive, so they never touch PostgreSQL."""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

from flask import current_app
from redis import Redis
from redis.exceptions import RedisError

KEEP_DAYS = 35
_memory: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
_lock = threading.Lock()


def _key(client_pk: str, day: date) -> str:
    return f"baton:oauth-usage:{client_pk}:{day.isoformat()}"


def count_request(client_pk: str, *, throttled: bool = False) -> None:
    """Count one request of a client today (and whether it was refused with 429)."""
    key = _key(client_pk, datetime.now(UTC).date())
    fields = ["requests", *(["throttled"] if throttled else [])]
    redis = _redis()
    if redis is None:
        with _lock:
            for name in fields:
                _memory[key][name] += 1
        return
    try:
        pipe = redis.pipeline(transaction=False)
        for name in fields:
            pipe.hincrby(key, name, 1)
        pipe.expire(key, KEEP_DAYS * 86400)
        pipe.execute()
    except RedisError:
        current_app.logger.warning("usage counter for client %s not recorded", client_pk)


def daily_usage(client_pk, days: int = 14) -> list[dict]:
    """The last ``days`` days, newest first: ``{"day", "requests", "throttled"}``."""
    today = datetime.now(UTC).date()
    wanted = [today - timedelta(days=n) for n in range(days)]
    counts = _read([_key(str(client_pk), day) for day in wanted])
    return [
        {
            "day": day,
            "requests": int(count.get("requests", 0)),
            "throttled": int(count.get("throttled", 0)),
        }
        for day, count in zip(wanted, counts, strict=True)
    ]


def _read(keys: list[str]) -> list[dict]:
    redis = _redis()
    if redis is None:
        with _lock:
            return [dict(_memory.get(key, {})) for key in keys]
    try:
        pipe = redis.pipeline(transaction=False)
        for key in keys:
            pipe.hgetall(key)
        return [{k.decode(): v for k, v in row.items()} for row in pipe.execute()]
    except RedisError:
        return [{} for _ in keys]


def _redis():
    cache = current_app.extensions.setdefault("baton_usage_redis", {})
    if "conn" not in cache:
        url = current_app.config.get("REDIS_URL")
        cache["conn"] = Redis.from_url(url) if url else None
    return cache["conn"]
