"""FastAPI and Starlette: a security dependency with scopes declared on the route, and an
ASGI middleware for route-table mode.

::

    bearer = PortcullisBearer(checker, lookup=store)
    app = FastAPI()

    @app.get("/v1/claims")
    def claims(caller: Principal = Security(bearer, scopes=["claims:read"])):
        return {"owner": caller.owner}

    bearer.install(app)   # denial bodies as the decision says; scopes checked at startup

Route-table mode: ``app.add_middleware(PortcullisMiddleware, checker=…, lookup=…)``; the
principal is ``request.state.portcullis`` (``None`` on a public route), or the
``route_principal`` dependency.

Decisions made here:
- A denial raises :class:`PortcullisDenied`, an ``HTTPException`` with the decision's
  status and ``WWW-Authenticate``. FastAPI's own handler would wrap the body in
  ``{"detail": …}``: ``install`` adds the handler that sends the body as the other
  integrations do (``{"error": …, "error_description": …}``).
- ``install`` also checks every scope declared with this dependency, on every route,
  against the policy's catalog when the app starts (its lifespan): an unknown scope stops
  the startup with ``portcullis.RequirementError``. ``validate(app)`` does it at once.
- ``install`` makes the app's OpenAPI document carry the policy's security
  (``Policy.openapi(merge=…)``): its schemes (``apiKey``, and ``oauth2`` with the
  catalog's scopes when the policy has ``[oauth]``) and, on each operation a route of the
  policy decides, that route's requirement with implications expanded; operations the
  policy has no route for keep the scopes their ``Security(…)`` declares, under the same
  ``apiKey`` scheme (the dependency's default name).
- The check runs in a worker thread (the dependency is a plain function; the middleware
  hands it to one): a lookup callable may block on its database.
- HTTPS is the ASGI ``scheme`` (uvicorn sets it from ``X-Forwarded-Proto`` for the proxies
  it trusts); ``trust_forwarded_proto=True`` also believes that header from anyone.
- The middleware decides WebSocket connections too (a denied one is closed with 1008,
  policy violation), so no connection bypasses the route table.
- The client address for the checker's usage recorder is ``request.client.host``: the
  direct peer, or what uvicorn's ``--proxy-headers`` sets for proxies in
  ``--forwarded-allow-ips``; behind any other proxy it is the proxy's address.
"""

from __future__ import annotations

import contextlib
import functools
import json
from typing import Any, AsyncIterator, Callable, Dict, Iterator, List, Optional, Set, Union

import anyio.to_thread
from fastapi import FastAPI, HTTPException, Request
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.routing import APIRoute
from fastapi.security import SecurityScopes
from fastapi.security.base import SecurityBase
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

import portcullis
from portcullis.integrations._common import (
    Denial,
    Guard,
    IntegrationError,
    Lookup,
    Principal,
    limit_headers,
    raw_path_from_scope,
)

__all__ = [
    "IntegrationError",
    "PortcullisBearer",
    "PortcullisDenied",
    "PortcullisMiddleware",
    "Principal",
    "merge_policy_openapi",
    "route_principal",
]


class PortcullisDenied(HTTPException):
    """A denial: ``status_code`` and ``headers`` as the decision says; ``denial`` holds
    the JSON body."""

    def __init__(self, denial: Denial) -> None:
        super().__init__(denial.status, detail=dict(denial.body), headers=dict(denial.headers))
        self.denial = denial


def _denial_response(denial: Denial) -> JSONResponse:
    return JSONResponse(dict(denial.body), status_code=denial.status,
                        headers=dict(denial.headers))


async def _handle_denied(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PortcullisDenied)  # registered for this class only
    return _denial_response(exc.denial)


def _is_https(scope: Scope, trust_forwarded_proto: bool) -> bool:
    if scope.get("scheme") in ("https", "wss"):
        return True
    if not trust_forwarded_proto:
        return False
    headers: List[Any] = scope.get("headers", [])
    return any(k == b"x-forwarded-proto" and v == b"https" for k, v in headers)


def _header(scope: Scope, name: bytes) -> Optional[bytes]:
    return next((v for k, v in scope.get("headers", []) if k == name), None)


def _decide(guard: Guard, scope: Scope, trust_forwarded_proto: bool,
            scopes: Optional[List[str]]) -> Union[Principal, Denial, None]:
    return guard.decide(
        str(scope.get("method", "GET")),
        raw_path_from_scope(scope),
        authorization=_header(scope, b"authorization"),
        query=scope.get("query_string") or None,
        https=_is_https(scope, trust_forwarded_proto),
        scopes=scopes,
        client=_client_host(scope),
    )


def _client_host(scope: Scope) -> Optional[str]:
    """The ASGI ``client`` host (``request.client.host``): the direct peer, or the
    forwarded address when uvicorn's ``--proxy-headers`` trusts the proxy."""
    client = scope.get("client")
    return str(client[0]) if client else None


