"""The product's documented OAuth requests, verbatim apart from the placeholders, against
the example app over real HTTPS on 127.0.0.1 (issue #16): the authorize URL without PKCE
or ``state`` and the JSON code exchange for a confidential client, the JSON refresh with
``client_id`` alone for a public client, discovery metadata read without a credential,
Authlib configured from that metadata (``server_metadata_url``), and requests-oauthlib's
refresh recipe with the client credentials in the body.

The server speaks TLS with a certificate made for the test, so every client runs with its
transport checks on (no ``*_INSECURE_TRANSPORT``, no ``X-Forwarded-Proto``)."""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import json
import re
import sys
import threading
import urllib.parse
from pathlib import Path
from typing import Any, Dict, Iterator, Tuple

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from werkzeug.serving import make_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from app import create_app

ADMIN = "admin-token-for-tests"
USERS = {"alice": ("alice-password", "org_acme")}
REDIRECT = "https://partner.example/cb"
VERIFIER = "M25iVXpKU3puUjFaYWg3T1NDTDQtcW1ROUY5YXlwalNoc0hhakxifmZHag"
CHALLENGE = (
    base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).decode().rstrip("=")
)
TIMEOUT = 10

#: The product's documentation, character for character.
DOCUMENTED_AUTHORIZE = ("GET https://app.claimport.io/oauth/authorize?client_id=YOUR_CLIENT_ID"
                        "&redirect_uri=YOUR_REDIRECT_URI&response_type=code"
                        "&scope=claims:read claims:write")
DOCUMENTED_EXCHANGE = ('{"grant_type": "authorization_code", "code": "AUTHORIZATION_CODE", '
                       '"client_id": "YOUR_CLIENT_ID", "client_secret": "YOUR_CLIENT_SECRET"}')
DOCUMENTED_REFRESH = ('{"grant_type": "refresh_token", "refresh_token": "REFRESH_TOKEN", '
                      '"client_id": "YOUR_CLIENT_ID"}')


def fill(text: str, **values: str) -> str:
    for name, value in values.items():
        text = text.replace(name, value)
    return text


def self_signed(directory: Path) -> Tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


@pytest.fixture()
def base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The app over HTTPS; its issuer is the URL it is served at."""
    cert, key = self_signed(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))  # requests, Authlib, oauthlib
    holder: Dict[str, Any] = {}

    def dispatch(environ: Dict[str, Any], start_response: Any) -> Any:
        return holder["app"](environ, start_response)

    server = make_server("127.0.0.1", 0, dispatch, threaded=True,
                         ssl_context=(str(cert), str(key)))
    url = f"https://127.0.0.1:{server.server_port}"
    holder["app"] = create_app(str(tmp_path / "claimport.sqlite3"), bytes(range(100, 132)),
                               ADMIN, access_token_key=bytes(range(50, 82)),
                               demo_users=USERS, issuer=url)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield url
    finally:
        server.shutdown()
        thread.join(timeout=TIMEOUT)
        server.server_close()


def register(base: str, client_type: str) -> Dict[str, Any]:
    r = requests.post(f"{base}/settings/oauth-clients", timeout=TIMEOUT,
                      headers={"X-Admin-Token": ADMIN},
                      json={"client_id": f"partner-{client_type}", "type": client_type,
                            "redirect_uris": [REDIRECT],
                            "permissions": ["Read Claims", "Write Claims"]})
    assert r.status_code == 201, r.text
    return dict(r.json())


def user_approves(base: str, url: str) -> Dict[str, str]:
    """A browser: opens the authorize URL, signs in, approves; the redirect's parameters."""
    browser = requests.Session()
    path = url[len(base):] if url.startswith(base) else url
    page = browser.get(base + path, timeout=TIMEOUT, allow_redirects=False)
    assert page.status_code == 200, page.text
    login = browser.post(f"{base}/login", timeout=TIMEOUT, allow_redirects=False,
                         data={"user": "alice", "password": USERS["alice"][0], "next": path})
    assert login.status_code == 302, login.text
    page = browser.get(base + path, timeout=TIMEOUT, allow_redirects=False)
    nonce = re.search(r'name="nonce" value="([^"]+)"', page.text)
    assert page.status_code == 200 and nonce, page.text
    answer = browser.post(f"{base}/oauth/authorize", timeout=TIMEOUT, allow_redirects=False,
                          data={"nonce": nonce.group(1), "decision": "approve",
                                "scope": ["claims:read", "claims:write"]})
    location = answer.headers["Location"]
    assert answer.status_code == 302 and location.startswith(REDIRECT + "?"), answer.text
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))


def documented_authorize_path(client_id: str) -> str:
    """The documented URL with its placeholders filled in, as a browser sends it: the
    space of ``scope`` percent-encoded, nothing else changed."""
    url = fill(DOCUMENTED_AUTHORIZE.split(" ", 1)[1], YOUR_CLIENT_ID=client_id,
               YOUR_REDIRECT_URI=REDIRECT)
    return urllib.parse.urlsplit(url)._replace(scheme="", netloc="").geturl().replace(" ", "%20")


def post_json(base: str, text: str) -> requests.Response:
    return requests.post(f"{base}/oauth/token", data=text.encode(), timeout=TIMEOUT,
                         headers={"Content-Type": "application/json"})


