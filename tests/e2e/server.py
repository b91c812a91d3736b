#!/usr/bin/python3
"""server.py: a loopback HTTPS token endpoint that behaves as Entra ID does
for the client credentials grant with a certificate assertion.

It verifies each client assertion with python3-jwt and python3-cryptography
(never with entrakey's code) against the registered certificate(s): the
x5t#S256 / x5t header names the certificate, the signature must verify with
its public key, aud must be this endpoint, iss = sub = the client id, the
exp/nbf window must hold, and the certificate must be within its validity.
Answers are shaped like Entra's: success JSON (token_type, expires_in,
ext_expires_in, access_token) and error JSON (error, error_description
"AADSTS…: …\\r\\nTrace ID: …", error_codes, timestamp, trace_id,
correlation_id, error_uri).

Misbehaviour for tests comes from a control file (JSON, re-read on every
request): {"actions": ["throttle", "html503", ...], "retry_after": "1",
"hang": 30, "clock_offset": 0, "expires_in": 3599}; token request number i
(counted from the last GET /_reset) gets actions[i], or "normal" past the
end; "expires_in" is what successes say. Actions: normal, throttle (429 +
Retry-After), throttle503 (503 + Retry-After), html503 (503 text/html, no
Retry-After), timeout408 (408 text/plain: a front end that stopped
waiting for the body), json500, hang (sleep, then nothing), truncate
(Content-Length larger than the body, then close), huge (1 MiB with a
Content-Length), huge_noclen (1 MiB, no Content-Length, close-delimited).
Hostile answers (issue 15): token_esc, token_crlf, token_lf, token_nul
(\u0000), token_smartquote (U+2019, the PowerShell quote), token_space,
token_quote (an access_token carrying that), error_escapes (escape
sequences in error, error_description, trace_id, correlation_id),
error_jwt (a JWT in error_description), html_escapes (a 502 page whose
Content-Type and text carry escape sequences and a JWT).

Each token request's record holds "url" (https:// + the Host header +
the path: what the client posted to) and "aud" (the assertion's, not
verified), so a test can compare the two; an assertion whose aud is that
URL is accepted, whatever the host name (see connect_proxy.py). Every
token answer carries Entra ID's ids: the request's client-request-id
echoed (one made up when none came) and an x-ms-request-id; an error's
correlation_id and trace_id are those two. The record holds
"client_request_id" (what the client sent, or null), "correlation_id" and
"request_id" (what the server answered).

"clock_offset" moves the server's clock (its Date header and its
checks of exp, nbf and certificate validity) by that many seconds: what a
client whose clock is wrong sees.

--cert-glob PATTERN (repeatable) stands for the portal's upload: every
file it matches, read again at each token request, is a registered
certificate too (tests/docs: the .cer a guide's commands write).

Issued access tokens are JWT-shaped (an unsigned RS256 header, claims
aud = the scope without /.default, tid, appid, iat, nbf, exp, uti; a
random signature): clients that read claims (az reads tid) get them.

GET /subscriptions (Azure Resource Manager, reached through
connect_proxy.py as management.azure.com): the Bearer token must be one
this endpoint issued with ARM's audience (either of its names); answers
one subscription, else 401 in ARM's error shape (see arm_subscriptions).

GET /_stats: {"token_requests": N, "issued": [tokens], "requests": [...],
"arm_requests": [{"path", "status", "aud"}], "cut_short": N (POSTs whose
body ended before its Content-Length: not requests, never answered)}.
GET /_reset: zeroes the counters. GET /{tenant}/v2.0/.well-known/
openid-configuration: discovery, for MSAL; GET /{tenant}/.well-known/
openid-configuration: the v1 document (issuer with the tenant's GUID),
for az. The server exits by itself after
--lifetime seconds.
"""
import argparse
import base64
import glob
import datetime
import hashlib
import http.server
import io
import json
import os
import secrets
import socket
import ssl
import sys
import threading
import time
import urllib.parse
import uuid

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization

LOCK = threading.Lock()
STATE = {"token_requests": 0, "issued": [], "requests": [],
         "arm_requests": [], "cut_short": 0}
AUDIENCES = {}  # issued token -> its aud claim
ARM_AUDIENCES = ("https://management.azure.com",
                 "https://management.azure.com/",
                 "https://management.core.windows.net",
                 "https://management.core.windows.net/")
TEST_SUBSCRIPTION = "8e1f5a2c-3b4d-4e6f-9a0b-1c2d3e4f5a6b"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def load_cert(path):
    with open(path, "rb") as f:
        data = f.read()
    if b"-----BEGIN" in data:
        cert = x509.load_pem_x509_certificate(data)
    else:
        cert = x509.load_der_x509_certificate(data)
    der = cert.public_bytes(serialization.Encoding.DER)
    return {
        "path": path,
        "cert": cert,
        "x5t#S256": b64url(hashlib.sha256(der).digest()),
        "x5t": b64url(hashlib.sha1(der).digest()),
        "thumbprint": hashlib.sha1(der).hexdigest().upper(),
    }


