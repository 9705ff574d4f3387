"""A small, real FHIR R4 server on loopback (HTTPS), standing in for a provider's EHR.

It does what Baton's push needs from a real one, strictly: a SMART token endpoint that
checks Baton's signed assertion against Baton's published JWKS (RS384, kid, aud, exp within
five minutes, single-use jti); transaction Bundles with conditional creates (``ifNoneExist``)
whose ``urn:uuid`` references must resolve; Task read, search (``requester``,
``_lastUpdated``, paging) and versioned PUT (``If-Match``, 412/428). Every resource it
receives is validated as R4 (fhir.resources R4B, and every Baton code checked): an invalid
one is refused with 400, like a strict server would. It can be stopped and started again on
the same port, keeping its data, to test retries. Also: an HTTPS rest-hook receiver.
"""

from __future__ import annotations

import copy
import datetime as dt
import ipaddress
import secrets
import ssl
import threading
import time
import uuid
from pathlib import Path

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from flask import Flask, jsonify, request
from joserfc import jwt
from joserfc.jwk import KeySet
from werkzeug.serving import make_server

from tests.fhir_gateway.validation import assert_valid_fhir

FHIR_JSON = "application/fhir+json"


def make_tls(folder: Path) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 (and its key), written to ``folder``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


class LoopbackHttps:
    """A WSGI app served over HTTPS on 127.0.0.1, stoppable and restartable on its port."""

    def __init__(self, app: Flask, tls: tuple[str, str]):
        self.app, self.tls, self.port = app, tls, 0
        self._server = None
        self.start()

    def start(self) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*self.tls)
        self._server = make_server(
            "127.0.0.1", self.port, self.app, threaded=True, ssl_context=context
        )
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=10)
            self._server = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"


def _outcome(status: int, message: str):
    body = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "invalid", "diagnostics": message}],
    }
    response = jsonify(body)
    response.status_code = status
    response.mimetype = FHIR_JSON
    return response


