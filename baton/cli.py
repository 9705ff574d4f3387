"""The ``baton`` command: Flask's CLI (run, db, shell) plus provisioning commands."""

from __future__ import annotations

import click
from flask.cli import FlaskGroup

from baton.platform.app import create_app
from baton.platform.commands import register
from baton.workers.commands import register as register_worker_commands


@click.group(cls=FlaskGroup, create_app=lambda: create_app())
def main() -> None:
    """Baton: closed-loop school mental-health referrals."""


register(main)
register_worker_commands(main)