def globbed_certs(opts):
    """The certificates --cert-glob finds now; a file that is not one
    (yet) is passed over."""
    found = []
    for pattern in opts.cert_glob:
        for path in sorted(glob.glob(pattern)):
            try:
                found.append(load_cert(path))
            except (OSError, ValueError):
                pass
    return found


def utcnow(offset=0):
    return (datetime.datetime.now(datetime.timezone.utc) +
            datetime.timedelta(seconds=offset))


def cert_dates(cert):
    try:
        return cert.not_valid_before_utc, cert.not_valid_after_utc
    except AttributeError:  # cryptography < 42
        return (cert.not_valid_before.replace(tzinfo=datetime.timezone.utc),
                cert.not_valid_after.replace(tzinfo=datetime.timezone.utc))


# ------------------------------------------------------------------ Graph
# Microsoft Graph's calls for key rotation (docs/rotation.md), kept in this
# block: GET /v1.0/applications(appId='C'), POST /v1.0/applications/{id}/
# addKey and removeKey. Each needs a bearer token this server issued for a
# Graph scope, and (addKey, removeKey) a proof of possession that
# python3-jwt verifies with a certificate registered on the app right now
# and within its validity: aud 00000002-0000-0000-c000-000000000000, iss =
# the app's object id (--app-object-id), nbf, exp at most 10 minutes after
# nbf. Refusals have Graph's shape {"error": {"code", "message",
# "innerError"}}. The registered certificates are the token endpoint's: a
# key added is honoured there "honour_delay" seconds (the control file's
# value at the time of the token request; 0: at once) after it was added,
# a key removed is refused (AADSTS700027).
# Control: "graph_actions": Graph request number i (from the last /_reset)
# gets graph_actions[i]: normal, forbidden (403), throttle (429 with
# "retry_after"), error500, hang (sleep "hang" s, then close; nothing done),
# hang_after (done, then sleep and close: the answer is lost).
# Stats: graph_requests, graph (one record per request: method, path,
# action, status, proof_header, proof_claims, proof_signer), app_keys
# (keyId, thumbprint, displayName of each registered certificate).
GRAPH_PROOF_AUD = "00000002-0000-0000-c000-000000000000"
GRAPH_TOKENS = set()
STATE.update({"graph_requests": 0, "graph": [], "app_keys": []})


def graph_reset():
    STATE["graph_requests"] = 0
    STATE["graph"] = []


def graph_init(srv):
    for c in srv.certs:
        c.setdefault("keyId", str(uuid.uuid4()))
    graph_sync(srv)


def graph_sync(srv):
    STATE["app_keys"] = [{"keyId": c["keyId"], "thumbprint": c["thumbprint"],
                          "displayName": c["cert"].subject.rfc4514_string()}
                         for c in srv.certs]


def graph_honoured(c, ctl):
    """Whether the token endpoint honours registered certificate c yet: an
    added one "honour_delay" seconds (as the control file says now) after
    it was added."""
    added = c.get("added_at")
    return added is None or added + float(ctl.get("honour_delay", 0)) <= \
        time.time()


def graph_note_token(token, scope):
    if scope and "graph" in scope:
        with LOCK:
            GRAPH_TOKENS.add(token)


def graph_key_json(c):
    nb, na = cert_dates(c["cert"])
    sha1 = bytes.fromhex(c["thumbprint"])
    return {"customKeyIdentifier": base64.b64encode(sha1).decode(),
            "displayName": c["cert"].subject.rfc4514_string(),
            "endDateTime": na.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "key": None, "keyId": c["keyId"],
            "startDateTime": nb.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "type": "AsymmetricX509Cert", "usage": "Verify"}


