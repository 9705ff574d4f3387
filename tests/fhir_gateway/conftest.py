"""FHIR gateway fixtures: the app on a loopback port, EHR clients registered for providers
pa and pb and a district client for A, each with a real token from the token service."""

from __future__ import annotations

import copy

import pytest
import requests

from tests.fhir_gateway.validation import assert_valid_fhir
from tests.oauth_support import ALL_EHR_SCOPES, fetch_token, register_client

FHIR_JSON = "application/fhir+json"
BASE = "https://fhir.baton.example"


class Fhir:
    """A requests session against /fhir with one bearer token. Every FHIR body the server
    sends back (resources, Bundles, OperationOutcomes) is checked as valid R4 on arrival."""

    def __init__(self, server, token: str | None):
        self.base = f"{server.url}/fhir"
        self.session = requests.Session()
        self.session.headers["Accept"] = FHIR_JSON
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    @staticmethod
    def _checked(response):
        if response.headers.get("Content-Type", "").startswith(FHIR_JSON):
            assert_valid_fhir(response.json())
        return response

    def get(self, path: str, **kw):
        return self._checked(self.session.get(self.base + path, timeout=15, **kw))

    def put(self, path: str, body, etag: str | None = None, headers=None, **kw):
        headers = {"Content-Type": FHIR_JSON, **(headers or {})}
        if etag:
            headers["If-Match"] = etag
        data = body if isinstance(body, str | bytes) else None
        json_body = None if data is not None else body
        return self._checked(
            self.session.put(
                self.base + path, data=data, json=json_body, headers=headers, timeout=15, **kw
            )
        )

    def post(self, path: str, body, headers=None, **kw):
        headers = {"Content-Type": FHIR_JSON, **(headers or {})}
        return self._checked(
            self.session.post(self.base + path, json=body, headers=headers, timeout=15, **kw)
        )

    def move(self, referral_id, business: str, *, status=None, reason=None, outputs=None):
        """GET the Task, set status/businessStatus (and statusReason, output), PUT it back
        with its ETag, as an EHR does. Returns the PUT's response."""
        read = self.get(f"/Task/{referral_id}")
        assert read.status_code == 200, read.text
        body = set_status(read.json(), business, status=status, reason=reason, outputs=outputs)
        return self.put(f"/Task/{referral_id}", body, read.headers["ETag"])

    def close(self):
        self.session.close()


def client_for(live_server, *, scope=None, **registration) -> Fhir:
    client = register_client(live_server.app, **registration)
    token = fetch_token(live_server, client, scope=scope)["access_token"]
    return Fhir(live_server, token)


@pytest.fixture
def fhir_as(live_server):
    """fhir_as(provider_id=… | tenant_id=…, scope=…) -> Fhir with a fresh client's token."""
    made = []

    def make(scope=None, scopes=ALL_EHR_SCOPES, name="EHR", **principal):
        session = client_for(live_server, scope=scope, scopes=scopes, name=name, **principal)
        made.append(session)
        return session

    yield make
    for session in made:
        session.close()


@pytest.fixture
def ehr(fhir_as, world):
    """Provider pa's EHR (partner of district A), every EHR scope."""
    return fhir_as(provider_id=world.pa.id)


TASK_STATUS_OF = {
    "received": "requested",
    "accepted": "accepted",
    "declined": "rejected",
    "redirected": "rejected",
    "scheduled": "in-progress",
    "first-appointment-attended": "in-progress",
    "no-show": "in-progress",
    "engaged": "in-progress",
    "disengaged": "on-hold",
    "closed-completed": "completed",
    "closed-family-declined": "failed",
    "closed-unable-to-reach": "failed",
    "withdrawn": "cancelled",
    "closed-alternative-plan": "cancelled",
}


def business_status(code: str) -> dict:
    return {"coding": [{"system": f"{BASE}/CodeSystem/referral-business-status", "code": code}]}


def output(kind: str, **value) -> dict:
    return {
        "type": {"coding": [{"system": f"{BASE}/CodeSystem/task-output-type", "code": kind}]},
        **value,
    }


def set_status(task: dict, business: str | None, *, status=None, reason=None, outputs=None):
    body = copy.deepcopy(task)
    body["status"] = status or TASK_STATUS_OF.get(business, body["status"])
    if business:
        body["businessStatus"] = business_status(business)
    else:
        body.pop("businessStatus", None)
    if reason is not None:
        body["statusReason"] = reason
    if outputs is not None:
        body["output"] = outputs
    return body


def decline_reason(code: str) -> dict:
    return {
        "coding": [{"system": f"{BASE}/CodeSystem/decline-reason", "code": code}],
        "text": code.replace("-", " "),
    }


