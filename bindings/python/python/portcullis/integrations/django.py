"""Django and Django REST Framework: an authentication class, a permission class with
the scopes a view declares, and a plain Django middleware for route-table mode.

Settings::

    INSTALLED_APPS = [..., "portcullis.integrations.django"]   # the startup check
    PORTCULLIS = {"CHECKER": "myapp.auth.checker",   # an object, or its dotted path
                  "LOOKUP": "myapp.auth.lookup"}
    REST_FRAMEWORK = {
        "DEFAULT_AUTHENTICATION_CLASSES": [
            "portcullis.integrations.django.PortcullisAuthentication"],
        "DEFAULT_PERMISSION_CLASSES": ["portcullis.integrations.django.HasScopes"],
    }

    class Claims(APIView):
        required_scopes = ["claims:read"]

``request.auth`` is the :class:`Principal`; ``request.user`` a :class:`PrincipalUser`.

Decisions made here:
- A request without a credential (or with another scheme, e.g. Basic) is anonymous to
  ``PortcullisAuthentication``, so other authentication classes may try; ``HasScopes``
  then answers the decision's 401 (with its ``WWW-Authenticate``). Any other denial
  (invalid key, HTTPS required, …) is answered at once.
- A view without ``required_scopes`` needs a verified caller, any scopes.
- Denials are ``PortcullisDenied`` (an ``APIException``): DRF's handler sends their body
  and ``WWW-Authenticate`` as they are.
- Every view's ``required_scopes`` is compiled against the policy's catalog by a system
  check (``manage.py check``, ``runserver``, the test runner): an unknown scope is
  ``portcullis.E001``. ``validate_views()`` raises ``RequirementError`` instead.
- HTTPS is ``request.is_secure()`` (``SECURE_PROXY_SSL_HEADER`` behind a proxy).
- The client address for the checker's usage recorder is ``REMOTE_ADDR``: the direct
  peer (behind a proxy you trust, a middleware of yours sets it from the forwarded
  address; Django has no setting for it).
"""

# Django and DRF ship no type information (django-stubs is a separate, optional package).
# mypy: disable-error-code="import-untyped"
# Subclassing their classes is then subclassing Any: `type: ignore[misc, unused-ignore]`.

from __future__ import annotations

from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import django.conf
from django.core import checks
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.module_loading import import_string
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import APIException

import portcullis
from portcullis.integrations._common import (
    Denial,
    Guard,
    IntegrationError,
    Principal,
    limit_headers,
    raw_path_from_environ,
    raw_path_from_scope,
)

__all__ = [
    "HasScopes",
    "IntegrationError",
    "PortcullisAuthentication",
    "PortcullisDenied",
    "PortcullisMiddleware",
    "Principal",
    "PrincipalUser",
    "validate_views",
]

_guards: Dict[Tuple[int, int], Tuple[Any, Any, Guard]] = {}


def _setting(name: str) -> Any:
    value = getattr(django.conf.settings, "PORTCULLIS", {}).get(name)
    if value is None:
        raise IntegrationError(f"settings.PORTCULLIS[{name!r}] is not set")
    return import_string(value) if isinstance(value, str) else value


def guard() -> Guard:
    """The guard of ``settings.PORTCULLIS`` (one per checker and lookup)."""
    checker, lookup = _setting("CHECKER"), _setting("LOOKUP")
    key = (id(checker), id(lookup))
    held = _guards.get(key)
    if held is None:
        held = _guards[key] = (checker, lookup, Guard(checker, lookup))  # kept: ids stay
    return held[2]


def _decide(request: HttpRequest, scopes: Optional[Sequence[str]]
            ) -> Union[Principal, Denial, None]:
    asgi_scope = getattr(request, "scope", None)
    raw = (raw_path_from_scope(asgi_scope) if asgi_scope is not None
           else raw_path_from_environ(request.META, request.path))
    return guard().decide(
        request.method or "GET",
        raw,
        authorization=request.META.get("HTTP_AUTHORIZATION"),
        query=request.META.get("QUERY_STRING") or None,
        https=request.is_secure(),
        scopes=scopes,
        client=request.META.get("REMOTE_ADDR"),
    )


class PortcullisDenied(APIException):  # type: ignore[misc, unused-ignore]
    """A denial: the decision's status, ``WWW-Authenticate`` and JSON body."""

    def __init__(self, denial: Denial) -> None:
        super().__init__(detail=dict(denial.body))
        self.status_code = denial.status
        self.auth_header = denial.www_authenticate
        # DRF's handler sends `wait` as Retry-After (a 429's).
        retry_after = next((v for k, v in denial.headers if k == "Retry-After"), None)
        self.wait = int(retry_after) if retry_after is not None else None
        self.denial = denial


