"""WSGI entry point for gunicorn: ``gunicorn -c deploy/gunicorn.conf.py``."""

from baton.platform.app import create_app

app = create_app()