class GraphMixin:
    def graph_error(self, status, code, message, headers=None):
        self.send_json(status, {"error": {
            "code": code, "message": message,
            "innerError": {"date": utcnow().strftime("%Y-%m-%dT%H:%M:%S"),
                           "request-id": str(uuid.uuid4()),
                           "client-request-id": str(uuid.uuid4())}}},
            headers)
        return status

    def graph_deny(self, message):
        return self.graph_error(403, "Authorization_RequestDenied", message)

    def graph(self, method, raw):
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        with LOCK:
            index = STATE["graph_requests"]
            STATE["graph_requests"] += 1
        ctl = self.control()
        actions = ctl.get("graph_actions", [])
        action = actions[index] if index < len(actions) else "normal"
        record = {"index": index, "method": method, "path": path,
                  "action": action}
        with LOCK:
            STATE["graph"].append(record)
        if action == "forbidden":
            record["status"] = self.graph_deny(
                "Insufficient privileges to complete the operation.")
            return
        if action == "throttle":
            record["status"] = self.graph_error(
                429, "TooManyRequests", "Too many requests.",
                {"Retry-After": str(ctl.get("retry_after", "1"))})
            return
        if action == "error500":
            record["status"] = self.graph_error(
                500, "UnknownError", "An internal server error occurred.")
            return
        if action == "hang":
            time.sleep(float(ctl.get("hang", 60)))
            self.close_connection = True
            record["status"] = 0
            return
        if action == "hang_after":
            real, self.wfile = self.wfile, io.BytesIO()  # the answer, lost
            try:
                record["status"] = self.graph_call(method, path, raw, record)
            finally:
                self.wfile = real
            time.sleep(float(ctl.get("hang", 60)))
            self.close_connection = True
            return
        record["status"] = self.graph_call(method, path, raw, record)

    def graph_call(self, method, path, raw, record):
        opts = self.server.opts
        auth = self.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else ""
        with LOCK:
            ok = token in GRAPH_TOKENS
        if not ok:
            return self.graph_error(
                401, "InvalidAuthenticationToken",
                "Access token validation failure. Invalid audience.")
        oid = opts.app_object_id
        if method == "GET":
            prefix, suffix = "/v1.0/applications(appId='", "')"
            if not (path.startswith(prefix) and path.endswith(suffix)):
                return self.graph_error(400, "BadRequest",
                                        "Invalid request.")
            app_id = path[len(prefix):-len(suffix)]
            if app_id != opts.client_id:
                return self.graph_error(
                    404, "Request_ResourceNotFound",
                    "Resource '%s' does not exist or one of its queried "
                    "reference-property objects are not present." % app_id)
            with LOCK:
                keys = [graph_key_json(c) for c in self.server.certs]
            self.send_json(200, {
                "@odata.context": "https://graph.microsoft.com/v1.0/"
                "$metadata#applications(id,keyCredentials)/$entity",
                "id": oid, "keyCredentials": keys})
            return 200
        parts = path.strip("/").split("/")
        if (len(parts) != 4 or parts[:2] != ["v1.0", "applications"] or
                parts[3] not in ("addKey", "removeKey")):
            return self.graph_error(400, "BadRequest", "Invalid request.")
        if parts[2] != oid:
            return self.graph_error(
                404, "Request_ResourceNotFound",
                "Resource '%s' does not exist or one of its queried "
                "reference-property objects are not present." % parts[2])
        try:
            body = json.loads(raw)
        except ValueError:
            return self.graph_error(400, "BadRequest",
                                    "Unable to read JSON request payload.")
        why = self.graph_check_proof(body.get("proof") or "", record)
        if why:
            return self.graph_deny(why)
        if parts[3] == "addKey":
            return self.graph_add(body, record)
        key_id = body.get("keyId")
        with LOCK:
            hit = [c for c in self.server.certs if c["keyId"] == key_id]
            if hit:
                self.server.certs.remove(hit[0])
                graph_sync(self.server)
        if not hit:
            return self.graph_error(
                404, "Request_ResourceNotFound",
                "No key credential with keyId '%s'." % key_id)
        record["removed"] = hit[0]["thumbprint"]
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()
        return 204

    def graph_add(self, body, record):
        kc = body.get("keyCredential") or {}
        if (kc.get("type") != "AsymmetricX509Cert" or
                kc.get("usage") != "Verify" or
                "passwordCredential" not in body or
                body["passwordCredential"] is not None):
            return self.graph_error(
                400, "BadRequest", "Invalid keyCredential: type "
                "AsymmetricX509Cert, usage Verify and a null "
                "passwordCredential are expected.")
        try:
            cert = x509.load_der_x509_certificate(
                base64.b64decode(kc.get("key") or "", validate=True))
        except ValueError:
            return self.graph_error(400, "BadRequest",
                                    "Invalid keyCredential: the key is not "
                                    "a base64 DER certificate.")
        der = cert.public_bytes(serialization.Encoding.DER)
        entry = {"path": None, "cert": cert,
                 "x5t#S256": b64url(hashlib.sha256(der).digest()),
                 "x5t": b64url(hashlib.sha1(der).digest()),
                 "thumbprint": hashlib.sha1(der).hexdigest().upper(),
                 "keyId": str(uuid.uuid4()), "added_at": time.time()}
        with LOCK:
            if any(c["thumbprint"] == entry["thumbprint"]
                   for c in self.server.certs):
                dup = True
            else:
                dup = False
                self.server.certs.append(entry)
                graph_sync(self.server)
        if dup:
            return self.graph_error(
                400, "BadRequest", "The key credential is already "
                "registered on the application.")
        record["added"] = entry["thumbprint"]
        record["display_name"] = kc.get("displayName")
        self.send_json(200, dict(graph_key_json(entry), **{
            "@odata.context": "https://graph.microsoft.com/v1.0/"
            "$metadata#microsoft.graph.keyCredential"}))
        return 200

    def graph_check_proof(self, proof, record):
        """Why the proof is refused, or None."""
        offset = float(self.control().get("clock_offset", 0))
        try:
            header = jwt.get_unverified_header(proof)
        except jwt.PyJWTError as e:
            return "The proof of possession is not a JWT (%s)." % e
        record["proof_header"] = header
        now = utcnow(offset)
        with LOCK:
            certs = list(self.server.certs)
        valid = [c for c in certs
                 if cert_dates(c["cert"])[0] <= now <= cert_dates(c["cert"])[1]]
        if not valid:
            return ("The application has no valid certificate left: the "
                    "proof of possession cannot be verified.")
        t1 = (header.get("x5t") or "").rstrip("=")
        t256 = (header.get("x5t#S256") or "").rstrip("=")
        reg = None
        for c in certs:
            if (t1 and t1 == c["x5t"]) or (t256 and t256 == c["x5t#S256"]):
                reg = c
        if reg is None:
            return ("The proof of possession is not signed by a key "
                    "registered on the application.")
        if reg not in valid:
            return "The key used for the proof of possession is expired."
        try:
            claims = jwt.decode(
                proof, key=reg["cert"].public_key(),
                algorithms=[header.get("alg", "RS256")]
                if header.get("alg") in ("RS256", "PS256") else ["RS256"],
                audience=GRAPH_PROOF_AUD, issuer=self.server.opts.app_object_id,
                options={"require": ["aud", "iss", "nbf", "exp"],
                         "verify_exp": False, "verify_nbf": False})
        except jwt.PyJWTError as e:
            return "The proof of possession is not valid (%s: %s)." % (
                type(e).__name__, e)
        t = time.time() + offset
        if claims["exp"] - claims["nbf"] > 600:
            return ("The proof of possession is valid for more than 10 "
                    "minutes.")
        if claims["exp"] < t - 300 or claims["nbf"] > t + 300:
            return "The proof of possession is not within its valid time."
        record["proof_claims"] = claims
        record["proof_signer"] = reg["thumbprint"]
        return None


