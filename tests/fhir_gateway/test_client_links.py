"""Baton's bearer token for an EHR goes only to that EHR's FHIR base: a ``next`` link the EHR
returns that points anywhere else is refused before any request (or token) is made."""

from __future__ import annotations

import pytest

from baton.fhir_gateway.client import FhirClient, RemoteRejected

BASE = "https://127.0.0.1:8443/fhir"


@pytest.mark.parametrize(
    "link",
    [
        "https://127.0.0.2:8443/fhir/Task?page=2",  # another host
        "https://127.0.0.1:9443/fhir/Task?page=2",  # another port
        "http://127.0.0.1:8443/fhir/Task?page=2",  # downgraded to plain HTTP
        "https://127.0.0.1:8443/fhirx/Task",  # a sibling path, not under the base
        "https://127.0.0.1:8443/other/Task",
    ],
)
def test_a_link_outside_the_base_is_refused_without_a_request(link):
    client = FhirClient(BASE, "baton-client", "system/Task.rs")
    with pytest.raises(RemoteRejected, match="outside its FHIR base"):
        client.request("GET", link)  # no app context: reaching the token step would fail
    assert not RemoteRejected.transient


@pytest.mark.parametrize(
    "link",
    ["https://127.0.0.1:8443/fhir/Task?page=2", "https://127.0.0.1:8443/fhir", BASE + "/"],
)
def test_links_under_the_base_are_followed(link):
    assert FhirClient(BASE, "baton-client", "system/Task.rs")._under_base(link)