def _fhir(body, status: int = 200, etag: str | None = None):
    response = jsonify(body)
    response.status_code, response.mimetype = status, FHIR_JSON
    if etag:
        response.headers["ETag"] = f'W/"{etag}"'
    return response


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class FakeEhr:
    """The EHR: a store of resources by type and id, the current version of each."""

    def __init__(self, tls, *, client_id: str, jwks_url: str):
        self.client_id, self.jwks_url = client_id, jwks_url
        self.store: dict[str, dict[str, dict]] = {}
        self.tokens: set[str] = set()
        self.used_jti: set[str] = set()
        self.log: list[tuple[str, str, int]] = []  # (method, path, status)
        self.if_matches: list[str] = []
        self.rejected: list[str] = []
        self.lock = threading.Lock()
        self.server = LoopbackHttps(self._app(), tls)

    @property
    def base(self) -> str:
        return f"{self.server.url}/fhir"

    def all(self, resource_type: str) -> list[dict]:
        return list(self.store.get(resource_type, {}).values())

    def edit_task(self, task_id: str, change) -> dict:
        """A change made by the EHR's own users: a new version of the Task."""
        with self.lock:
            task = copy.deepcopy(self.store["Task"][task_id])
            change(task)
            self._version(task, int(task["meta"]["versionId"]) + 1)
            self.store["Task"][task_id] = task
            return task

    # ------------------------------------------------------------------ the app

    def _app(self) -> Flask:
        app = Flask("fake-ehr")

        @app.after_request
        def log(response):
            self.log.append((request.method, request.path, response.status_code))
            return response

        @app.before_request
        def authenticate():
            public = ("/fhir/.well-known/smart-configuration", "/fhir/token")
            if request.path in public:
                return None
            token = request.headers.get("Authorization", "").removeprefix("Bearer ")
            if token not in self.tokens:
                return _outcome(401, "no valid bearer token")
            return None

        app.add_url_rule("/fhir/.well-known/smart-configuration", view_func=self._smart)
        app.add_url_rule("/fhir/token", view_func=self._token, methods=["POST"])
        app.add_url_rule("/fhir", view_func=self._transaction, methods=["POST"])
        app.add_url_rule("/fhir/Task", view_func=self._search_tasks)
        app.add_url_rule("/fhir/<rtype>/<rid>", view_func=self._read)
        app.add_url_rule("/fhir/Task/<rid>", view_func=self._put_task, methods=["PUT"])
        return app

    def _smart(self):
        return jsonify(
            {
                "token_endpoint": f"{self.base}/token",
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
                "token_endpoint_auth_signing_alg_values_supported": ["RS384"],
            }
        )

    def _token(self):
        form = request.form
        if form.get("grant_type") != "client_credentials":
            return jsonify(error="unsupported_grant_type"), 400
        try:
            self._check_assertion(form.get("client_assertion", ""))
        except (ValueError, KeyError) as exc:
            return jsonify(error="invalid_client", error_description=str(exc)), 401
        token = secrets.token_urlsafe(24)
        self.tokens.add(token)
        return jsonify(
            access_token=token, token_type="bearer", expires_in=300, scope=form.get("scope", "")
        )

    def _check_assertion(self, assertion: str) -> None:
        keys = KeySet.import_key_set(requests.get(self.jwks_url, timeout=5).json())
        token = jwt.decode(assertion, keys, algorithms=["RS384"])
        if token.header.get("alg") != "RS384" or not token.header.get("kid"):
            raise ValueError("RS384 with a kid, please")
        claims = token.claims
        if claims.get("iss") != self.client_id or claims.get("sub") != self.client_id:
            raise ValueError("iss and sub must be the registered client id")
        if claims.get("aud") not in (f"{self.base}/token", [f"{self.base}/token"]):
            raise ValueError("aud must be this token endpoint")
        if not time.time() < claims["exp"] <= time.time() + 310:
            raise ValueError("exp must be within five minutes")
        if claims.get("jti") in self.used_jti or not claims.get("jti"):
            raise ValueError("jti reused")
        self.used_jti.add(claims["jti"])

    def _valid(self, resource: dict) -> str | None:
        try:
            assert_valid_fhir(resource)
        except Exception as exc:  # noqa: BLE001 - every reason is a refusal
            self.rejected.append(str(exc)[:300])
            return str(exc)[:300]
        return None

    def _version(self, resource: dict, version: int) -> None:
        resource.setdefault("meta", {})
        resource["meta"]["versionId"] = str(version)
        resource["meta"]["lastUpdated"] = _now()
        time.sleep(0.002)  # distinct lastUpdated per version

    def _find(self, store, rtype: str, query: str) -> dict | None:
        name, _, value = query.partition("=")
        system, _, code = value.rpartition("|")
        if name != "identifier":
            return None
        for resource in store.get(rtype, {}).values():
            for ident in resource.get("identifier", []):
                if ident.get("system") == system and ident.get("value") == code:
                    return resource
        return None

    def _transaction(self):
        bundle = request.get_json(force=True, silent=True) or {}
        problem = self._valid(bundle)
        if problem or bundle.get("type") != "transaction":
            return _outcome(400, problem or "send a transaction Bundle")
        with self.lock:
            store = copy.deepcopy(self.store)
            resolved, results = {}, []
            for entry in bundle["entry"]:
                rtype = entry["request"]["url"]
                found = self._find(store, rtype, entry["request"].get("ifNoneExist", ""))
                if found is None:
                    found = {**entry["resource"], "id": uuid.uuid4().hex[:16]}
                    self._version(found, 1)
                    store.setdefault(rtype, {})[found["id"]] = found
                    status = "201 Created"
                else:
                    status = "200 OK"
                resolved[entry["fullUrl"]] = f"{rtype}/{found['id']}"
                results.append((found, status))
            for found, status in results:
                if status.startswith("201"):
                    problem = self._resolve(found, resolved, store)
                    if problem:
                        return _outcome(400, problem)
            self.store = store
        entries = [
            {
                "response": {
                    "status": status,
                    "location": f"{r['resourceType']}/{r['id']}/_history/{r['meta']['versionId']}",
                    "etag": f'W/"{r["meta"]["versionId"]}"',
                }
            }
            for r, status in results
        ]
        return _fhir({"resourceType": "Bundle", "type": "transaction-response", "entry": entries})

    def _resolve(self, node, resolved: dict, store) -> str | None:
        """Rewrite urn:uuid references; every reference must name a stored resource."""
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "reference" and isinstance(value, str):
                    node[key] = resolved.get(value, value)
                    rtype, _, rid = node[key].partition("/")
                    if rid not in store.get(rtype, {}):
                        return f"reference {value} does not resolve"
                elif (problem := self._resolve(value, resolved, store)) is not None:
                    return problem
        elif isinstance(node, list):
            for item in node:
                if (problem := self._resolve(item, resolved, store)) is not None:
                    return problem
        return None

    def _read(self, rtype, rid):
        resource = self.store.get(rtype, {}).get(rid)
        if resource is None:
            return _outcome(404, f"no {rtype}/{rid}")
        return _fhir(resource, etag=resource["meta"]["versionId"])

    def _put_task(self, rid):
        current = self.store.get("Task", {}).get(rid)
        if current is None:
            return _outcome(404, f"no Task/{rid}")
        if_match = request.headers.get("If-Match")
        if not if_match:
            return _outcome(428, "If-Match required")
        self.if_matches.append(if_match)
        body = request.get_json(force=True, silent=True) or {}
        problem = self._valid(body) if body.get("resourceType") == "Task" else "not a Task"
        if problem or body.get("id") != rid:
            return _outcome(400, problem or "id mismatch")
        with self.lock:
            current = self.store["Task"][rid]
            if if_match.removeprefix("W/").strip('"') != current["meta"]["versionId"]:
                return _outcome(412, "stale If-Match")
            self._version(body, int(current["meta"]["versionId"]) + 1)
            self.store["Task"][rid] = body
        return _fhir(body, etag=body["meta"]["versionId"])

    def _search_tasks(self):
        args = request.args
        wanted = set(args.get("requester", "").split(",")) - {""}
        since = args.get("_lastUpdated", "").removeprefix("gt")
        tasks = [
            t
            for t in self.all("Task")
            if (not wanted or t.get("requester", {}).get("reference") in wanted)
            and (not since or t["meta"]["lastUpdated"] > since)
        ]
        tasks.sort(key=lambda t: t["meta"]["lastUpdated"])
        count, offset = int(args.get("_count", 100)), int(args.get("_offset", 0))
        page = tasks[offset : offset + count]
        links = []
        if offset + count < len(tasks):
            params = {**args.to_dict(), "_offset": str(offset + count)}
            query = "&".join(f"{k}={v}" for k, v in params.items())
            links.append({"relation": "next", "url": f"{self.base}/Task?{query}"})
        return _fhir(
            {
                "resourceType": "Bundle",
                "type": "searchset",
                "meta": {"lastUpdated": _now()},
                "link": links,
                "entry": [{"fullUrl": f"{self.base}/Task/{t['id']}", "resource": t} for t in page],
            }
        )


class Receiver:
    """An HTTPS rest-hook endpoint: records what it is sent, answers ``status``."""

    def __init__(self, tls):
        self.received: list[tuple[dict, dict]] = []  # (headers, bundle)
        self.status = 200
        app = Flask("receiver")

        @app.post("/hook")
        def hook():
            bundle = request.get_json(force=True)
            assert_valid_fhir(bundle)
            if self.status < 300:  # what it took; a refused delivery is not received
                self.received.append((dict(request.headers), bundle))
            return "", self.status

        self.server = LoopbackHttps(app, tls)

    @property
    def url(self) -> str:
        return f"{self.server.url}/hook"

    def of_type(self, kind: str) -> list[dict]:
        return [b for _, b in self.received if _status_type(b) == kind]


def _status_type(bundle: dict) -> str | None:
    status = bundle["entry"][0]["resource"]
    return next((p["valueCode"] for p in status["parameter"] if p["name"] == "type"), None)
