"""portcullis: API keys, scopes and auth decisions for Python backends.

Load the policy once, issue keys (the plaintext is shown once; store the record), and turn
each request into a :class:`Decision`::

    import portcullis

    policy = portcullis.Policy.from_file("claimport.toml")
    checker = portcullis.Checker(policy, portcullis.Peppers("p1", pepper_bytes))
    issued = checker.issue("Production Integration", "org_42", ["claims:read"])
    store = portcullis.MemoryStore()
    store.insert(issued.record)
    decision = checker.check("GET", "/v1/claims/7", lookup=store,
                             authorization=f"Bearer {issued.key}", https=True)

The native work happens in :mod:`portcullis._portcullis` (Rust; the GIL is released for
every check, verification, issuance and rotation). All objects are immutable or internally
synchronised and may be shared between threads.

Times shown to people (record fields) are aware UTC ``datetime`` objects; times passed in
(``now``, ``at``, ``not_before``) are int seconds since the epoch or aware datetimes;
durations (``ttl``, ``grace``) are int seconds or ``timedelta``.
"""

from __future__ import annotations

from portcullis._portcullis import (
    Checker,
    Credential,
    Decision,
    Grant,
    IssuedKey,
    KeyRecord,
    MemoryStore,
    ParsedKey,
    Peppers,
    Pending,
    Policy,
    Requirement,
    Rotation,
    ScopeCheck,
    Verification,
    __version__,
    extract_credential,
    legacy_sha256_hash,
)
from portcullis.errors import (
    ConfigurationError,
    CredentialError,
    IssueError,
    KeyLookupError,
    MalformedKeyError,
    PolicyError,
    PolicyIssue,
    PortcullisError,
    RecordError,
    RequirementError,
    StoreError,
)

__all__ = [
    "Checker",
    "ConfigurationError",
    "Credential",
    "CredentialError",
    "Decision",
    "Grant",
    "IssueError",
    "IssuedKey",
    "KeyLookupError",
    "KeyRecord",
    "MalformedKeyError",
    "MemoryStore",
    "ParsedKey",
    "Peppers",
    "Pending",
    "Policy",
    "PolicyError",
    "PolicyIssue",
    "PortcullisError",
    "RecordError",
    "Requirement",
    "RequirementError",
    "Rotation",
    "ScopeCheck",
    "StoreError",
    "Verification",
    "__version__",
    "extract_credential",
    "legacy_sha256_hash",
]
