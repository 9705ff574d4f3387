"""``baton worker``, ``baton cron``, ``baton sweep``, ``baton health`` and ``baton serve``."""

from __future__ import annotations

import os
import socket
import threading
import time

import click
from flask import current_app
from flask.cli import with_appcontext

from baton.workers.queues import ALL, redis_connection

HEARTBEAT_SECONDS = 120


def _redis():
    connection = redis_connection()
    if connection is None:
        raise click.UsageError(
            "REDIS_URL is not set. Without Redis, jobs run inside the web process (baton serve)."
        )
    return connection


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.argument("queues", nargs=-1)
@with_appcontext
def worker(burst, queues):
    """Run an RQ worker on the named queues (default: all of them)."""
    from rq import Worker

    unknown = set(queues) - set(ALL)
    if unknown:
        raise click.UsageError(
            f"unknown queue(s) {', '.join(sorted(unknown))}; queues: {', '.join(ALL)}"
        )
    # A short TTL makes idle workers heartbeat often enough for the health probe.
    Worker(list(queues or ALL), connection=_redis(), worker_ttl=60).work(
        burst=burst, with_scheduler=True
    )


@click.command("cron")
@with_appcontext
def cron():
    """Run the schedule (one active instance; a second one only duplicates harmless sweeps)."""
    from rq.cron import CronScheduler

    from baton.workers.schedule import register_all

    scheduler = CronScheduler(connection=_redis())
    register_all(scheduler)
    scheduler.start()


@click.command("sweep")
@with_appcontext
def sweep():
    """Run the clock sweep once, now (with Redis it only enqueues the per-referral jobs)."""
    from baton.workers.jobs.clocks import sweep_due_referrals

    click.echo(f"{sweep_due_referrals()} referral(s) due")


@click.command("health")
@click.argument("role", type=click.Choice(["worker", "cron"]))
@with_appcontext
def health(role):
    """Exit 0 when a live worker (or cron scheduler) has sent a heartbeat recently."""
    from rq import Worker
    from rq import cron_scheduler_registry as registry

    connection = _redis()
    now = time.time()
    if role == "worker":
        # This host's workers only: a pod's probe must not pass on another pod's heartbeat.
        beats = [
            w.last_heartbeat.timestamp()
            for w in Worker.all(connection=connection)
            if w.last_heartbeat and w.hostname == socket.gethostname()
        ]
    else:
        beats = [
            score
            for _, score in connection.zrange(registry.get_registry_key(), 0, -1, withscores=True)
        ]
    if not any(now - beat < HEARTBEAT_SECONDS for beat in beats):
        raise click.ClickException(f"no live {role}")
    click.echo(f"{role}: ok")


@click.command("serve")
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
@with_appcontext
def serve(host, port):
    """The embedded default: the web app, with the schedule run in-process when no Redis."""
    from baton.workers.schedule import SCHEDULE

    app = current_app._get_current_object()
    if redis_connection() is None:
        for func, _queue, interval in SCHEDULE:
            threading.Thread(target=_every, args=(app, func, interval), daemon=True).start()
        click.echo("No REDIS_URL: the schedule runs inside this process.")
    # The flask CLI marks itself so that app.run() becomes a no-op; this command means it.
    os.environ.pop("FLASK_RUN_FROM_CLI", None)
    app.run(host=host, port=port, debug=False, use_reloader=False)


def _every(app, func, interval: int) -> None:
    while True:
        try:
            with app.app_context():
                func()
        except Exception:  # keep the loop alive; the error is in the log
            app.logger.exception("scheduled job %s failed", func.__name__)
        time.sleep(interval)


def register(group: click.Group) -> None:
    for command in (worker, cron, sweep, health, serve):
        group.add_command(command)
