"""Shared pieces of the OAuth tests: a host store in Python, and a client driving a flow."""

from __future__ import annotations

import base64
import json
import threading
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Set, Tuple, Union

import portcullis
from conftest import NOW, PEPPER

VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
REDIRECT = "https://app.example/cb"


class DictStore:
    """An OAuthStore over dicts (standing for the host's database tables), one lock for
    the two atomic operations. Records are kept as JSON text, as a database would."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.clients: Dict[str, str] = {}
        self.codes: Dict[bytes, Tuple[str, bool]] = {}
        self.refresh_tokens: Dict[bytes, str] = {}
        self.revoked: Set[str] = set()
        self.calls: List[str] = []

    def add_client(self, client: portcullis.Client) -> None:
        self.clients[client.client_id] = client.to_json()

    def client(self, client_id: str) -> Optional[str]:
        self.calls.append("client")
        return self.clients.get(client_id)

    def put_code(self, code_hash: bytes, record: Dict[str, Any]) -> None:
        self.calls.append("put_code")
        assert isinstance(code_hash, bytes) and len(code_hash) == 32
        self.codes[code_hash] = (json.dumps(record), False)

    def code(self, code_hash: bytes) -> Optional[str]:
        self.calls.append("code")
        found = self.codes.get(code_hash)
        return None if found is None else found[0]

    def consume_code(self, code_hash: bytes) -> Optional[Tuple[str, Dict[str, Any]]]:
        self.calls.append("consume_code")
        with self.lock:
            found = self.codes.get(code_hash)
            if found is None:
                return None
            text, used = found
            self.codes[code_hash] = (text, True)
        return ("again" if used else "first", json.loads(text))

    def put_refresh(self, token_hash: bytes, record: Dict[str, Any]) -> None:
        self.calls.append("put_refresh")
        self.refresh_tokens[token_hash] = json.dumps(record)

    def refresh(self, token_hash: bytes) -> Optional[str]:
        self.calls.append("refresh")
        return self.refresh_tokens.get(token_hash)

    def rotate(
        self,
        old_hash: bytes,
        expected: Optional[int],
        rotated_at: int,
        new_hash: bytes,
        new_record: Dict[str, Any],
    ) -> bool:
        self.calls.append("rotate")
        with self.lock:
            text = self.refresh_tokens.get(old_hash)
            if text is None:
                return False
            old = json.loads(text)
            if old.get("rotated_at") != expected:
                return False
            old["rotated_at"] = rotated_at
            self.refresh_tokens[old_hash] = json.dumps(old)
            self.refresh_tokens[new_hash] = json.dumps(new_record)
        return True

    def revoke_family(self, family: str, now: int) -> None:
        self.calls.append("revoke_family")
        self.revoked.add(family)

    def is_family_revoked(self, family: str) -> bool:
        self.calls.append("is_family_revoked")
        return family in self.revoked


Store = Union[portcullis.MemoryOAuthStore, DictStore]


def basic(client_id: str, secret: str) -> str:
    pair = f"{urllib.parse.quote(client_id, safe='')}:{urllib.parse.quote(secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def query_params(url: str) -> Dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


@dataclass
class Setup:
    """An engine, a checker sharing its verifier, and a registered confidential client."""

    policy: portcullis.Policy
    verifier: portcullis.AccessVerifier
    server: portcullis.OAuthServer
    checker: portcullis.Checker
    store: Any
    secret: str
    config: Optional[portcullis.OAuthConfig] = None
    extra: Dict[str, Any] = field(default_factory=dict)

    @property
    def auth(self) -> str:
        return basic("webapp", self.secret)

    def authorize_query(self, **overrides: Optional[str]) -> str:
        params: Dict[str, Optional[str]] = {
            "response_type": "code",
            "client_id": "webapp",
            "redirect_uri": REDIRECT,
            "scope": "claims:read claims:write",
            "state": "s1",
            "code_challenge": portcullis.PkceChallenge.s256(VERIFIER).challenge,
            "code_challenge_method": "S256",
        }
        params.update(overrides)
        return urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})

    def code(self, now: int = NOW, **overrides: Optional[str]) -> str:
        outcome = self.server.authorize(self.authorize_query(**overrides), self.store)
        assert outcome.kind == "valid", (outcome.error, outcome.description)
        location = self.server.approve(outcome, "user_7", self.store, now=now)
        return query_params(location)["code"]

    def exchange(self, code: str, now: int = NOW, **extra: str) -> portcullis.TokenResponse:
        body = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": VERIFIER,
        }
        body.update(extra)
        return self.server.token(self.auth, urllib.parse.urlencode(body), self.store, now=now)

    def refresh(self, token: str, now: int = NOW, **extra: str) -> portcullis.TokenResponse:
        body = {"grant_type": "refresh_token", "refresh_token": token, **extra}
        return self.server.token(self.auth, urllib.parse.urlencode(body), self.store, now=now)

    def api(self, access_token: str, now: int = NOW, method: str = "GET",
            path: str = "/v1/claims") -> portcullis.Decision:
        return self.checker.check(method, path, lookup=portcullis.MemoryStore(),
                                  authorization=f"Bearer {access_token}", https=True, now=now)


def setup(policy: portcullis.Policy, store: Any,
          config: Optional[portcullis.OAuthConfig] = None) -> Setup:
    keys = portcullis.AccessKeys("k1", bytes(range(1, 33)))
    verifier = portcullis.AccessVerifier(policy, keys)
    server = portcullis.OAuthServer(policy, verifier, config)
    checker = portcullis.Checker(policy, portcullis.Peppers("p1", PEPPER),
                                 access_tokens=verifier)
    client, secret = portcullis.Client.confidential(
        "webapp", [REDIRECT], ["claims:read", "claims:write", "orders:read"])
    store.add_client(client)
    return Setup(policy, verifier, server, checker, store, secret, config)
