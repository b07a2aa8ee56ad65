"""Web-framework integrations: ``portcullis.integrations.fastapi`` (FastAPI and Starlette),
``portcullis.integrations.flask`` and ``portcullis.integrations.django`` (Django and
Django REST Framework).

Each module imports its framework when it is imported itself, never before: ``import
portcullis`` stays free of dependencies. Install a framework with its extra
(``pip install 'portcullis[fastapi]'``, ``[flask]``, ``[django]``).

Decisions made here, for all three:
- A denial is answered exactly as the :class:`~portcullis.Decision` says: its status, its
  ``WWW-Authenticate`` and a JSON body ``{"error": …, "error_description": …}`` (no
  ``error`` when the request had no credential, RFC 6750 §3.1); a 503 (the key database
  failed) is ``temporarily_unavailable`` with no ``WWW-Authenticate``. The rule is in
  ``_common.py``, once.
- Two modes. Route-table mode: the policy's own routes decide every request, as
  ``Checker.check`` does. Declared mode: a view declares the scopes it needs (FastAPI
  ``Security(…, scopes=[…])``, Flask ``@require(…)``, DRF ``required_scopes``); the
  credential is still checked by ``Checker.check`` (transport, key, lifecycle and the
  policy's route for the path, if it has one), then the declared scopes are evaluated
  with the policy's catalog (implications and wildcards included).
- Declared scopes are compiled when the app starts: an unknown scope is an error then,
  never a 500 on the first request.
"""
