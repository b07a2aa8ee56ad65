"""The Django integration against Django and Django REST Framework themselves: the
authentication and permission classes, the system check, the plain middleware."""

from __future__ import annotations

import types
from typing import Any, Dict, Iterator, List, Optional, Tuple

import django
import pytest
from django.conf import settings

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="tests-only",
        ALLOWED_HOSTS=["testserver"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth",
                        "rest_framework", "portcullis.integrations.django"],
        DATABASES={},
        MIDDLEWARE=[],
        REST_FRAMEWORK={
            "DEFAULT_AUTHENTICATION_CLASSES": [
                "portcullis.integrations.django.PortcullisAuthentication"],
            "DEFAULT_PERMISSION_CLASSES": ["portcullis.integrations.django.HasScopes"],
        },
    )
    django.setup()

from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.http import HttpRequest, JsonResponse
from django.test import Client, override_settings
from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

import portcullis
from portcullis.integrations.django import Principal, validate_views

REALM = 'Bearer realm="claimport"'


class Reports(APIView):  # type: ignore[misc]
    required_scopes = ("claims:write",)  # /reports is not in the policy: this decides

    def get(self, request: Request) -> Response:
        p: Principal = request.auth
        return Response({"owner": p.owner, "scopes": list(p.scopes), "user": str(request.user)})


class WhoAmI(APIView):  # type: ignore[misc]
    def get(self, request: Request) -> Response:
        return Response({"owner": request.auth.owner})


def plain(request: HttpRequest) -> JsonResponse:
    p: Optional[Principal] = getattr(request, "portcullis", None)
    return JsonResponse({"owner": p.owner if p else None})


urlpatterns = [
    path("reports", Reports.as_view()),
    path("whoami", WhoAmI.as_view()),
    path("v1/claims", plain),
    path("v1/orders", plain),
    path("health", plain),
]


class Misdeclared(APIView):  # type: ignore[misc]
    required_scopes = ("claims:delete",)


@pytest.fixture()
def keys(checker: portcullis.Checker, store: portcullis.MemoryStore) -> Iterator[Dict[str, str]]:
    out = {}
    for name, scopes in (("reader", ["claims:read"]), ("writer", ["claims:write"])):
        issued = checker.issue(name, "org_42", scopes)
        store.insert(issued.record)
        out[name] = issued.key
    with override_settings(PORTCULLIS={"CHECKER": checker, "LOOKUP": store}):
        yield out


def get(path: str, key: Optional[str] = None, *, secure: bool = True
        ) -> Tuple[int, Any, Dict[str, str]]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    r = Client().get(path, headers=headers, secure=secure)
    return r.status_code, r.json(), dict(r.headers)


def test_declared_scopes_allow_and_give_the_principal(keys: Dict[str, str]) -> None:
    assert get("/reports", keys["writer"])[:2] == (
        200, {"owner": "org_42", "scopes": ["claims:read", "claims:write"], "user": "org_42"})
    assert get("/whoami", keys["reader"])[:2] == (200, {"owner": "org_42"})


def test_no_credential_is_401_with_www_authenticate(keys: Dict[str, str]) -> None:
    status, body, headers = get("/reports")
    assert (status, headers["WWW-Authenticate"]) == (401, REALM)
    assert body == {"error_description": "Authentication required"}
    status, body, _ = get("/reports", "sk_live_garbage")
    assert (status, body["error"]) == (401, "invalid_token")
    status, body, headers = get("/reports", keys["writer"], secure=False)
    assert (status, body["error"]) == (400, "invalid_request")
    assert 'error_description="HTTPS is required"' in headers["WWW-Authenticate"]


def test_missing_declared_scope_is_403_naming_it_as_the_core_does(
        keys: Dict[str, str], checker: portcullis.Checker,
        store: portcullis.MemoryStore) -> None:
    status, body, headers = get("/reports", keys["reader"])
    core = checker.check("POST", "/v1/claims", lookup=store,
                         authorization=f"Bearer {keys['reader']}", https=True)
    assert (status, headers["WWW-Authenticate"]) == (403, core.www_authenticate)
    assert 'scope="claims:write"' in headers["WWW-Authenticate"]
    assert body == {"error": "insufficient_scope", "error_description": core.description}


def test_unknown_declared_scope_fails_the_startup_check(keys: Dict[str, str]) -> None:
    call_command("check")  # the app's own views compile
    misdeclared = types.ModuleType("misdeclared_urls")
    misdeclared.urlpatterns = [path("x", Misdeclared.as_view())]  # type: ignore[attr-defined]
    with override_settings(ROOT_URLCONF=misdeclared):
        with pytest.raises(SystemCheckError, match=r"portcullis\.E001"):
            call_command("check")
        with pytest.raises(portcullis.RequirementError):
            validate_views()


def test_middleware_lets_the_route_table_decide(
        keys: Dict[str, str], checker: portcullis.Checker,
        store: portcullis.MemoryStore) -> None:
    middleware: List[str] = ["portcullis.integrations.django.PortcullisMiddleware"]
    with override_settings(MIDDLEWARE=middleware, PORTCULLIS={
            "CHECKER": checker, "LOOKUP": store, "EXEMPT": ["/reports", "/whoami"]}):
        assert get("/v1/claims", keys["reader"])[:2] == (200, {"owner": "org_42"})
        status, body, headers = get("/v1/orders", keys["reader"])
        assert (status, body["error"]) == (403, "insufficient_scope")
        assert headers["WWW-Authenticate"].endswith('scope="orders:read"')
        assert get("/health")[:2] == (200, {"owner": None})
        status, _, headers = get("/v1/claims")
        assert (status, headers["WWW-Authenticate"]) == (401, REALM)
