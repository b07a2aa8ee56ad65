"""Flask: an extension with ``@require(...)`` and the principal in ``g.portcullis``.

::

    auth = Portcullis(app, checker=checker, lookup=store)

    @app.get("/v1/claims")
    @auth.require("claims:read")
    def claims():
        return {"owner": g.portcullis.owner}

Route-table mode (``Portcullis(app, …, route_table=True)``): a ``before_request`` hook
lets the policy's routes decide every request (``exempt`` skips the paths the app guards
itself), and ``g.portcullis`` is the principal, ``None`` on a public route.

Decisions made here:
- HTTPS is ``request.is_secure`` unless ``is_https`` is given (an app behind a
  TLS-terminating proxy decides when to believe ``X-Forwarded-Proto``).
- ``@require`` compiles its scopes when it decorates (at import, when the app is built):
  an unknown scope raises ``portcullis.RequirementError`` then.
- The client address for the checker's usage recorder is ``request.remote_addr``: the
  direct peer (behind a proxy, wrap the app in Werkzeug's ``ProxyFix`` for the proxies
  you trust, so that it is the forwarded address).
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Optional, Tuple, TypeVar, cast

from flask import Flask, Response, g, request

import portcullis
from portcullis.integrations._common import (
    Denial,
    Guard,
    IntegrationError,
    Lookup,
    Principal,
    limit_headers,
    raw_path_from_environ,
)

__all__ = ["Denial", "IntegrationError", "Portcullis", "Principal", "current_principal"]

F = TypeVar("F", bound=Callable[..., Any])


def _response(denial: Denial) -> Response:
    response = Response(denial.json(), status=denial.status, mimetype="application/json")
    for name, value in denial.headers:
        response.headers[name] = value
    return response


class Portcullis:
    """The extension: ``Portcullis(app, checker=…, lookup=…)`` or ``init_app`` later."""

    def __init__(
        self,
        app: Optional[Flask] = None,
        *,
        checker: portcullis.Checker,
        lookup: Lookup,
        is_https: Optional[Callable[[], bool]] = None,
        route_table: bool = False,
        exempt: Optional[Callable[[], bool]] = None,
    ) -> None:
        self.guard = Guard(checker, lookup)
        self.is_https = is_https or (lambda: request.is_secure)
        self.route_table = route_table
        self.exempt = exempt
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Registers the route-table hook (in route-table mode)."""
        app.extensions["portcullis"] = self
        app.after_request(self._limit_headers)
        if self.route_table:
            app.before_request(self._before_request)

    def decide(self, scopes: Optional[Tuple[str, ...]] = None) -> Optional[Response]:
        """Decides the current request (route-table mode when ``scopes`` is ``None``):
        sets ``g.portcullis`` and returns ``None``, or returns the denial's response."""
        outcome = self.guard.decide(
            request.method,
            raw_path_from_environ(request.environ, request.path),
            authorization=request.headers.get("Authorization"),
            query=request.query_string,
            https=self.is_https(),
            scopes=scopes,
            client=request.remote_addr,
        )
        if isinstance(outcome, Denial):
            return _response(outcome)
        g.portcullis = outcome
        return None

    @staticmethod
    def _limit_headers(response: Response) -> Response:
        """Adds the rate-limit fields of the current request's decision (if allowed)."""
        for name, value in limit_headers(g.get("portcullis")):
            response.headers.setdefault(name, value)
        return response

    def _before_request(self) -> Optional[Response]:
        if self.exempt is not None and self.exempt():
            return None
        return self.decide()

    def require(self, *scopes: str) -> Callable[[F], F]:
        """A view decorator: the view runs only for a caller the declared scopes allow
        (all of them; none given: any verified caller), with the principal in
        ``g.portcullis``."""
        self.guard.requirement(scopes)  # now, so an unknown scope fails at startup

        def decorate(view: F) -> F:
            @functools.wraps(view)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                refused = self.decide(scopes)
                if refused is not None:
                    return refused
                return view(*args, **kwargs)

            return cast(F, wrapper)

        return decorate


def current_principal() -> Optional[Principal]:
    """The principal of the current request (``g.portcullis``), if any."""
    principal: Optional[Principal] = g.get("portcullis")
    return principal