def claims(base: str, access_token: str) -> int:
    r = requests.get(f"{base}/v1/claims", timeout=TIMEOUT,
                     headers={"Authorization": f"Bearer {access_token}"})
    return r.status_code


def test_metadata_is_served_without_a_credential_and_matches_the_product_policy(base: str) -> None:
    r = requests.get(f"{base}/.well-known/oauth-authorization-server", timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    m = r.json()
    assert m["issuer"] == base and m["token_endpoint"] == f"{base}/oauth/token"
    assert m["authorization_endpoint"] == f"{base}/oauth/authorize"
    assert m["token_endpoint_auth_methods_supported"] == [
        "client_secret_basic", "client_secret_post", "none"]
    assert m["code_challenge_methods_supported"] == ["S256"]
    assert m["scopes_supported"] == ["claims:read", "claims:write", "orders:read",
                                     "analytics:read", "full_access"]
    assert m["authorization_response_iss_parameter_supported"] is True
    # Public by the policy's /.well-known/{*rest} route; other methods are not.
    assert requests.post(r.url, timeout=TIMEOUT).status_code == 401


def test_documented_authorize_url_and_json_code_exchange_work_for_a_confidential_client(
        base: str) -> None:
    client = register(base, "confidential")
    answer = user_approves(base, documented_authorize_path(client["client_id"]))
    assert answer["iss"] == base and "state" not in answer
    r = post_json(base, fill(DOCUMENTED_EXCHANGE, AUTHORIZATION_CODE=answer["code"],
                             YOUR_CLIENT_ID=client["client_id"],
                             YOUR_CLIENT_SECRET=client["client_secret"]))
    assert r.status_code == 200, r.text
    tokens = r.json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 3600
    assert claims(base, tokens["access_token"]) == 200


def test_documented_authorize_url_is_refused_for_a_public_client_without_pkce(base: str) -> None:
    client = register(base, "public")
    r = requests.get(base + documented_authorize_path(client["client_id"]), timeout=TIMEOUT,
                     allow_redirects=False)
    assert r.status_code == 302
    answer = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(r.headers["Location"]).query))
    assert answer["error"] == "invalid_request"
    assert answer["error_description"] == "code_challenge is required"
    assert answer["iss"] == base


def test_documented_json_refresh_works_for_a_public_client_with_client_id_alone(base: str) -> None:
    client = register(base, "public")
    path = documented_authorize_path(client["client_id"]) + \
        f"&code_challenge={CHALLENGE}&code_challenge_method=S256"
    answer = user_approves(base, path)
    r = post_json(base, json.dumps({"grant_type": "authorization_code", "code": answer["code"],
                                    "client_id": client["client_id"],
                                    "code_verifier": VERIFIER}))
    assert r.status_code == 200, r.text
    r = post_json(base, fill(DOCUMENTED_REFRESH, REFRESH_TOKEN=r.json()["refresh_token"],
                             YOUR_CLIENT_ID=client["client_id"]))
    assert r.status_code == 200, r.text
    assert claims(base, r.json()["access_token"]) == 200


def test_authlib_configured_from_the_metadata_document_completes_the_flow(base: str) -> None:
    from authlib.integrations.flask_client import OAuth  # type: ignore[import-untyped]
    from flask import Flask

    client = register(base, "confidential")
    partner = Flask("partner")
    partner.secret_key = "partner-test-secret"
    oauth = OAuth(partner)
    oauth.register("claimport", client_id=client["client_id"],
                   client_secret=client["client_secret"],
                   server_metadata_url=f"{base}/.well-known/oauth-authorization-server",
                   client_kwargs={"scope": "claims:read claims:write",
                                  "code_challenge_method": "S256"})
    with partner.test_request_context():
        start = oauth.claimport.create_authorization_url(REDIRECT)
        answer = user_approves(base, start["url"])
        assert answer["state"] == start["state"]
        # RFC 9207: the client checks iss against the issuer of the metadata it used.
        assert answer["iss"] == oauth.claimport.load_server_metadata()["issuer"]
        token = oauth.claimport.fetch_access_token(redirect_uri=REDIRECT, code=answer["code"],
                                                   code_verifier=start["code_verifier"])
    assert token["token_type"] == "Bearer" and claims(base, token["access_token"]) == 200


def test_requests_oauthlib_refresh_recipe_with_credentials_in_the_body(base: str) -> None:
    from requests_oauthlib import OAuth2Session  # type: ignore[import-untyped]

    client = register(base, "confidential")
    answer = user_approves(base, documented_authorize_path(client["client_id"]))
    r = post_json(base, fill(DOCUMENTED_EXCHANGE, AUTHORIZATION_CODE=answer["code"],
                             YOUR_CLIENT_ID=client["client_id"],
                             YOUR_CLIENT_SECRET=client["client_secret"]))
    assert r.status_code == 200, r.text
    # The recipe of requests-oauthlib's docs: client_id and client_secret as extra body
    # parameters of the refresh request.
    extra = {"client_id": client["client_id"], "client_secret": client["client_secret"]}
    session = OAuth2Session(client["client_id"], token=r.json())
    fresh = session.refresh_token(f"{base}/oauth/token", **extra)
    assert fresh["refresh_token"] != r.json()["refresh_token"]
    assert claims(base, fresh["access_token"]) == 200