class PortcullisBearer(SecurityBase):
    """The security dependency: ``Security(bearer, scopes=[...])`` returns the
    :class:`Principal` the declared scopes allow (all of them; ``Depends(bearer)``: any
    verified caller) or raises :class:`PortcullisDenied`. In the OpenAPI document it is an
    HTTP bearer scheme named ``scheme_name``: ``apiKey`` by default, the name
    ``Policy.openapi`` gives the policy's bearer scheme."""

    def __init__(
        self,
        checker: portcullis.Checker,
        *,
        lookup: Lookup,
        trust_forwarded_proto: bool = False,
        scheme_name: str = "apiKey",
        description: Optional[str] = None,
    ) -> None:
        self.guard = Guard(checker, lookup)
        self.trust_forwarded_proto = trust_forwarded_proto
        self.model = HTTPBearerModel(bearerFormat="API key", description=description)
        self.scheme_name = scheme_name

    def __call__(self, request: Request, response: Response,
                 security_scopes: SecurityScopes) -> Principal:
        outcome = _decide(self.guard, request.scope, self.trust_forwarded_proto,
                          list(security_scopes.scopes))
        if isinstance(outcome, Denial):
            raise PortcullisDenied(outcome)
        if outcome is None:  # declared mode gives a principal or a denial
            raise IntegrationError("no principal for a declared requirement")
        for name, value in limit_headers(outcome):
            response.headers[name] = value  # FastAPI copies them to the view's response
        return outcome

    def declared(self, app: FastAPI) -> Iterator[List[str]]:
        """The scope lists declared with this dependency, route by route."""
        for route in app.routes:
            if isinstance(route, APIRoute):
                yield from self._walk(route.dependant, set())

    def _walk(self, dependant: Any, seen: Set[int]) -> Iterator[List[str]]:
        if id(dependant) in seen:
            return
        seen.add(id(dependant))
        for sub in dependant.dependencies:
            if sub.call is self:
                yield _scopes_of(sub)
            yield from self._walk(sub, seen)

    def validate(self, app: FastAPI) -> None:
        """Compiles every declared scope list: ``portcullis.RequirementError`` for a
        scope the policy's catalog does not have."""
        for scopes in self.declared(app):
            self.guard.requirement(scopes)

    def install(self, app: FastAPI, *, openapi: bool = True) -> None:
        """Answers denials with the decision's JSON body, validates the declared scopes
        when the app starts and (``openapi``) merges the policy's security into the
        app's OpenAPI document."""
        app.add_exception_handler(PortcullisDenied, _handle_denied)
        if openapi:
            merge_policy_openapi(app, self.guard.policy)
        inner = app.router.lifespan_context

        @contextlib.asynccontextmanager
        async def lifespan(asgi: Any) -> AsyncIterator[Any]:
            self.validate(app)
            async with inner(asgi) as state:
                yield state

        app.router.lifespan_context = lifespan


def merge_policy_openapi(app: FastAPI, policy: portcullis.Policy) -> None:
    """Makes ``app.openapi()`` (``/openapi.json``, ``/docs``) give FastAPI's document with
    the policy's security merged in by ``Policy.openapi``, computed once."""
    generate = app.openapi

    def openapi() -> Dict[str, Any]:
        if not merged:
            document: Dict[str, Any] = json.loads(policy.openapi(merge=json.dumps(generate())))
            app.openapi_schema = document
            merged.append(True)
        assert app.openapi_schema is not None  # set just above, once
        return app.openapi_schema

    merged: List[bool] = []
    app.openapi = openapi  # type: ignore[method-assign]


def _scopes_of(dependant: Any) -> List[str]:
    """A sub-dependency's accumulated scopes, in FastAPI before 0.120 (``security_scopes``)
    and after (``parent_oauth_scopes`` + ``own_oauth_scopes``)."""
    old = getattr(dependant, "security_scopes", None)
    if old is not None:
        return list(old)
    scopes: List[str] = list(getattr(dependant, "parent_oauth_scopes", None) or [])
    for s in getattr(dependant, "own_oauth_scopes", None) or []:
        if s not in scopes:
            scopes.append(s)
    return scopes


class PortcullisMiddleware:
    """Route-table mode: every HTTP request and WebSocket connection is decided by the
    policy's routes before the app sees it; the principal goes to
    ``request.state.portcullis``. ``exempt(path)`` skips paths the app guards itself."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        checker: portcullis.Checker,
        lookup: Lookup,
        trust_forwarded_proto: bool = False,
        exempt: Optional[Callable[[str], bool]] = None,
    ) -> None:
        self.app = app
        self.guard = Guard(checker, lookup)
        self.trust_forwarded_proto = trust_forwarded_proto
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or (
                self.exempt is not None and self.exempt(str(scope.get("path", "")))):
            await self.app(scope, receive, send)
            return
        outcome = await anyio.to_thread.run_sync(
            functools.partial(_decide, self.guard, scope, self.trust_forwarded_proto, None))
        if isinstance(outcome, Denial):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            else:
                await _denial_response(outcome)(scope, receive, send)
            return
        scope.setdefault("state", {})["portcullis"] = outcome
        extra = [(k.lower().encode("latin-1"), v.encode("latin-1"))
                 for k, v in limit_headers(outcome)]
        if not extra or scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_limits(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_limits)


def route_principal(request: Request) -> Optional[Principal]:
    """A dependency for route-table mode: the principal the middleware stored (``None``
    on a public route). Raises ``IntegrationError`` without the middleware."""
    state = request.scope.get("state", {})
    if "portcullis" not in state:
        raise IntegrationError("PortcullisMiddleware did not decide this request")
    principal: Optional[Principal] = state["portcullis"]
    return principal
