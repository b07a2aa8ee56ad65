"""What the three integrations share: a request in, a principal or a denial out.

Decisions made here (see also the package docstring):
- The denial body is ``{"error": decision.error, "error_description":
  decision.description}``; without a credential there is no ``error`` (RFC 6750 §3.1) and
  the description is "Authentication required"; a 503 is ``temporarily_unavailable``
  ("Try again later") and never names the database's failure.
- Declared scopes the caller lacks are the core's 403 ``insufficient_scope``
  (``Decision.require``): the same ``WWW-Authenticate`` as for a route of the policy.
- A view that declares scopes on a path the policy calls public is a configuration error
  (the core checks no credential there): it raises, it is never an allow.
- The path given to the core is the raw path as received (``..``, ``%2F``, ``//`` are
  refused there, never decoded first).
- The client address given to the core (for a checker's ``UsageRecorder``) is the peer
  address the framework reports (FastAPI ``request.client.host``, Flask
  ``request.remote_addr``, Django ``REMOTE_ADDR``), never a header: behind a proxy that
  is the proxy's address. Let the server replace it with the forwarded address only for
  proxies you trust (uvicorn ``--proxy-headers --forwarded-allow-ips``, Werkzeug
  ``ProxyFix``, a Django middleware that sets ``REMOTE_ADDR``), or leave the recorder's
  network rule unused. A peer that is no IP address (a Unix socket, a test client's
  ``"testclient"``) is passed as no address.
- A denial carries every header field the decision calls for (``Decision.headers``):
  ``WWW-Authenticate``, and on a 429 ``Retry-After`` with the ``RateLimit-Policy`` and
  ``RateLimit`` fields; a 429's body is ``{"error": "rate_limited", "error_description":
  "Too many requests"}`` (``"credits_exhausted"``, ``"No credits left"`` when the key's
  credits ran out). An allowed answer carries the ``RateLimit`` fields too
  (:func:`limit_headers`), which each integration adds to the view's response.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple, Union

import portcullis

__all__ = [
    "Denial",
    "Guard",
    "IntegrationError",
    "Lookup",
    "Principal",
    "client_address",
    "deny",
    "limit_headers",
    "raw_path_from_environ",
    "raw_path_from_scope",
]

#: What ``Checker.check`` takes as ``lookup``: a store, or ``key_id -> record | None``.
Lookup = Union[portcullis.MemoryStore, portcullis.Store, Callable[[str], Any]]

log = logging.getLogger("portcullis.integrations")

class IntegrationError(RuntimeError):
    """The app and its policy disagree (declared scopes on a path the policy calls
    public): a configuration error, raised rather than answered with an allow."""


@dataclass(frozen=True)
class Principal:
    """The verified caller: its key id (``None`` for an OAuth access token), owner and
    effective scopes (catalog order, implications expanded), and the whole decision
    (``warnings``, ``record``, …)."""

    key_id: Optional[str]
    owner: str
    scopes: Tuple[str, ...]
    decision: portcullis.Decision = field(repr=False, compare=False)

    @staticmethod
    def of(decision: portcullis.Decision) -> Optional[Principal]:
        """The principal of a decision whose key was verified, else ``None``."""
        if decision.owner is None:
            return None
        return Principal(decision.key_id, decision.owner, tuple(decision.scopes), decision)


@dataclass(frozen=True)
class Denial:
    """A refusal, ready to send: ``status``, ``headers`` and the JSON ``body``."""

    status: int
    headers: Tuple[Tuple[str, str], ...]
    body: Mapping[str, str]
    #: The scopes missing on a 403, in catalog order (for logs; the header names them).
    missing: Tuple[str, ...] = ()
    #: The internal reason, for logs only (``wrong_secret``, ``revoked``, …).
    reason: str = ""

    def json(self) -> bytes:
        """The body as JSON bytes."""
        return json.dumps(dict(self.body)).encode()

    @property
    def www_authenticate(self) -> Optional[str]:
        """The ``WWW-Authenticate`` value, if the denial carries one."""
        return next((v for k, v in self.headers if k == "WWW-Authenticate"), None)


def deny(decision: portcullis.Decision) -> Denial:
    """The response to a denied decision, exactly as the decision says."""
    body: Dict[str, str]
    if decision.status == 503:
        body = {"error": "temporarily_unavailable", "error_description": "Try again later"}
    elif decision.reason == "credits_exhausted":
        body = {"error": "credits_exhausted", "error_description": "No credits left"}
    elif decision.status == 429:
        body = {"error": "rate_limited", "error_description": "Too many requests"}
    else:
        body = {"error_description": decision.description or "Authentication required"}
        if decision.error:
            body = {"error": decision.error, **body}
    headers = tuple(decision.headers)
    return Denial(decision.status, headers, body, tuple(decision.missing), decision.reason)


class Guard:
    """A checker and a lookup, deciding requests for an integration.

    ``requirement(scopes)`` compiles declared scopes (all of them required; an
    expression such as ``"analytics:read | full_access"`` is one element) against the
    policy's catalog, raising ``portcullis.RequirementError`` for an unknown scope: call
    it when the app starts. ``decide`` is the per-request call."""

    def __init__(self, checker: portcullis.Checker, lookup: Lookup) -> None:
        self.checker = checker
        self.lookup = lookup
        self.policy = checker.policy
        self._compiled: Dict[Tuple[str, ...], portcullis.Requirement] = {}

    def requirement(self, scopes: Sequence[str]) -> Optional[portcullis.Requirement]:
        """The compiled requirement of declared scopes; ``None`` for none (any verified
        caller)."""
        key = tuple(scopes)
        if not key:
            return None
        compiled = self._compiled.get(key)
        if compiled is None:
            # Each element in parentheses: "a | b" declared beside "c" means (a | b) and c.
            compiled = self.policy.requirement(" ".join(f"({s})" for s in key))
            self._compiled[key] = compiled
        return compiled

    def decide(
        self,
        method: str,
        raw_path: str,
        *,
        authorization: Optional[Union[str, bytes]],
        query: Optional[Union[str, bytes]],
        https: bool,
        scopes: Optional[Sequence[str]] = None,
        client: Optional[str] = None,
    ) -> Union[Principal, Denial, None]:
        """Route-table mode (``scopes`` is ``None``): the policy's routes decide; the
        principal, ``None`` for a public route, or the denial. Declared mode (``scopes``
        a sequence, empty for "any verified caller"): the credential as ``check``
        decides it, then the declared scopes; the principal or the denial (``None`` when
        the policy's route is public and no scope is declared: no credential was
        checked). ``client``: the peer's address, for the checker's usage recorder
        (see :func:`client_address`)."""
        decision = self.checker.check(method, raw_path, lookup=self.lookup,
                                      authorization=authorization, query=query or None,
                                      https=https, client=client_address(client))
        if scopes is None:
            if not decision.allowed:
                return self._denied(method, raw_path, deny(decision))
            return Principal.of(decision)
        if decision.reason == "public":
            if scopes:
                raise IntegrationError(
                    f"{method} {raw_path} declares scopes but the policy's route for it is "
                    "public: remove one of the two")
            return None  # no credential was checked: the caller is nobody
        principal = Principal.of(decision)
        # A path the policy has no route for is decided by the declared scopes alone.
        if principal is None or not (decision.allowed or decision.reason == "unknown_route"):
            return self._denied(method, raw_path, deny(decision))
        return self.authorize(principal, scopes, method, raw_path)

    def authorize(self, principal: Principal, scopes: Sequence[str], method: str = "",
                  raw_path: str = "") -> Union[Principal, Denial]:
        """The principal if its scopes satisfy the declared ones, else the 403."""
        requirement = self.requirement(scopes)
        if requirement is not None:
            decided = principal.decision.require(requirement)
            if decided.reason == "insufficient_scope":
                return self._denied(method, raw_path, deny(decided))
        return principal

    @staticmethod
    def _denied(method: str, raw_path: str, denial: Denial) -> Denial:
        log.info("denied %s %s: %s", method, raw_path, denial.reason)
        return denial


def limit_headers(principal: Optional[Principal]) -> Tuple[Tuple[str, str], ...]:
    """The rate-limit header fields an allowed answer carries (``RateLimit-Policy``,
    ``RateLimit``); none for a public route or a checker without limits."""
    if principal is None:
        return ()
    return tuple(principal.decision.headers)


def client_address(host: Optional[str]) -> Optional[str]:
    """The peer address a framework reports, if it is an IP address (a Unix socket
    path or a test client's ``"testclient"`` is none)."""
    if not host:
        return None
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return None
    return host


def raw_path_from_environ(environ: Mapping[str, Any], decoded_path: str) -> str:
    """The path as received by a WSGI server, without the query string: Werkzeug's and
    gunicorn's servers keep it in ``RAW_URI`` (others in ``REQUEST_URI``); a server that
    keeps only the decoded path gets it encoded again."""
    raw = str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or "")
    if not raw:
        return urllib.parse.quote(decoded_path)
    if not raw.startswith("/"):  # absolute-form request target
        return urllib.parse.urlsplit(raw).path
    return raw.split("?", 1)[0]


def raw_path_from_scope(scope: Mapping[str, Any]) -> str:
    """The path as received by an ASGI server (``raw_path``, bytes), without the query
    string; the decoded ``path`` encoded again when the server gives no ``raw_path``."""
    raw = scope.get("raw_path")
    if not raw:
        return urllib.parse.quote(str(scope.get("path", "")))
    return bytes(raw).decode("latin-1").split("?", 1)[0]
