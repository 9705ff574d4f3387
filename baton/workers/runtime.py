"""How a job runs: in an app context, inside one scope, committing once or rolling back."""

from __future__ import annotations

import functools
import os

from flask import Flask, current_app, has_app_context

_app: Flask | None = None
_forked = False


def _after_fork_in_child() -> None:
    global _forked
    _forked = True


# RQ forks a work horse per job: pooled connections must not be shared with the parent.
os.register_at_fork(after_in_child=_after_fork_in_child)


def job_app() -> Flask:
    """The app jobs run in: the current one, or one built once per worker process."""
    global _app
    if has_app_context():
        return current_app._get_current_object()
    if _app is None:
        from baton.platform.app import create_app

        _app = create_app()
    return _app


def job(func):
    """Run ``func`` as a unit of work: app context, commit on success, rollback on error.

    The job enters its own scope (system_scope or job_scope) from its arguments."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from baton.platform.extensions import db

        global _forked
        app = job_app()
        with app.app_context():
            if _forked:
                db.engine.dispose(close=False)  # the parent's connections stay the parent's
                _forked = False
            try:
                result = func(*args, **kwargs)
                db.session.commit()
                return result
            except BaseException:
                db.session.rollback()
                raise

    return wrapper
