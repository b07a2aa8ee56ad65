"""The example apps' tests' HTTP client: urllib over real sockets, as a customer's
integration would call the API (no framework test client)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any, Dict, Optional, Tuple

#: The admin token both example apps are started with in their tests.
ADMIN = "admin-token-for-tests"
TIMEOUT = 10


class Client:
    """Calls one running app; `https` sets the header a TLS-terminating proxy would."""

    def __init__(self, base: str) -> None:
        self.base = base

    def call(self, method: str, path: str, *, key: Optional[str] = None,
             body: Optional[Dict[str, Any]] = None, https: bool = True,
             headers: Optional[Dict[str, str]] = None) -> Tuple[int, Any, Dict[str, str]]:
        h = dict(headers or {})
        if key is not None:
            h["Authorization"] = f"Bearer {key}"
        if https:
            h["X-Forwarded-Proto"] = "https"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT) as resp:
                return resp.status, json.loads(resp.read() or b"null"), dict(resp.headers)
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null"), dict(e.headers)

    def admin(self, method: str, path: str, body: Optional[Dict[str, Any]] = None
              ) -> Tuple[int, Any, Dict[str, str]]:
        return self.call(method, path, body=body, headers={"X-Admin-Token": ADMIN})

    def new_key(self, name: str, permissions: list[str], owner: str = "org_acme") -> Dict[str, Any]:
        status, body, _ = self.admin("POST", "/settings/api-keys",
                                     {"name": name, "owner": owner, "permissions": permissions})
        assert status == 201, body
        return dict(body)