class PrincipalUser:
    """``request.user`` for a verified caller: authenticated, named by its owner."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, principal: Principal) -> None:
        self.principal = principal
        self.username = self.pk = principal.owner

    def __str__(self) -> str:
        return self.principal.owner


def _no_credential(denial: Denial) -> bool:
    # A 401 without an error code: no credential, or another scheme (RFC 6750 §3.1).
    return denial.status == 401 and "error" not in denial.body


class PortcullisAuthentication(BaseAuthentication):  # type: ignore[misc, unused-ignore]
    """DRF authentication: the credential as ``Checker.check`` decides it (and the
    policy's route for the path, if it has one)."""

    def authenticate(self, request: Any) -> Optional[Tuple[PrincipalUser, Principal]]:
        outcome = _decide(request._request, ())
        if outcome is None:  # a route the policy calls public: anonymous
            return None
        if isinstance(outcome, Denial):
            if _no_credential(outcome):
                request._request.portcullis_denial = outcome  # answered by HasScopes
                return None
            raise PortcullisDenied(outcome)
        return PrincipalUser(outcome), outcome

    def authenticate_header(self, request: Any) -> Optional[str]:
        denial: Optional[Denial] = getattr(request._request, "portcullis_denial", None)
        return denial.www_authenticate if denial is not None else None


class HasScopes:
    """DRF permission: the caller's scopes satisfy the view's ``required_scopes`` (all of
    them; an element may be an expression such as ``"analytics:read | full_access"``).

    A plain class with DRF's two methods, not a ``BasePermission`` (whose metaclass mypy's
    stubtest cannot see): compose it on the right, ``IsAdminUser | HasScopes``."""

    def has_permission(self, request: Any, view: Any) -> bool:
        principal = request.auth
        if not isinstance(principal, Principal):
            denial: Optional[Denial] = getattr(request._request, "portcullis_denial", None)
            if denial is None:
                raise IntegrationError(
                    f"{type(view).__name__} needs a portcullis caller but the policy's route "
                    "for this path is public")
            raise PortcullisDenied(denial)
        outcome = guard().authorize(principal, list(getattr(view, "required_scopes", ())),
                                    request.method, request.path)
        if isinstance(outcome, Denial):
            raise PortcullisDenied(outcome)
        return True

    def has_object_permission(self, request: Any, view: Any, obj: Any) -> bool:
        """Scopes are per view, not per object: decided by ``has_permission``."""
        return True


class PortcullisMiddleware:
    """Plain Django, route-table mode: the policy's routes decide every request but the
    paths under ``settings.PORTCULLIS["EXEMPT"]`` (prefixes); the principal is
    ``request.portcullis`` (``None`` on a public route)."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        exempt: Sequence[str] = getattr(django.conf.settings, "PORTCULLIS", {}).get("EXEMPT", ())
        if not any(request.path.startswith(p) for p in exempt):
            outcome = _decide(request, None)
            if isinstance(outcome, Denial):
                refusal = JsonResponse(dict(outcome.body), status=outcome.status)
                for name, value in outcome.headers:
                    refusal[name] = value
                return refusal
            request.portcullis = outcome
        response: HttpResponse = self.get_response(request)
        for name, value in limit_headers(getattr(request, "portcullis", None)):
            if name not in response:
                response[name] = value
        return response


def _views(patterns: Sequence[Any], prefix: str = "") -> Iterator[Tuple[str, Any]]:
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _views(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            cls = getattr(p.callback, "cls", None) or getattr(p.callback, "view_class", None)
            yield prefix + str(p.pattern), cls or p.callback


def _declared() -> Iterator[Tuple[str, List[str]]]:
    for route, view in _views(get_resolver().url_patterns):
        scopes = getattr(view, "required_scopes", None)
        if scopes is not None:
            yield route, list(scopes)


def validate_views() -> None:
    """Compiles every view's ``required_scopes``: ``portcullis.RequirementError`` for a
    scope the policy's catalog does not have."""
    for _, scopes in _declared():
        guard().requirement(scopes)


def check_required_scopes(app_configs: Any = None, **kwargs: Any) -> List[checks.CheckMessage]:
    """The system check: ``portcullis.E001`` per view whose scopes do not compile."""
    errors: List[checks.CheckMessage] = []
    for route, scopes in _declared():
        try:
            guard().requirement(scopes)
        except portcullis.RequirementError as e:
            errors.append(checks.Error(f"{route}: required_scopes {scopes}: {e}",
                                       id="portcullis.E001"))
    return errors


checks.register(check_required_scopes, "portcullis")
