"""A short-lived cache of aggregate figures (rollup sums, suppressed county tables), keyed on
the rollups' version so that a rollup run that changed anything invalidates every entry.

Only aggregates go in (never a student or a referral), each under a key naming its district
or county explicitly, so one scope's figures can never answer another's. On Redis when
``REDIS_URL`` is set (shared by every web process, ``TTL_SECONDS`` at most); without it, a
small per-process LRU (the embedded default). Redis failing is never an error: the figures
are computed directly and Redis is left alone for ``RETRY_SECONDS``.

The version is the ``figures`` row of ``rollup_watermarks``: every rollup service that
changes a rollup row gives it a new random id in the same transaction (see
``baton.platform.services.rollups.mark_changed``). A reader reads the version (once per
transaction) before the figures, so an entry can at worst hold figures newer than its key,
never older. When several processes miss the same entry at once (the first requests after a
rollup run), one computes it and the others wait for it briefly instead of computing it too.
"""

from __future__ import annotations

import hashlib
import hmac
import pickle  # noqa: S403 - values are signed below; only this module's own writes load
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

from flask import current_app
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import select

from baton.platform.extensions import db
from baton.platform.models import RollupWatermark
from baton.platform.services.rollups import VERSION, VERSION_SEEN

T = TypeVar("T")

TTL_SECONDS = 600
LOCAL_ENTRIES = 256
RETRY_SECONDS = 10.0
LOCK, LOCK_SECONDS = ":computing", 5.0  # one process computes a missing entry ...
WAIT_SECONDS, POLL_SECONDS = 2.0, 0.01  # ... the others wait for it this long at most
PREFIX = "baton:figures:1:"  # bump when the shape of a cached value changes

_local: OrderedDict[str, tuple[float, bytes]] = OrderedDict()  # pickled: no shared objects
_lock = threading.Lock()


def rollup_version() -> str:
    """The rollups' current version (``-`` before any rollup run changed anything), read
    once per transaction. Not tenant data: one row of the rollup job's bookkeeping."""
    session = db.session()
    seen = session.info.get(VERSION_SEEN)
    if seen is not None and seen[0] is session.get_transaction():
        return seen[1]
    version = session.scalar(
        select(RollupWatermark.event_id).where(RollupWatermark.name == VERSION)
    )
    version = str(version or "-")
    session.info[VERSION_SEEN] = (session.get_transaction(), version)
    return version


def cached(scope: str, scope_id, parts: tuple, compute: Callable[[], T]) -> T:
    """``compute()``, or what it returned for the same ``scope`` (e.g. ``district``),
    ``scope_id`` (its tenant or county id), ``parts`` (month, breakdowns, threshold ...) at
    the same rollup version."""
    if scope_id is None:  # nothing to key on: never share
        return compute()
    key = key_of(scope, scope_id, parts, rollup_version())
    found = _get(key)
    if found is not None:
        return found
    claimed = _claim(key)
    if not claimed:  # another process is computing it: its figures, if they come soon
        found = _wait_for(key)
        if found is not None:
            return found
    try:
        value = compute()
        _put(key, value)
    finally:
        if claimed:
            _release(key)
    return value


def key_of(scope: str, scope_id, parts: tuple, version: str) -> str:
    return ":".join([PREFIX + scope, str(scope_id), *map(str, parts), version])


def clear_local() -> None:
    """Forget the per-process entries (tests)."""
    with _lock:
        _local.clear()


# ---------------------------------------------------------------- storage


def _get(key: str):
    redis = _redis()
    if redis is None:
        blob = _local_get(key) if _no_redis_configured() else None
        return pickle.loads(blob) if blob is not None else None  # noqa: S301 - our own bytes
    try:
        blob = redis.get(key)
    except RedisError:
        _redis_failed()
        return None
    return _loads(blob) if blob is not None else None


def _put(key: str, value) -> None:
    redis = _redis()
    if redis is None:
        if _no_redis_configured():
            _local_put(key, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
        return
    try:
        redis.set(key, _dumps(value), ex=TTL_SECONDS)
    except RedisError:
        _redis_failed()


def _claim(key: str) -> bool:
    """True unless another process holds the key's computing lock (no Redis: always)."""
    redis = _redis()
    if redis is None:
        return True
    try:
        return bool(redis.set(key + LOCK, b"1", nx=True, px=int(LOCK_SECONDS * 1000)))
    except RedisError:
        _redis_failed()
        return True


def _wait_for(key: str):
    """The value another process is computing, polled until its lock goes or WAIT_SECONDS."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        found = _get(key)
        redis = _redis()
        if found is not None or redis is None:
            return found
        try:
            if not redis.exists(key + LOCK):
                return _get(key)
        except RedisError:
            _redis_failed()
            return None
    return None


def _release(key: str) -> None:
    redis = _redis()
    if redis is None:
        return
    try:
        redis.delete(key + LOCK)
    except RedisError:
        _redis_failed()


def _local_get(key: str) -> bytes | None:
    with _lock:
        entry = _local.get(key)
        if entry is None:
            return None
        expires, value = entry
        if expires < time.monotonic():
            del _local[key]
            return None
        _local.move_to_end(key)
        return value


def _local_put(key: str, value: bytes) -> None:
    with _lock:
        _local[key] = (time.monotonic() + TTL_SECONDS, value)
        _local.move_to_end(key)
        while len(_local) > LOCAL_ENTRIES:
            _local.popitem(last=False)


def _no_redis_configured() -> bool:
    return not current_app.config.get("REDIS_URL")


def _redis() -> Redis | None:
    """The app's cache connection, or None (no REDIS_URL, or Redis failed a moment ago)."""
    state = current_app.extensions.setdefault("baton_figures_cache", {})
    if "conn" not in state:
        url = current_app.config.get("REDIS_URL")
        # Short timeouts: a cache that is slow to answer is worse than none.
        state["conn"] = (
            Redis.from_url(url, socket_timeout=0.25, socket_connect_timeout=0.25) if url else None
        )
        state["down_until"] = 0.0
    if state["conn"] is None or state["down_until"] > time.monotonic():
        return None
    return state["conn"]


def _redis_failed() -> None:
    current_app.logger.warning("figures cache: Redis unavailable, computing figures directly")
    state = current_app.extensions["baton_figures_cache"]
    state["down_until"] = time.monotonic() + RETRY_SECONDS


def _signing_key() -> bytes:
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(secret, b"baton figures cache", hashlib.sha256).digest()


def _dumps(value) -> bytes:
    payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return hmac.new(_signing_key(), payload, hashlib.sha256).digest() + payload


def _loads(blob: bytes):
    """The value, if this deployment signed it (anything else is a miss, never loaded)."""
    mac, payload = blob[:32], blob[32:]
    if not hmac.compare_digest(mac, hmac.new(_signing_key(), payload, hashlib.sha256).digest()):
        return None
    try:
        return pickle.loads(payload)  # noqa: S301 - signed by this deployment's key (above)
    except Exception:  # written by another release of the code: a miss
        return None