def make_referral(
    app,
    world,
    key: str = "a",
    share=("referral-reason", "contact-details", "status-feedback"),
    student=1,
):
    """A sent referral from district ``key`` to its partner provider, for the student number
    ``student``, whose family consented to ``share``; through the services, as staff would."""
    from sqlalchemy import select

    from baton.platform.extensions import db
    from baton.platform.models import Caregiver
    from baton.platform.services import consent, referrals
    from baton.tenants.context import acting_as
    from tests.factories import make_concern, principal_of

    provider = world.pa if key == "a" else world.pb
    student_id = getattr(world, f"students_{key}")[student].id
    with app.app_context(), acting_as(principal_of(f"navigator@{key}.test")):
        caregiver = db.session.scalars(
            select(Caregiver.id).where(Caregiver.student_id == student_id)
        ).first()
        record = consent.record_consent(
            student_id,
            provider_id=provider.id,
            consenter="caregiver",
            caregiver_id=caregiver,
            method="signed",
            share_classes=list(share),
        )
        referral = referrals.create_referral(
            student_id=student_id,
            concern_id=make_concern(student_id, daily_functioning=True).id,
            provider_id=provider.id,
        )
        ids = (referral.id, record.id, student_id)
        db.session.commit()
    return ids


# ---------------------------------------------------------------- foreign code maps

BSER = "http://hl7.org/fhir/us/bser/CodeSystem/TaskBusinessStatusCS"
EHR_REASONS = "urn:oid:1.2.3.4.5.reasons"
PA_MAP = f"""# Provider Alpha's EHR
{BSER}|5.1.2 = received
{BSER}|5.2 = declined
{EHR_REASONS}|CAP = no-capacity
"""


def set_map(app, provider_slug: str, lines: str):
    """``baton set-fhir-code-map --provider SLUG --file -`` with ``lines`` on its input."""
    from click.testing import CliRunner

    from baton.platform.commands import set_fhir_code_map

    with app.app_context():
        result = CliRunner().invoke(
            set_fhir_code_map, ["--provider", provider_slug, "--file", "-"], input=lines
        )
    return result


# ---------------------------------------------------------------- push and subscriptions

BATON_CLIENT_AT_EHR = "baton-at-provider-ehr"


@pytest.fixture(scope="session")
def tls(tmp_path_factory):
    """A self-signed loopback certificate; Baton trusts it through FHIR_CA_BUNDLE."""
    from tests.fhir_gateway.ehr_server import make_tls

    return make_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def push_ready(app, live_server, tls):
    """The apps (the suite's and the served one) trust the test CA and share one client key."""
    import json

    from joserfc.jwk import RSAKey

    key = json.dumps(RSAKey.generate_key(2048).as_dict(private=True))
    for each in (app, live_server.app):
        each.config.update(FHIR_CA_BUNDLE=tls[0], FHIR_CLIENT_KEY=key)
        each.extensions.pop("baton_fhir_client_key", None)
    return live_server


@pytest.fixture(scope="session")
def _remote_ehr(push_ready, tls):
    from tests.fhir_gateway.ehr_server import FakeEhr

    ehr = FakeEhr(
        tls,
        client_id=BATON_CLIENT_AT_EHR,
        jwks_url=f"{push_ready.url}/fhir/.well-known/client-jwks.json",
    )
    yield ehr
    ehr.server.stop()


@pytest.fixture
def remote_ehr(_remote_ehr):
    """The provider's EHR (a real FHIR server on loopback), empty, up."""
    from baton.fhir_gateway import client

    if _remote_ehr.server._server is None:
        _remote_ehr.server.start()
    _remote_ehr.store.clear()
    _remote_ehr.log.clear()
    _remote_ehr.if_matches.clear()
    _remote_ehr.rejected.clear()
    client._tokens.clear()
    yield _remote_ehr
    assert _remote_ehr.rejected == [], "the EHR refused something Baton sent"


@pytest.fixture(scope="session")
def _receiver(push_ready, tls):
    from tests.fhir_gateway.ehr_server import Receiver

    receiver = Receiver(tls)
    yield receiver
    receiver.server.stop()


@pytest.fixture
def receiver(_receiver):
    """An HTTPS rest-hook endpoint on loopback that records what it is sent."""
    _receiver.received.clear()
    _receiver.status = 200
    return _receiver


def run_fhir_jobs(live_server, at=None) -> None:
    """What cron and a worker do: the periodic job enqueues what is due on Redis, a real
    RQ worker (in this process, in the served app) drains the fhir queue."""
    from redis import Redis
    from rq import Queue, SimpleWorker
    from rq.registry import FailedJobRegistry

    from baton.platform.models.base import travel_to, utcnow
    from baton.workers.jobs import fhir as fhir_jobs
    from baton.workers.queues import FHIR
    from tests.conftest import REDIS_URL

    connection = Redis.from_url(REDIS_URL)
    queue = Queue(FHIR, connection=connection)
    with live_server.app.app_context(), travel_to(at or utcnow()):
        fhir_jobs.deliver_due_fhir()
        SimpleWorker([queue], connection=connection).work(burst=True)
    failed = FailedJobRegistry(queue=queue)
    jobs = [queue.fetch_job(job_id) for job_id in failed.get_job_ids()]
    for job in jobs:
        failed.remove(job, delete_job=True)
    assert not jobs, [job.latest_result().exc_string for job in jobs if job]
    connection.close()
