from __future__ import annotations

import pytest

from tests.conftest import csrf_token


class ApiClient:
    """A signed-in test client that sends the session's CSRF token on unsafe methods."""

    def __init__(self, client):
        self.client = client
        self.token = csrf_token(client.get("/login").text)

    def get(self, url, **kw):
        return self.client.get(url, **kw)

    def post(self, url, json=None, headers=None, **kw):
        headers = {"X-CSRFToken": self.token, **(headers or {})}
        return self.client.post(url, json=json, headers=headers, **kw)


@pytest.fixture
def api_as(login_as):
    return lambda email: ApiClient(login_as(email))