class Handler(GraphMixin, http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # headers and body go out in two sends: with Nagle's algorithm the body
    # waits for the client's delayed ACK, 40 ms on every response
    disable_nagle_algorithm = True
    server_version = "entrakey-test-sts/1.0"

    def log_message(self, fmt, *args):
        if self.server.opts.verbose:
            sys.stderr.write("server: " + (fmt % args) + "\n")

    def control(self):
        path = self.server.opts.control
        if path and os.path.exists(path):
            with open(path) as f:
                text = f.read().strip()
            if text:
                return json.loads(text)
        return {}

    def date_time_string(self, timestamp=None):
        offset = self.control().get("clock_offset", 0)
        if timestamp is None:
            timestamp = time.time()
        return super().date_time_string(timestamp + offset)

    def send_body(self, status, ctype, body, headers=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def send_json(self, status, obj, headers=None):
        more = {"Cache-Control": "no-store, no-cache"}
        more.update(headers or {})
        more.update(getattr(self, "ids", None) or {})
        self.send_body(status, "application/json; charset=utf-8",
                       json.dumps(obj).encode(), more)

    def send_error_json(self, status, error, code, text, headers=None):
        # as Entra ID: trace_id is the x-ms-request-id header, correlation_id
        # the client-request-id
        ids = getattr(self, "ids", None) or {}
        trace = ids.get("x-ms-request-id", str(uuid.uuid4()))
        corr = ids.get("client-request-id", str(uuid.uuid4()))
        ts = utcnow().strftime("%Y-%m-%d %H:%M:%SZ")
        self.send_json(status, {
            "error": error,
            "error_description": "AADSTS%d: %s\r\nTrace ID: %s\r\n"
                                 "Correlation ID: %s\r\nTimestamp: %s"
                                 % (code, text, trace, corr, ts),
            "error_codes": [code],
            "timestamp": ts,
            "trace_id": trace,
            "correlation_id": corr,
            "error_uri": "https://login.microsoftonline.com/error?code=%d"
                         % code,
        }, headers)
        return status

    # ------------------------------------------------------------ GET
    def do_GET(self):
        self.ids = None
        path = urllib.parse.urlsplit(self.path).path
        port = self.server.server_address[1]
        if path.startswith("/v1.0/"):
            return self.graph("GET", "")
        if path == "/_stats":
            with LOCK:
                self.send_json(200, STATE)
            return
        if path == "/_reset":
            with LOCK:
                STATE["token_requests"] = 0
                STATE["issued"] = []
                STATE["requests"] = []
                STATE["arm_requests"] = []
                STATE["cut_short"] = 0
                graph_reset()
            self.send_json(200, {"reset": True})
            return
        if path == "/subscriptions":
            self.arm_subscriptions()
            return
        parts = path.strip("/").split("/")
        if (len(parts) == 3 and parts[1:] ==
                [".well-known", "openid-configuration"]):
            # the v1 document az reads to turn a domain into the tenant's
            # GUID (issuer https://sts.windows.net/GUID/)
            if parts[0] not in self.server.opts.tenant:
                self.send_error_json(400, "invalid_tenant", 90002,
                                     "Tenant '%s' not found." % parts[0])
                return
            host = self.server.opts.host[0] if self.server.opts.host else \
                "127.0.0.1"
            base = ("https://%s/%s" % (host, self.server.tid) if port == 443
                    else "https://%s:%d/%s" % (host, port, self.server.tid))
            self.send_json(200, {
                "issuer": "https://sts.windows.net/%s/" % self.server.tid,
                "token_endpoint": base + "/oauth2/token",
                "authorization_endpoint": base + "/oauth2/authorize",
                "jwks_uri": base + "/discovery/keys",
                "tenant_region_scope": "EU",
            })
            return
        if (len(parts) == 4 and parts[1:] ==
                ["v2.0", ".well-known", "openid-configuration"]):
            host = self.server.opts.host[0] if self.server.opts.host else \
                "127.0.0.1"
            base = ("https://%s/%s" % (host, parts[0]) if port == 443 else
                    "https://%s:%d/%s" % (host, port, parts[0]))
            # reached through connect_proxy.py under another name: the
            # endpoints under the name the client asked for, as Entra's
            hdr = self.headers.get("Host", "")
            if hdr and hdr.split(":")[0] not in ("127.0.0.1", "localhost",
                                                  "[::1]", host):
                base = "https://%s/%s" % (hdr, parts[0])
            self.send_json(200, {
                "issuer": base + "/v2.0",
                "token_endpoint": base + "/oauth2/v2.0/token",
                "authorization_endpoint": base + "/oauth2/v2.0/authorize",
                "device_authorization_endpoint": base
                + "/oauth2/v2.0/devicecode",
                "jwks_uri": base + "/discovery/v2.0/keys",
                "response_types_supported": ["code", "id_token", "token"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post", "private_key_jwt",
                    "client_secret_basic"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "tenant_region_scope": "EU",
            })
            return
        self.send_json(404, {"error": "not_found"})

    def arm_subscriptions(self):
        """ARM's GET /subscriptions for a token this endpoint issued for
        ARM; ARM's error shape otherwise."""
        auth = self.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else None
        with LOCK:
            aud = AUDIENCES.get(token)
        record = {"path": self.path, "aud": aud}
        if aud not in ARM_AUDIENCES:
            record["status"] = 401
            with LOCK:
                STATE["arm_requests"].append(record)
            code = ("AuthenticationFailed" if token is None else
                    "InvalidAuthenticationToken")
            self.send_json(401, {"error": {
                "code": code,
                "message": "The access token is invalid or its audience "
                           "(%s) is not Azure Resource Manager." % aud}},
                {"WWW-Authenticate": 'Bearer authorization_uri="https://'
                 'login.windows.net/", error="invalid_token"'})
            return
        record["status"] = 200
        with LOCK:
            STATE["arm_requests"].append(record)
        tid = self.server.tid
        self.send_json(200, {"value": [{
            "id": "/subscriptions/" + TEST_SUBSCRIPTION,
            "authorizationSource": "RoleBased",
            "managedByTenants": [],
            "subscriptionId": TEST_SUBSCRIPTION,
            "tenantId": tid,
            "displayName": "entrakey test subscription",
            "state": "Enabled",
            "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01",
                                     "quotaId": "PayAsYouGo_2014-09-01",
                                     "spendingLimit": "Off"}}],
            "count": {"type": "Total", "value": 1}})

    # ----------------------------------------------------------- POST
    def do_POST(self):
        # Entra ID's ids on every token answer: the client's
        # client-request-id echoed (or one made up), and a request id
        sent = self.headers.get("client-request-id")
        self.ids = {"client-request-id": sent or str(uuid.uuid4()),
                    "x-ms-request-id": str(uuid.uuid4())}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("ascii", "replace")
        if len(raw) < length:
            # the client stopped before the body was whole (a request
            # sent while the token signed, and the signature failed): no
            # request, as a real server sees it; counted apart
            with LOCK:
                STATE["cut_short"] += 1
            self.close_connection = True
            return
        path = urllib.parse.urlsplit(self.path).path
        if path.startswith("/v1.0/"):
            return self.graph("POST", raw)
        parts = path.strip("/").split("/")
        if len(parts) != 4 or parts[1:] != ["oauth2", "v2.0", "token"]:
            self.send_json(404, {"error": "not_found"})
            return
        with LOCK:
            index = STATE["token_requests"]
            STATE["token_requests"] += 1
        ctl = self.control()
        actions = ctl.get("actions", [])
        action = actions[index] if index < len(actions) else "normal"
        record = {"index": index, "action": action,
                  "user_agent": self.headers.get("User-Agent", ""),
                  "content_type": self.headers.get("Content-Type", ""),
                  "client_request_id": sent,
                  "correlation_id": self.ids["client-request-id"],
                  "request_id": self.ids["x-ms-request-id"]}
        form = urllib.parse.parse_qs(raw, keep_blank_values=True)
        record["url"] = "https://%s%s" % (self.headers.get("Host", ""),
                                          self.path)
        try:  # which assertion came, even when it is not looked at
            claims = jwt.decode(form["client_assertion"][0],
                                options={"verify_signature": False})
            record["jti"] = claims.get("jti")
            record["aud"] = claims.get("aud")
        except (KeyError, IndexError, jwt.PyJWTError):
            record["jti"] = None
            record["aud"] = None
        with LOCK:
            STATE["requests"].append(record)
        if self.misbehave(action, ctl):
            return
        record["status"] = self.token(parts[0], form, record)

    HOSTILE_TOKENS = {
        "token_esc": "eyJ0eXAiOiJKV1QifQ.e30.\x1b[31mred\x1b]0;title\x07",
        "token_crlf": "eyJ0eXAiOiJKV1QifQ.e30.sig\r\nexport EVIL=1",
        "token_lf": "eyJ0eXAiOiJKV1QifQ.e30.sig\nexport EVIL=1",
        "token_nul": "eyJ0eXAiOiJKV1QifQ.e30.sig\x00hidden-tail",
        "token_smartquote": "eyJ0eXAiOiJKV1QifQ.e30.sig\u2019; "
                            "Write-Output PWNED; \u2019",
        "token_space": "eyJ0eXAiOiJKV1QifQ.e30.sig and more",
        "token_quote": "eyJ0eXAiOiJKV1QifQ.e30.sig'\"; echo PWNED",
    }
    JWT = ("eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJhdWQiOiJodHRwczovL2V4YW1w"
           "bGUifQ.c2VjcmV0LXNpZ25hdHVyZS1ieXRlcw")

    def misbehave(self, action, ctl):
        if action == "normal":
            return False
        if action == "timeout408":
            # what a front end answers when it stopped waiting for a body
            more = {"Connection": "close"}
            more.update(self.ids)
            self.send_body(408, "text/plain", b"Request Timeout", more)
            self.close_connection = True
            return True
        if action in self.HOSTILE_TOKENS:
            # json.dumps writes \u0000, \u001b, \u2019: what a server sends
            self.send_json(200, {"token_type": "Bearer", "expires_in": 3599,
                                 "ext_expires_in": 3599,
                                 "access_token": self.HOSTILE_TOKENS[action]})
            return True
        if action == "error_escapes":
            self.send_json(401, {
                "error": "invalid_client\x1b]0;pwned\x07",
                "error_description": "AADSTS700027: Client assertion failed"
                                     "\x1b[2J\x1b[31m signature validation."
                                     "\r\nTrace ID: x",
                "error_codes": [700027],
                "trace_id": "0c1f\x1b[1m-trace",
                "correlation_id": "7d2e\x9b31m\u202e-corr",
            })
            return True
        if action == "error_jwt":
            self.send_json(400, {
                "error": "invalid_request",
                "error_description": "AADSTS50027: JWT token is invalid or "
                                     "malformed: %s.\r\nTrace ID: x"
                                     % self.JWT,
                "error_codes": [50027],
            })
            return True
        if action == "html_escapes":
            body = ("<html><body>\x1b[31mBad gateway\x1b[0m for %s</body>"
                    "</html>" % self.JWT).encode()
            self.send_body(502, "text/html\x1b[31m; a=b", body)
            return True
        if action in ("throttle", "throttle503"):
            status = 429 if action == "throttle" else 503
            self.send_error_json(status, "temporarily_unavailable", 90055,
                                 "TenantThrottlingError - There are too many "
                                 "incoming requests. This exception is "
                                 "thrown for blocked tenants.",
                                 {"Retry-After": str(ctl.get("retry_after",
                                                             "1"))})
        elif action == "html503":
            body = (b"<!DOCTYPE html><html><head><title>Service Unavailable"
                    b"</title></head><body><h2>Service Unavailable</h2><p>"
                    b"HTTP Error 503. The service is unavailable.</p></body>"
                    b"</html>")
            self.send_body(503, "text/html; charset=us-ascii", body)
        elif action == "json500":
            self.send_error_json(500, "server_error", 90033,
                                 "A transient error has occurred. Please "
                                 "try again.")
        elif action == "hang":
            time.sleep(float(ctl.get("hang", 60)))
            self.close_connection = True
        elif action == "truncate":
            body = json.dumps({"token_type": "Bearer", "expires_in": 3599,
                               "access_token": "eyJ" + secrets.token_urlsafe(
                                   600)}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body) + 500))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        elif action in ("huge", "huge_noclen"):
            body = b'{"pad":"' + b"x" * (1024 * 1024) + b'"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            if action == "huge":
                self.send_header("Content-Length", str(len(body)))
            else:
                self.send_header("Connection", "close")
            self.end_headers()
            try:
                self.wfile.write(body)
            except OSError:
                pass
            self.close_connection = True
        else:
            raise ValueError("unknown action %r" % action)
        return True

    def token(self, tenant, form, record):
        opts = self.server.opts
        offset = float(self.control().get("clock_offset", 0))

        def field(name):
            v = form.get(name)
            return v[0] if v else None

        port = self.server.server_address[1]
        record["tenant"] = tenant
        record["scope"] = field("scope")
        record["form_keys"] = sorted(form.keys())
        if tenant not in opts.tenant:
            return self.send_error_json(
                400, "invalid_request", 90002,
                "Tenant '%s' not found. Check to make sure you have the "
                "correct tenant ID and are signing into the correct cloud. "
                "Check with your subscription administrator, this may happen "
                "if there are no active subscriptions for the tenant."
                % tenant)
        if field("grant_type") != "client_credentials":
            return self.send_error_json(
                400, "unsupported_grant_type", 70003,
                "The app requested an unsupported grant type '%s'."
                % field("grant_type"))
        client_id = field("client_id")
        if client_id != opts.client_id:
            return self.send_error_json(
                400, "unauthorized_client", 700016,
                "Application with identifier '%s' was not found in the "
                "directory '%s'. This can happen if the application has not "
                "been installed by the administrator of the tenant or "
                "consented to by any user in the tenant. You may have sent "
                "your authentication request to the wrong tenant."
                % (client_id, tenant))
        if field("client_secret") is not None:
            return self.send_error_json(
                401, "invalid_client", 7000215,
                "Invalid client secret provided. Ensure the secret being "
                "sent in the request is the client secret value, not the "
                "client secret ID, for a secret added to app '%s'."
                % client_id)
        assertion = field("client_assertion")
        if (assertion is None or field("client_assertion_type") !=
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"):
            return self.send_error_json(
                401, "invalid_client", 7000218,
                "The request body must contain the following parameter: "
                "'client_assertion' or 'client_secret'.")
        scope = field("scope") or ""
        if not scope.endswith("/.default") or " " in scope.strip():
            return self.send_error_json(
                400, "invalid_scope", 1002012,
                "The provided value for scope %s is not valid. Client "
                "credential flows must have a scope value with /.default "
                "suffixed to the resource identifier (application ID URI)."
                % scope)
        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.PyJWTError as e:
            return self.send_error_json(
                400, "invalid_request", 50027,
                "JWT token is invalid or malformed (%s)." % e)
        alg = header.get("alg")
        record["alg"] = alg
        record["header"] = sorted(header.keys())
        if alg not in ("PS256", "RS256"):
            return self.send_error_json(
                401, "invalid_client", 5002738,
                "Invalid JWT token. '%s' is not a supported signature "
                "algorithm." % alg)
        t256 = (header.get("x5t#S256") or "").rstrip("=")
        t1 = (header.get("x5t") or "").rstrip("=")
        record["x5t#S256"] = t256
        reg = None
        for c in [c for c in self.server.certs +
                  globbed_certs(self.server.opts)
                  if graph_honoured(c, self.control())]:
            if (t256 and t256 == c["x5t#S256"]) or (not t256 and t1 and
                                                    t1 == c["x5t"]):
                reg = c
                break
        if reg is None:
            return self.send_error_json(
                401, "invalid_client", 700027,
                "Client assertion failed signature validation. [Reason - "
                "The key was not found., Thumbprint of key used by client: "
                "'%s', Please visit the Azure Portal, Graph Explorer or "
                "directly use MS Graph to see configured keys for app Id "
                "'%s'.]" % (t256 or t1, client_id))
        not_before, not_after = cert_dates(reg["cert"])
        now = utcnow(offset)
        if not (not_before <= now <= not_after):
            return self.send_error_json(
                401, "invalid_client", 700027,
                "Client assertion failed signature validation. [Reason - "
                "The key used is expired., Thumbprint of key used by client: "
                "'%s', Found key 'Start=%s, End=%s']"
                % (reg["thumbprint"], not_before.isoformat(),
                   not_after.isoformat()))
        names = ["127.0.0.1", "localhost"] + self.server.opts.host
        auds = ["https://%s:%d/%s/oauth2/v2.0/token" % (h, port, tenant)
                for h in names] + [record["url"]]
        if port == 443:
            auds += ["https://%s/%s/oauth2/v2.0/token" % (h, tenant)
                     for h in names]
        try:
            claims = jwt.decode(
                assertion, key=reg["cert"].public_key(), algorithms=[alg],
                audience=auds, issuer=client_id,
                options={"require": ["exp", "aud", "iss", "sub", "jti"],
                         "verify_exp": False, "verify_nbf": False,
                         "verify_iat": False})
            # the time window against this server's clock, 5 min of leeway
            t = time.time() + offset
            if claims["exp"] < t - 300:
                raise jwt.ExpiredSignatureError("the assertion expired at "
                                                "%d" % claims["exp"])
            if claims.get("nbf", 0) > t + 300:
                raise jwt.ImmatureSignatureError("the assertion is valid "
                                                 "from %d" % claims["nbf"])
        except jwt.InvalidSignatureError:
            return self.send_error_json(
                401, "invalid_client", 700027,
                "Client assertion failed signature validation.")
        except (jwt.ExpiredSignatureError, jwt.ImmatureSignatureError) as e:
            return self.send_error_json(
                401, "invalid_client", 700024,
                "Client assertion is not within its valid time range. "
                "Current time: %s (%s)." % (now.isoformat(), e))
        except jwt.InvalidAudienceError:
            return self.send_error_json(
                401, "invalid_client", 700027,
                "Client assertion failed signature validation. [Reason - "
                "The audience claim is not valid; expected one of %s.]"
                % ", ".join(auds))
        except jwt.InvalidIssuerError:
            return self.send_error_json(
                401, "invalid_client", 700021,
                "Client assertion application identifier doesn't match "
                "'client_id' parameter.")
        except jwt.PyJWTError as e:
            return self.send_error_json(
                400, "invalid_request", 50027,
                "JWT token is invalid or malformed (%s)." % e)
        if claims.get("sub") != claims.get("iss"):
            return self.send_error_json(
                401, "invalid_client", 50048,
                "Subject mismatches Issuer claim in the client assertion.")
        record["claims"] = sorted(claims.keys())
        record["lifetime"] = claims["exp"] - claims.get("nbf",
                                                        claims.get("iat", 0))
        life = int(self.control().get("expires_in", 3599))
        now_s = int(time.time() + offset)
        aud = scope[:-len("/.default")]
        if aud.endswith("/"):  # resource "X/" asked as "X//.default"
            aud = aud[:-1]
        if aud in ("https://management.core.windows.net",):
            aud += "/"  # what Entra puts in aud for ARM's second name
        claims = {"aud": aud, "iss": "https://sts.windows.net/%s/"
                  % self.server.tid, "tid": self.server.tid,
                  "appid": client_id, "idtyp": "app", "iat": now_s,
                  "nbf": now_s, "exp": now_s + life,
                  "uti": secrets.token_urlsafe(200)}
        token = ("eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9." +
                 b64url(json.dumps(claims).encode()) + "." +
                 secrets.token_urlsafe(64))
        with LOCK:
            STATE["issued"].append(token)
            AUDIENCES[token] = aud
        graph_note_token(token, field("scope"))
        self.send_json(200, {"token_type": "Bearer", "expires_in": life,
                             "ext_expires_in": life, "access_token": token})
        return 200


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # a client that went away (timeouts, size caps) is expected here
        if self.opts.verbose:
            super().handle_error(request, client_address)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tls-cert", required=True)
    ap.add_argument("--tls-key", required=True)
    ap.add_argument("--tenant", action="append", required=True,
                    help="a tenant the endpoint knows (GUID or domain); "
                         "repeatable")
    ap.add_argument("--client-id", required=True)
    ap.add_argument("--cert", action="append", default=[],
                    help="a certificate registered on the app; repeatable")
    ap.add_argument("--cert-glob", action="append", default=[],
                    help="files registered when the request comes (the "
                    "portal's upload); repeatable")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--port", type=int, default=0,
                    help="the port (default: any free one)")
    ap.add_argument("--host", action="append", default=[],
                    help="another name of this endpoint (e.g. "
                    "login.microsoftonline.com in a test's own namespace)")
    ap.add_argument("--control", help="JSON control file (see above)")
    ap.add_argument("--app-object-id",
                    default="4a0c7a3e-9d3f-4d0b-8f5e-2c1b6e7d9a10",
                    help="the application's object id (Graph)")
    ap.add_argument("--lifetime", type=float, default=300)
    ap.add_argument("--verbose", action="store_true")
    opts = ap.parse_args()

    srv = Server(("127.0.0.1", opts.port), Handler)
    srv.opts = opts
    srv.certs = [load_cert(p) for p in opts.cert]
    # the tenant's GUID for the tid claim: the first --tenant that is one
    srv.tid = next((t for t in opts.tenant if len(t) == 36 and
                    t.count("-") == 4), "72f988bf-86f1-41af-91ab-2d7cd011db47")
    graph_init(srv)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(opts.tls_cert, opts.tls_key)
    # the handshake runs in the request's thread, not in accept()
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True,
                                 do_handshake_on_connect=False)

    def watchdog():
        time.sleep(opts.lifetime)
        os._exit(0)

    threading.Thread(target=watchdog, daemon=True).start()
    tmp = opts.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, opts.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
