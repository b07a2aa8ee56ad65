"""The enumerated strings of portcullis, as ``Literal`` types for annotations and
``match`` statements: ``Decision.reason`` is a :data:`Reason`, ``Decision.error`` a
:data:`BearerError`, ``AuthorizeOutcome.kind`` an :data:`AuthorizeKind`, ``Signal.kind`` a
:data:`SignalKind`, and so on.

The values are the core's (``crates/portcullis/src/codes.rs`` and ``Reason``): the test
suite checks every one the native module can return is listed here and nothing else.
New values may be added in a minor release; code that matches on them should keep a
default branch.

Each type is spelled as a ``Union`` of one-value ``Literal`` types, which a type checker
reads exactly as one ``Literal`` of all the values: mypy's stubtest takes a many-value
``Literal`` alias for a ``Union`` and wants a ``Union`` at runtime.
"""

from __future__ import annotations

from typing import Literal, Union

__all__ = [
    "Reason",
    "BearerError",
    "Detail",
    "WarningCode",
    "KeyState",
    "AuthorizeKind",
    "OAuthErrorCode",
    "CredentialSource",
    "ClientType",
    "SignalKind",
    "UsageDenial",
]

#: Why a decision came out as it did (``Decision.reason``, ``Verification.reason``): for
#: logs and metrics, never for the client. ``allowed`` and ``public`` are the allowed ones.
Reason = Union[
    Literal["allowed"],
    Literal["public"],
    Literal["insecure_transport"],
    Literal["ambiguous_path"],
    Literal["malformed_key"],
    Literal["wrong_environment"],
    Literal["unknown_key"],
    Literal["wrong_secret"],
    Literal["record_mismatch"],
    Literal["unknown_pepper"],
    Literal["corrupt_record"],
    Literal["legacy_hash_refused"],
    Literal["revoked"],
    Literal["expired"],
    Literal["not_yet_valid"],
    Literal["max_age_exceeded"],
    Literal["insufficient_scope"],
    Literal["unknown_route"],
    Literal["lookup_failed"],
    Literal["foreign_pending"],
    Literal["rate_limited"],
    Literal["limiter_unavailable"],
    Literal["credits_exhausted"],
    Literal["missing_credential"],
    Literal["wrong_scheme"],
    Literal["malformed_header"],
    Literal["both_present"],
    Literal["query_refused"],
    Literal["malformed_query"],
    Literal["access_token_malformed"],
    Literal["access_token_unknown_key"],
    Literal["access_token_bad_signature"],
    Literal["access_token_wrong_catalog"],
    Literal["access_token_expired"],
    Literal["access_token_not_yet_valid"],
    Literal["access_token_revoked"],
    Literal["access_token_time_required"],
    Literal["access_token_revocations_stale"],
]

#: The RFC 6750 error code a denial sends (``Decision.error``).
BearerError = Union[
    Literal["invalid_request"],
    Literal["invalid_token"],
    Literal["insufficient_scope"],
]

#: What is wrong underneath a ``malformed_key`` (the key error) or an ``ambiguous_path``
#: (the path error) reason (``Decision.detail``, ``Verification.detail``).
Detail = Union[
    Literal["shape"],
    Literal["unknown_kind"],
    Literal["unknown_env"],
    Literal["length"],
    Literal["character"],
    Literal["checksum"],
    Literal["not_absolute"],
    Literal["invalid_byte"],
    Literal["bad_escape"],
    Literal["encoded_separator"],
    Literal["empty_segment"],
    Literal["dot_segment"],
    Literal["path_params"],
]

#: A non-fatal observation on a decision (``Decision.warnings``).
WarningCode = Union[
    Literal["rotation_due"],
    Literal["expiring_soon"],
    Literal["credential_in_query"],
    Literal["needs_rehash"],
    Literal["unknown_scopes"],
    Literal["new_network"],
    Literal["after_dormancy"],
]

#: A key's lifecycle state (``KeyRecord.state``).
KeyState = Union[
    Literal["active"],
    Literal["revoked"],
    Literal["expired"],
    Literal["not_yet_valid"],
]

#: What to do with an authorization request (``AuthorizeOutcome.kind``): show the consent
#: screen, redirect with the error, or show the error without redirecting.
AuthorizeKind = Union[
    Literal["valid"],
    Literal["redirect"],
    Literal["show_error"],
]

#: An OAuth 2.0 error code (RFC 6749 §4.1.2.1 and §5.2, RFC 7009): ``AuthorizeOutcome.error``.
OAuthErrorCode = Union[
    Literal["invalid_request"],
    Literal["invalid_client"],
    Literal["invalid_grant"],
    Literal["unauthorized_client"],
    Literal["unsupported_grant_type"],
    Literal["unsupported_response_type"],
    Literal["invalid_scope"],
    Literal["access_denied"],
    Literal["server_error"],
    Literal["temporarily_unavailable"],
    Literal["unsupported_token_type"],
]

#: Where a credential was found (``Credential.source``).
CredentialSource = Union[
    Literal["header"],
    Literal["query"],
]

#: An OAuth client's type (``Client.client_type``).
ClientType = Union[
    Literal["public"],
    Literal["confidential"],
]

#: What an unusual-activity signal reports (``Signal.kind``, ``UsageRecorder.drain``).
SignalKind = Union[
    Literal["new_network"],
    Literal["volume"],
    Literal["after_dormancy"],
    Literal["wrong_secret_burst"],
    Literal["rotation_due"],
]

#: Why a use was denied, as usage counts it (the keys of ``HourCounts.denied``):
#: ``other`` counts ``corrupt_record``, ``unknown_pepper`` and ``legacy_hash_refused``.
UsageDenial = Union[
    Literal["wrong_secret"],
    Literal["revoked"],
    Literal["expired"],
    Literal["not_yet_valid"],
    Literal["max_age_exceeded"],
    Literal["insufficient_scope"],
    Literal["unknown_route"],
    Literal["other"],
]
