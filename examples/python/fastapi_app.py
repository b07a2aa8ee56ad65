"""ClaimPort on FastAPI: each route declares the scopes it needs beside its handler.

``Security(bearer, scopes=[...])`` gives the handler the verified caller
(``portcullis.integrations.fastapi.Principal``: owner, key id, scopes) or answers the
request as portcullis decides it (401/403 with ``WWW-Authenticate``, 400 for plain HTTP,
503 when the key store fails). The scopes are compiled against the policy's catalog
when the app starts (an unknown one stops it), implications included (``claims:write``
covers ``claims:read``), and ``/docs`` shows the bearer scheme on every route.

Keys live in memory here (``portcullis.MemoryStore``); ``POST /settings/api-keys`` with
the admin token stands for the dashboard. Run::

    PORTCULLIS_PEPPER_HEX=… CLAIMPORT_ADMIN_TOKEN=… python fastapi_app.py   # :8000
"""

from __future__ import annotations

import hmac
import os
from itertools import count
from pathlib import Path
from typing import Dict, List

from fastapi import FastAPI, Header, HTTPException, Security
from pydantic import BaseModel

import portcullis
from portcullis.integrations.fastapi import PortcullisBearer, Principal

POLICY_FILE = Path(__file__).resolve().parent.parent / "claimport.toml"


class NewKey(BaseModel):
    name: str
    owner: str
    permissions: List[str]


class NewClaim(BaseModel):
    title: str


def create_app(pepper: bytes, admin_token: str, *, policy_file: Path = POLICY_FILE) -> FastAPI:
    """The app, its keys and claims in memory."""
    policy = portcullis.Policy.from_file(policy_file)
    checker = portcullis.Checker(policy, portcullis.Peppers("p1", pepper))
    store = portcullis.MemoryStore()
    bearer = PortcullisBearer(checker, lookup=store,
                              description="An API key from Settings > API Keys")
    permissions = {desc: name for name, desc in policy.scopes}  # "Read Claims" -> claims:read
    claims: Dict[int, Dict[str, str]] = {}
    ids = count(1)
    app = FastAPI(title="ClaimPort")

    @app.get("/health")
    def health() -> Dict[str, str]:
        return {"status": "ok"}

    @app.post("/settings/api-keys", status_code=201)
    def create_key(new: NewKey, x_admin_token: str = Header("")) -> Dict[str, object]:
        if not hmac.compare_digest(x_admin_token.encode(), admin_token.encode()):
            raise HTTPException(403, "forbidden")
        unknown = [p for p in new.permissions if p not in permissions]
        if unknown:
            raise HTTPException(400, f"unknown permissions: {unknown}")
        issued = checker.issue(new.name, new.owner, [permissions[p] for p in new.permissions])
        store.insert(issued.record)
        return {"key": issued.key, "id": issued.record.id, "scopes": issued.record.scopes}

    @app.get("/v1/me")
    def me(caller: Principal = Security(bearer)) -> Dict[str, object]:
        return {"owner": caller.owner, "key_id": caller.key_id, "scopes": list(caller.scopes)}

    @app.get("/v1/claims")
    def list_claims(
        caller: Principal = Security(bearer, scopes=["claims:read"]),
    ) -> List[Dict[str, object]]:
        return [{"id": i, **c} for i, c in claims.items() if c["owner"] == caller.owner]

    @app.post("/v1/claims", status_code=201)
    def create_claim(
        new: NewClaim, caller: Principal = Security(bearer, scopes=["claims:write"]),
    ) -> Dict[str, object]:
        claim_id = next(ids)
        claims[claim_id] = {"owner": caller.owner, "title": new.title, "status": "open"}
        return {"id": claim_id, "title": new.title, "status": "open"}

    @app.get("/v1/analytics/{report}")
    def analytics(
        report: str,
        caller: Principal = Security(bearer, scopes=["analytics:read | full_access"]),
    ) -> Dict[str, int]:
        if report != "claims-by-status":
            raise HTTPException(404, "unknown report")
        counts: Dict[str, int] = {}
        for c in claims.values():
            if c["owner"] == caller.owner:
                counts[c["status"]] = counts.get(c["status"], 0) + 1
        return counts

    bearer.install(app)  # denial bodies as the decision says; scopes checked at startup
    return app


def main() -> None:
    import uvicorn  # only to run it: importing the app needs no server

    app = create_app(bytes.fromhex(os.environ["PORTCULLIS_PEPPER_HEX"]),
                     os.environ["CLAIMPORT_ADMIN_TOKEN"])
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))


if __name__ == "__main__":
    main()
