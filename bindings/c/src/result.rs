//! The result codes every fallible call returns, with a static message for each.

use core_lib::oauth::{AccessKeyError, ClientError, OAuthErrorCode, TokenError};
use core_lib::{ExtractError, IssueError, KeyError, PepperError, RecordError, StoreError};
use std::ffi::{CStr, c_char};

/// The outcome of a fallible call. The numbers are stable and never reused; new codes get
/// new numbers. On any code other than `PORTCULLIS_OK` no out-parameter was written (the
/// one exception, `PORTCULLIS_BUFFER_TOO_SMALL`, reports the needed length; see
/// `portcullis_last_error`). A text for every code: `portcullis_result_message`; the
/// detail of the last failure on this thread: `portcullis_last_error`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
pub enum portcullis_result {
    /// Success.
    PORTCULLIS_OK = 0,
    /// A required pointer argument was NULL.
    PORTCULLIS_NULL_PARAMETER = 1,
    /// A text argument is not valid UTF-8.
    PORTCULLIS_INVALID_UTF8 = 2,
    /// A length or count is larger than any object can be (over `PTRDIFF_MAX` bytes).
    PORTCULLIS_INVALID_LENGTH = 3,
    /// The caller's buffer is too small; the needed length was reported.
    PORTCULLIS_BUFFER_TOO_SMALL = 4,
    /// An internal error (a Rust panic) was caught; the call had no effect.
    PORTCULLIS_PANIC = 5,
    /// An argument is out of its documented range.
    PORTCULLIS_INVALID_ARGUMENT = 6,
    /// A file could not be read.
    PORTCULLIS_IO = 7,
    /// The policy text is invalid; the detail lists every problem with its line.
    PORTCULLIS_POLICY_INVALID = 100,
    /// A pepper id is not 1-32 characters of `[A-Za-z0-9_-]`.
    PORTCULLIS_PEPPER_BAD_ID = 110,
    /// A pepper secret is shorter than 32 bytes.
    PORTCULLIS_PEPPER_TOO_SHORT = 111,
    /// Two peppers share an id.
    PORTCULLIS_PEPPER_DUPLICATE = 112,
    /// No pepper has this id.
    PORTCULLIS_PEPPER_UNKNOWN = 113,
    /// Not a key of the form `kind_env_id_secret`.
    PORTCULLIS_KEY_SHAPE = 120,
    /// The key kind is not accepted by the policy.
    PORTCULLIS_KEY_UNKNOWN_KIND = 121,
    /// The key environment is not accepted by the policy.
    PORTCULLIS_KEY_UNKNOWN_ENV = 122,
    /// The key (or key id) has the wrong length.
    PORTCULLIS_KEY_LENGTH = 123,
    /// The key (or key id) has an invalid character.
    PORTCULLIS_KEY_CHARACTER = 124,
    /// The key checksum does not match (a typo).
    PORTCULLIS_KEY_CHECKSUM = 125,
    /// The request carries no credential.
    PORTCULLIS_CREDENTIAL_MISSING = 130,
    /// The Authorization header uses another scheme than Bearer.
    PORTCULLIS_CREDENTIAL_WRONG_SCHEME = 131,
    /// The Authorization header is not `Bearer <token>`.
    PORTCULLIS_CREDENTIAL_MALFORMED_HEADER = 132,
    /// The credential was sent in both the header and the query string.
    PORTCULLIS_CREDENTIAL_BOTH_PRESENT = 133,
    /// The credential is in the query string, which the policy refuses.
    PORTCULLIS_CREDENTIAL_QUERY_REFUSED = 134,
    /// The credential query parameter is repeated or empty.
    PORTCULLIS_CREDENTIAL_MALFORMED_QUERY = 135,
    /// The record JSON does not parse or has unknown fields.
    PORTCULLIS_RECORD_JSON = 140,
    /// The record's kind or env is not a valid label.
    PORTCULLIS_RECORD_BAD_LABEL = 141,
    /// The record's hash string does not decode.
    PORTCULLIS_RECORD_HASH = 142,
    /// The store already holds a record with this id.
    PORTCULLIS_STORE_DUPLICATE = 150,
    /// The store holds no record with this id.
    PORTCULLIS_STORE_NOT_FOUND = 151,
    /// A scope or pattern the policy's catalog does not know.
    PORTCULLIS_ISSUE_UNKNOWN_SCOPE = 160,
    /// The key kind is not accepted by the policy.
    PORTCULLIS_ISSUE_KIND = 161,
    /// The environment is not accepted by the policy.
    PORTCULLIS_ISSUE_ENV = 162,
    /// The name or owner is empty or longer than 256 bytes.
    PORTCULLIS_ISSUE_FIELD = 163,
    /// The key is revoked or expired and cannot be rotated.
    PORTCULLIS_ISSUE_INACTIVE = 164,
    /// The operating system's random source failed.
    PORTCULLIS_ISSUE_RANDOM = 165,
    /// A key lifetime of zero seconds (a rotated record whose lifetime ends at its
    /// creation): the key would be expired when issued.
    PORTCULLIS_ISSUE_TTL = 166,
    /// The requirement expression is invalid (unknown scope, syntax, limits).
    PORTCULLIS_REQUIREMENT_INVALID = 170,
    /// A lookup failed (the code a lookup callback returns when its database fails).
    PORTCULLIS_LOOKUP_FAILED = 180,
    /// An access-token key id is not 1-32 characters of `[A-Za-z0-9-]`.
    PORTCULLIS_ACCESS_KEY_BAD_ID = 190,
    /// An access-token key secret is shorter than 32 bytes.
    PORTCULLIS_ACCESS_KEY_TOO_SHORT = 191,
    /// Two access-token keys share an id.
    PORTCULLIS_ACCESS_KEY_DUPLICATE = 192,
    /// No access-token key has this id (or it is the primary and cannot be removed).
    PORTCULLIS_ACCESS_KEY_UNKNOWN = 193,
    /// Not an access token of the form `at.{kid}.{payload}.{mac}`.
    PORTCULLIS_ACCESS_TOKEN_MALFORMED = 200,
    /// The access token names a key id the verifier does not hold.
    PORTCULLIS_ACCESS_TOKEN_UNKNOWN_KEY = 201,
    /// The access token's MAC does not match.
    PORTCULLIS_ACCESS_TOKEN_BAD_SIGNATURE = 202,
    /// The access token was minted for another scope catalog.
    PORTCULLIS_ACCESS_TOKEN_WRONG_CATALOG = 203,
    /// The access token has expired.
    PORTCULLIS_ACCESS_TOKEN_EXPIRED = 204,
    /// The access token was issued in the future (beyond the clock skew).
    PORTCULLIS_ACCESS_TOKEN_NOT_YET_VALID = 205,
    /// The access token's grant family is revoked, or it predates the revocation epoch.
    PORTCULLIS_ACCESS_TOKEN_REVOKED = 206,
    /// Verifying an access token needs the time.
    PORTCULLIS_ACCESS_TOKEN_TIME_REQUIRED = 207,
    /// A client id is empty, longer than 255 bytes, or has `:` or control characters.
    PORTCULLIS_CLIENT_BAD_ID = 210,
    /// A redirect URI of a client registration is not acceptable.
    PORTCULLIS_CLIENT_REDIRECT = 211,
    /// A client registration has no redirect URI.
    PORTCULLIS_CLIENT_NO_REDIRECT = 212,
    /// A confidential client without a secret hash, or a public client with one.
    PORTCULLIS_CLIENT_SECRET = 213,
    /// The client JSON does not parse or has unknown fields.
    PORTCULLIS_CLIENT_JSON = 214,
    /// OAuth `invalid_request`.
    PORTCULLIS_OAUTH_INVALID_REQUEST = 220,
    /// OAuth `invalid_client`.
    PORTCULLIS_OAUTH_INVALID_CLIENT = 221,
    /// OAuth `invalid_grant`.
    PORTCULLIS_OAUTH_INVALID_GRANT = 222,
    /// OAuth `unauthorized_client`.
    PORTCULLIS_OAUTH_UNAUTHORIZED_CLIENT = 223,
    /// OAuth `unsupported_grant_type`.
    PORTCULLIS_OAUTH_UNSUPPORTED_GRANT_TYPE = 224,
    /// OAuth `unsupported_response_type`.
    PORTCULLIS_OAUTH_UNSUPPORTED_RESPONSE_TYPE = 225,
    /// OAuth `invalid_scope`.
    PORTCULLIS_OAUTH_INVALID_SCOPE = 226,
    /// OAuth `access_denied` (e.g. no scope was approved).
    PORTCULLIS_OAUTH_ACCESS_DENIED = 227,
    /// OAuth `server_error` (e.g. a store callback failed).
    PORTCULLIS_OAUTH_SERVER_ERROR = 228,
    /// OAuth `temporarily_unavailable`.
    PORTCULLIS_OAUTH_TEMPORARILY_UNAVAILABLE = 229,
    /// OAuth `unsupported_token_type`.
    PORTCULLIS_OAUTH_UNSUPPORTED_TOKEN_TYPE = 230,
}

use portcullis_result as R;

impl portcullis_result {
    /// Every code, for tables and tests.
    pub(crate) const ALL: [R; 67] = [
        R::PORTCULLIS_OK,
        R::PORTCULLIS_NULL_PARAMETER,
        R::PORTCULLIS_INVALID_UTF8,
        R::PORTCULLIS_INVALID_LENGTH,
        R::PORTCULLIS_BUFFER_TOO_SMALL,
        R::PORTCULLIS_PANIC,
        R::PORTCULLIS_INVALID_ARGUMENT,
        R::PORTCULLIS_IO,
        R::PORTCULLIS_POLICY_INVALID,
        R::PORTCULLIS_PEPPER_BAD_ID,
        R::PORTCULLIS_PEPPER_TOO_SHORT,
        R::PORTCULLIS_PEPPER_DUPLICATE,
        R::PORTCULLIS_PEPPER_UNKNOWN,
        R::PORTCULLIS_KEY_SHAPE,
        R::PORTCULLIS_KEY_UNKNOWN_KIND,
        R::PORTCULLIS_KEY_UNKNOWN_ENV,
        R::PORTCULLIS_KEY_LENGTH,
        R::PORTCULLIS_KEY_CHARACTER,
        R::PORTCULLIS_KEY_CHECKSUM,
        R::PORTCULLIS_CREDENTIAL_MISSING,
        R::PORTCULLIS_CREDENTIAL_WRONG_SCHEME,
        R::PORTCULLIS_CREDENTIAL_MALFORMED_HEADER,
        R::PORTCULLIS_CREDENTIAL_BOTH_PRESENT,
        R::PORTCULLIS_CREDENTIAL_QUERY_REFUSED,
        R::PORTCULLIS_CREDENTIAL_MALFORMED_QUERY,
        R::PORTCULLIS_RECORD_JSON,
        R::PORTCULLIS_RECORD_BAD_LABEL,
        R::PORTCULLIS_RECORD_HASH,
        R::PORTCULLIS_STORE_DUPLICATE,
        R::PORTCULLIS_STORE_NOT_FOUND,
        R::PORTCULLIS_ISSUE_UNKNOWN_SCOPE,
        R::PORTCULLIS_ISSUE_KIND,
        R::PORTCULLIS_ISSUE_ENV,
        R::PORTCULLIS_ISSUE_FIELD,
        R::PORTCULLIS_ISSUE_INACTIVE,
        R::PORTCULLIS_ISSUE_RANDOM,
        R::PORTCULLIS_ISSUE_TTL,
        R::PORTCULLIS_REQUIREMENT_INVALID,
        R::PORTCULLIS_LOOKUP_FAILED,
        R::PORTCULLIS_ACCESS_KEY_BAD_ID,
        R::PORTCULLIS_ACCESS_KEY_TOO_SHORT,
        R::PORTCULLIS_ACCESS_KEY_DUPLICATE,
        R::PORTCULLIS_ACCESS_KEY_UNKNOWN,
        R::PORTCULLIS_ACCESS_TOKEN_MALFORMED,
        R::PORTCULLIS_ACCESS_TOKEN_UNKNOWN_KEY,
        R::PORTCULLIS_ACCESS_TOKEN_BAD_SIGNATURE,
        R::PORTCULLIS_ACCESS_TOKEN_WRONG_CATALOG,
        R::PORTCULLIS_ACCESS_TOKEN_EXPIRED,
        R::PORTCULLIS_ACCESS_TOKEN_NOT_YET_VALID,
        R::PORTCULLIS_ACCESS_TOKEN_REVOKED,
        R::PORTCULLIS_ACCESS_TOKEN_TIME_REQUIRED,
        R::PORTCULLIS_CLIENT_BAD_ID,
        R::PORTCULLIS_CLIENT_REDIRECT,
        R::PORTCULLIS_CLIENT_NO_REDIRECT,
        R::PORTCULLIS_CLIENT_SECRET,
        R::PORTCULLIS_CLIENT_JSON,
        R::PORTCULLIS_OAUTH_INVALID_REQUEST,
        R::PORTCULLIS_OAUTH_INVALID_CLIENT,
        R::PORTCULLIS_OAUTH_INVALID_GRANT,
        R::PORTCULLIS_OAUTH_UNAUTHORIZED_CLIENT,
        R::PORTCULLIS_OAUTH_UNSUPPORTED_GRANT_TYPE,
        R::PORTCULLIS_OAUTH_UNSUPPORTED_RESPONSE_TYPE,
        R::PORTCULLIS_OAUTH_INVALID_SCOPE,
        R::PORTCULLIS_OAUTH_ACCESS_DENIED,
        R::PORTCULLIS_OAUTH_SERVER_ERROR,
        R::PORTCULLIS_OAUTH_TEMPORARILY_UNAVAILABLE,
        R::PORTCULLIS_OAUTH_UNSUPPORTED_TOKEN_TYPE,
    ];

    /// The code for a raw number, if it is one.
    pub(crate) fn from_u32(code: u32) -> Option<R> {
        R::ALL.into_iter().find(|r| *r as u32 == code)
    }

    /// The static, NUL-terminated message and symbolic name.
    pub(crate) const fn texts(self) -> (&'static CStr, &'static CStr) {
        match self {
            R::PORTCULLIS_OK => (c"success", c"PORTCULLIS_OK"),
            R::PORTCULLIS_NULL_PARAMETER => (
                c"a required pointer argument was NULL",
                c"PORTCULLIS_NULL_PARAMETER",
            ),
            R::PORTCULLIS_INVALID_UTF8 => (
                c"a text argument is not valid UTF-8",
                c"PORTCULLIS_INVALID_UTF8",
            ),
            R::PORTCULLIS_INVALID_LENGTH => (
                c"a length or count is impossibly large",
                c"PORTCULLIS_INVALID_LENGTH",
            ),
            R::PORTCULLIS_BUFFER_TOO_SMALL => {
                (c"the buffer is too small", c"PORTCULLIS_BUFFER_TOO_SMALL")
            }
            R::PORTCULLIS_PANIC => (
                c"internal error (caught panic); the call had no effect",
                c"PORTCULLIS_PANIC",
            ),
            R::PORTCULLIS_INVALID_ARGUMENT => (
                c"an argument is out of range",
                c"PORTCULLIS_INVALID_ARGUMENT",
            ),
            R::PORTCULLIS_IO => (c"a file could not be read", c"PORTCULLIS_IO"),
            R::PORTCULLIS_POLICY_INVALID => {
                (c"the policy is invalid", c"PORTCULLIS_POLICY_INVALID")
            }
            R::PORTCULLIS_PEPPER_BAD_ID => (
                c"invalid pepper id: use 1-32 characters [A-Za-z0-9_-]",
                c"PORTCULLIS_PEPPER_BAD_ID",
            ),
            R::PORTCULLIS_PEPPER_TOO_SHORT => (
                c"pepper secret is shorter than 32 bytes",
                c"PORTCULLIS_PEPPER_TOO_SHORT",
            ),
            R::PORTCULLIS_PEPPER_DUPLICATE => {
                (c"pepper id is used twice", c"PORTCULLIS_PEPPER_DUPLICATE")
            }
            R::PORTCULLIS_PEPPER_UNKNOWN => {
                (c"no pepper with this id", c"PORTCULLIS_PEPPER_UNKNOWN")
            }
            R::PORTCULLIS_KEY_SHAPE => (
                c"not a key of the form kind_env_id_secret",
                c"PORTCULLIS_KEY_SHAPE",
            ),
            R::PORTCULLIS_KEY_UNKNOWN_KIND => {
                (c"key kind is not accepted", c"PORTCULLIS_KEY_UNKNOWN_KIND")
            }
            R::PORTCULLIS_KEY_UNKNOWN_ENV => (
                c"key environment is not accepted",
                c"PORTCULLIS_KEY_UNKNOWN_ENV",
            ),
            R::PORTCULLIS_KEY_LENGTH => (c"key has the wrong length", c"PORTCULLIS_KEY_LENGTH"),
            R::PORTCULLIS_KEY_CHARACTER => {
                (c"key has an invalid character", c"PORTCULLIS_KEY_CHARACTER")
            }
            R::PORTCULLIS_KEY_CHECKSUM => {
                (c"key checksum does not match", c"PORTCULLIS_KEY_CHECKSUM")
            }
            R::PORTCULLIS_CREDENTIAL_MISSING => {
                (c"no credential", c"PORTCULLIS_CREDENTIAL_MISSING")
            }
            R::PORTCULLIS_CREDENTIAL_WRONG_SCHEME => (
                c"authorization scheme is not Bearer",
                c"PORTCULLIS_CREDENTIAL_WRONG_SCHEME",
            ),
            R::PORTCULLIS_CREDENTIAL_MALFORMED_HEADER => (
                c"malformed Bearer authorization header",
                c"PORTCULLIS_CREDENTIAL_MALFORMED_HEADER",
            ),
            R::PORTCULLIS_CREDENTIAL_BOTH_PRESENT => (
                c"credential sent in both the header and the query string",
                c"PORTCULLIS_CREDENTIAL_BOTH_PRESENT",
            ),
            R::PORTCULLIS_CREDENTIAL_QUERY_REFUSED => (
                c"credential in the query string is not allowed",
                c"PORTCULLIS_CREDENTIAL_QUERY_REFUSED",
            ),
            R::PORTCULLIS_CREDENTIAL_MALFORMED_QUERY => (
                c"malformed credential query parameter",
                c"PORTCULLIS_CREDENTIAL_MALFORMED_QUERY",
            ),
            R::PORTCULLIS_RECORD_JSON => (c"record JSON is invalid", c"PORTCULLIS_RECORD_JSON"),
            R::PORTCULLIS_RECORD_BAD_LABEL => (
                c"record kind or env is not a valid label",
                c"PORTCULLIS_RECORD_BAD_LABEL",
            ),
            R::PORTCULLIS_RECORD_HASH => {
                (c"record hash does not decode", c"PORTCULLIS_RECORD_HASH")
            }
            R::PORTCULLIS_STORE_DUPLICATE => (
                c"a record with this id already exists",
                c"PORTCULLIS_STORE_DUPLICATE",
            ),
            R::PORTCULLIS_STORE_NOT_FOUND => {
                (c"no record with this id", c"PORTCULLIS_STORE_NOT_FOUND")
            }
            R::PORTCULLIS_ISSUE_UNKNOWN_SCOPE => {
                (c"unknown scope", c"PORTCULLIS_ISSUE_UNKNOWN_SCOPE")
            }
            R::PORTCULLIS_ISSUE_KIND => (
                c"key kind is not accepted by the policy",
                c"PORTCULLIS_ISSUE_KIND",
            ),
            R::PORTCULLIS_ISSUE_ENV => (
                c"environment is not accepted by the policy",
                c"PORTCULLIS_ISSUE_ENV",
            ),
            R::PORTCULLIS_ISSUE_FIELD => (
                c"name or owner must be 1-256 bytes",
                c"PORTCULLIS_ISSUE_FIELD",
            ),
            R::PORTCULLIS_ISSUE_INACTIVE => (
                c"key is revoked or expired and cannot be rotated",
                c"PORTCULLIS_ISSUE_INACTIVE",
            ),
            R::PORTCULLIS_ISSUE_RANDOM => (c"the random source failed", c"PORTCULLIS_ISSUE_RANDOM"),
            R::PORTCULLIS_ISSUE_TTL => (
                c"key lifetime must be at least 1 second",
                c"PORTCULLIS_ISSUE_TTL",
            ),
            R::PORTCULLIS_REQUIREMENT_INVALID => (
                c"invalid requirement expression",
                c"PORTCULLIS_REQUIREMENT_INVALID",
            ),
            R::PORTCULLIS_LOOKUP_FAILED => (c"key lookup failed", c"PORTCULLIS_LOOKUP_FAILED"),
            R::PORTCULLIS_ACCESS_KEY_BAD_ID => (
                c"access-token key id must be 1-32 characters [A-Za-z0-9-]",
                c"PORTCULLIS_ACCESS_KEY_BAD_ID",
            ),
            R::PORTCULLIS_ACCESS_KEY_TOO_SHORT => (
                c"access-token key secret is shorter than 32 bytes",
                c"PORTCULLIS_ACCESS_KEY_TOO_SHORT",
            ),
            R::PORTCULLIS_ACCESS_KEY_DUPLICATE => (
                c"access-token key id is used twice",
                c"PORTCULLIS_ACCESS_KEY_DUPLICATE",
            ),
            R::PORTCULLIS_ACCESS_KEY_UNKNOWN => (
                c"no removable access-token key with this id",
                c"PORTCULLIS_ACCESS_KEY_UNKNOWN",
            ),
            R::PORTCULLIS_ACCESS_TOKEN_MALFORMED => (
                c"malformed access token",
                c"PORTCULLIS_ACCESS_TOKEN_MALFORMED",
            ),
            R::PORTCULLIS_ACCESS_TOKEN_UNKNOWN_KEY => (
                c"access token signed under an unknown key",
                c"PORTCULLIS_ACCESS_TOKEN_UNKNOWN_KEY",
            ),
            R::PORTCULLIS_ACCESS_TOKEN_BAD_SIGNATURE => (
                c"access token signature mismatch",
                c"PORTCULLIS_ACCESS_TOKEN_BAD_SIGNATURE",
            ),
            R::PORTCULLIS_ACCESS_TOKEN_WRONG_CATALOG => (
                c"access token from another scope catalog",
                c"PORTCULLIS_ACCESS_TOKEN_WRONG_CATALOG",
            ),
            R::PORTCULLIS_ACCESS_TOKEN_EXPIRED => {
                (c"access token expired", c"PORTCULLIS_ACCESS_TOKEN_EXPIRED")
            }
            R::PORTCULLIS_ACCESS_TOKEN_NOT_YET_VALID => (
                c"access token not valid yet",
                c"PORTCULLIS_ACCESS_TOKEN_NOT_YET_VALID",
            ),
            R::PORTCULLIS_ACCESS_TOKEN_REVOKED => {
                (c"access token revoked", c"PORTCULLIS_ACCESS_TOKEN_REVOKED")
            }
            R::PORTCULLIS_ACCESS_TOKEN_TIME_REQUIRED => (
                c"access token needs the time",
                c"PORTCULLIS_ACCESS_TOKEN_TIME_REQUIRED",
            ),
            R::PORTCULLIS_CLIENT_BAD_ID => (
                c"client id must be 1-255 printable characters without ':'",
                c"PORTCULLIS_CLIENT_BAD_ID",
            ),
            R::PORTCULLIS_CLIENT_REDIRECT => (
                c"a client redirect URI is not acceptable",
                c"PORTCULLIS_CLIENT_REDIRECT",
            ),
            R::PORTCULLIS_CLIENT_NO_REDIRECT => (
                c"a client needs at least one redirect URI",
                c"PORTCULLIS_CLIENT_NO_REDIRECT",
            ),
            R::PORTCULLIS_CLIENT_SECRET => (
                c"confidential clients need a secret, public clients must not have one",
                c"PORTCULLIS_CLIENT_SECRET",
            ),
            R::PORTCULLIS_CLIENT_JSON => (c"client JSON is invalid", c"PORTCULLIS_CLIENT_JSON"),
            R::PORTCULLIS_OAUTH_INVALID_REQUEST => {
                (c"invalid_request", c"PORTCULLIS_OAUTH_INVALID_REQUEST")
            }
            R::PORTCULLIS_OAUTH_INVALID_CLIENT => {
                (c"invalid_client", c"PORTCULLIS_OAUTH_INVALID_CLIENT")
            }
            R::PORTCULLIS_OAUTH_INVALID_GRANT => {
                (c"invalid_grant", c"PORTCULLIS_OAUTH_INVALID_GRANT")
            }
            R::PORTCULLIS_OAUTH_UNAUTHORIZED_CLIENT => (
                c"unauthorized_client",
                c"PORTCULLIS_OAUTH_UNAUTHORIZED_CLIENT",
            ),
            R::PORTCULLIS_OAUTH_UNSUPPORTED_GRANT_TYPE => (
                c"unsupported_grant_type",
                c"PORTCULLIS_OAUTH_UNSUPPORTED_GRANT_TYPE",
            ),
            R::PORTCULLIS_OAUTH_UNSUPPORTED_RESPONSE_TYPE => (
                c"unsupported_response_type",
                c"PORTCULLIS_OAUTH_UNSUPPORTED_RESPONSE_TYPE",
            ),
            R::PORTCULLIS_OAUTH_INVALID_SCOPE => {
                (c"invalid_scope", c"PORTCULLIS_OAUTH_INVALID_SCOPE")
            }
            R::PORTCULLIS_OAUTH_ACCESS_DENIED => {
                (c"access_denied", c"PORTCULLIS_OAUTH_ACCESS_DENIED")
            }
            R::PORTCULLIS_OAUTH_SERVER_ERROR => (c"server_error", c"PORTCULLIS_OAUTH_SERVER_ERROR"),
            R::PORTCULLIS_OAUTH_TEMPORARILY_UNAVAILABLE => (
                c"temporarily_unavailable",
                c"PORTCULLIS_OAUTH_TEMPORARILY_UNAVAILABLE",
            ),
            R::PORTCULLIS_OAUTH_UNSUPPORTED_TOKEN_TYPE => (
                c"unsupported_token_type",
                c"PORTCULLIS_OAUTH_UNSUPPORTED_TOKEN_TYPE",
            ),
        }
    }
}

/// The static message of a result code (`"success"`, …); `"unknown result code"` for a
/// number that is not one. Never NULL, never allocates; the text lives forever.
/// Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn portcullis_result_message(code: u32) -> *const c_char {
    R::from_u32(code)
        .map_or(c"unknown result code", |r| r.texts().0)
        .as_ptr()
}

/// The symbolic name of a result code (`"PORTCULLIS_KEY_CHECKSUM"`); `"PORTCULLIS_UNKNOWN"`
/// for a number that is not one. Never NULL, never allocates. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn portcullis_result_name(code: u32) -> *const c_char {
    R::from_u32(code)
        .map_or(c"PORTCULLIS_UNKNOWN", |r| r.texts().1)
        .as_ptr()
}

impl From<KeyError> for R {
    fn from(e: KeyError) -> R {
        match e {
            KeyError::Shape => R::PORTCULLIS_KEY_SHAPE,
            KeyError::UnknownKind => R::PORTCULLIS_KEY_UNKNOWN_KIND,
            KeyError::UnknownEnv => R::PORTCULLIS_KEY_UNKNOWN_ENV,
            KeyError::Length => R::PORTCULLIS_KEY_LENGTH,
            KeyError::Character { .. } => R::PORTCULLIS_KEY_CHARACTER,
            KeyError::Checksum => R::PORTCULLIS_KEY_CHECKSUM,
        }
    }
}

impl From<ExtractError> for R {
    fn from(e: ExtractError) -> R {
        match e {
            ExtractError::Missing => R::PORTCULLIS_CREDENTIAL_MISSING,
            ExtractError::WrongScheme => R::PORTCULLIS_CREDENTIAL_WRONG_SCHEME,
            ExtractError::MalformedHeader => R::PORTCULLIS_CREDENTIAL_MALFORMED_HEADER,
            ExtractError::BothPresent => R::PORTCULLIS_CREDENTIAL_BOTH_PRESENT,
            ExtractError::QueryRefused => R::PORTCULLIS_CREDENTIAL_QUERY_REFUSED,
            ExtractError::MalformedQuery => R::PORTCULLIS_CREDENTIAL_MALFORMED_QUERY,
        }
    }
}

impl From<&PepperError> for R {
    fn from(e: &PepperError) -> R {
        match e {
            PepperError::BadId(_) => R::PORTCULLIS_PEPPER_BAD_ID,
            PepperError::TooShort { .. } => R::PORTCULLIS_PEPPER_TOO_SHORT,
            PepperError::Duplicate(_) => R::PORTCULLIS_PEPPER_DUPLICATE,
            PepperError::Unknown(_) => R::PORTCULLIS_PEPPER_UNKNOWN,
        }
    }
}

impl From<&RecordError> for R {
    fn from(e: &RecordError) -> R {
        match e {
            RecordError::BadLabel { .. } => R::PORTCULLIS_RECORD_BAD_LABEL,
            RecordError::Hash(_) => R::PORTCULLIS_RECORD_HASH,
            RecordError::Json(_) => R::PORTCULLIS_RECORD_JSON,
        }
    }
}

impl From<&StoreError> for R {
    fn from(e: &StoreError) -> R {
        match e {
            StoreError::Duplicate(_) => R::PORTCULLIS_STORE_DUPLICATE,
            StoreError::NotFound(_) => R::PORTCULLIS_STORE_NOT_FOUND,
            // The C API offers no update with a caller's closure, so this cannot arise.
            StoreError::IdChanged(_) => R::PORTCULLIS_INVALID_ARGUMENT,
        }
    }
}

impl From<&IssueError> for R {
    fn from(e: &IssueError) -> R {
        match e {
            IssueError::UnknownScope(_) => R::PORTCULLIS_ISSUE_UNKNOWN_SCOPE,
            IssueError::Kind(_) => R::PORTCULLIS_ISSUE_KIND,
            IssueError::Env(_) => R::PORTCULLIS_ISSUE_ENV,
            IssueError::Field(_) => R::PORTCULLIS_ISSUE_FIELD,
            IssueError::Inactive(_) => R::PORTCULLIS_ISSUE_INACTIVE,
            IssueError::Random(_) => R::PORTCULLIS_ISSUE_RANDOM,
            IssueError::ZeroTtl => R::PORTCULLIS_ISSUE_TTL,
        }
    }
}

impl From<TokenError> for R {
    fn from(e: TokenError) -> R {
        match e {
            TokenError::Malformed => R::PORTCULLIS_ACCESS_TOKEN_MALFORMED,
            TokenError::UnknownKey => R::PORTCULLIS_ACCESS_TOKEN_UNKNOWN_KEY,
            TokenError::BadSignature => R::PORTCULLIS_ACCESS_TOKEN_BAD_SIGNATURE,
            TokenError::WrongCatalog => R::PORTCULLIS_ACCESS_TOKEN_WRONG_CATALOG,
            TokenError::Expired => R::PORTCULLIS_ACCESS_TOKEN_EXPIRED,
            TokenError::NotYetValid => R::PORTCULLIS_ACCESS_TOKEN_NOT_YET_VALID,
            TokenError::Revoked => R::PORTCULLIS_ACCESS_TOKEN_REVOKED,
            TokenError::TimeRequired => R::PORTCULLIS_ACCESS_TOKEN_TIME_REQUIRED,
        }
    }
}

impl From<&AccessKeyError> for R {
    fn from(e: &AccessKeyError) -> R {
        match e {
            AccessKeyError::BadKeyId => R::PORTCULLIS_ACCESS_KEY_BAD_ID,
            AccessKeyError::TooShort => R::PORTCULLIS_ACCESS_KEY_TOO_SHORT,
            AccessKeyError::Duplicate => R::PORTCULLIS_ACCESS_KEY_DUPLICATE,
            AccessKeyError::Unknown => R::PORTCULLIS_ACCESS_KEY_UNKNOWN,
        }
    }
}

impl From<&ClientError> for R {
    fn from(e: &ClientError) -> R {
        match e {
            ClientError::BadId => R::PORTCULLIS_CLIENT_BAD_ID,
            ClientError::Redirect { .. } => R::PORTCULLIS_CLIENT_REDIRECT,
            ClientError::NoRedirect => R::PORTCULLIS_CLIENT_NO_REDIRECT,
            ClientError::Secret => R::PORTCULLIS_CLIENT_SECRET,
            ClientError::Random(_) => R::PORTCULLIS_ISSUE_RANDOM,
        }
    }
}

/// Every OAuth error code with its result code.
const OAUTH_CODES: [(OAuthErrorCode, R); 11] = [
    (
        OAuthErrorCode::InvalidRequest,
        R::PORTCULLIS_OAUTH_INVALID_REQUEST,
    ),
    (
        OAuthErrorCode::InvalidClient,
        R::PORTCULLIS_OAUTH_INVALID_CLIENT,
    ),
    (
        OAuthErrorCode::InvalidGrant,
        R::PORTCULLIS_OAUTH_INVALID_GRANT,
    ),
    (
        OAuthErrorCode::UnauthorizedClient,
        R::PORTCULLIS_OAUTH_UNAUTHORIZED_CLIENT,
    ),
    (
        OAuthErrorCode::UnsupportedGrantType,
        R::PORTCULLIS_OAUTH_UNSUPPORTED_GRANT_TYPE,
    ),
    (
        OAuthErrorCode::UnsupportedResponseType,
        R::PORTCULLIS_OAUTH_UNSUPPORTED_RESPONSE_TYPE,
    ),
    (
        OAuthErrorCode::InvalidScope,
        R::PORTCULLIS_OAUTH_INVALID_SCOPE,
    ),
    (
        OAuthErrorCode::AccessDenied,
        R::PORTCULLIS_OAUTH_ACCESS_DENIED,
    ),
    (
        OAuthErrorCode::ServerError,
        R::PORTCULLIS_OAUTH_SERVER_ERROR,
    ),
    (
        OAuthErrorCode::TemporarilyUnavailable,
        R::PORTCULLIS_OAUTH_TEMPORARILY_UNAVAILABLE,
    ),
    (
        OAuthErrorCode::UnsupportedTokenType,
        R::PORTCULLIS_OAUTH_UNSUPPORTED_TOKEN_TYPE,
    ),
];

impl From<OAuthErrorCode> for R {
    fn from(code: OAuthErrorCode) -> R {
        OAUTH_CODES
            .iter()
            .find(|(c, _)| *c == code)
            .map_or(R::PORTCULLIS_OAUTH_SERVER_ERROR, |(_, r)| *r)
    }
}

impl portcullis_result {
    /// The OAuth error code a `PORTCULLIS_OAUTH_*` result stands for.
    pub(crate) fn oauth_code(self) -> Option<OAuthErrorCode> {
        OAUTH_CODES
            .iter()
            .find(|(_, r)| *r == self)
            .map(|(c, _)| *c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_distinct_texts_and_round_trips() {
        let mut names = std::collections::HashSet::new();
        for r in R::ALL {
            assert_eq!(R::from_u32(r as u32), Some(r));
            names.insert(r.texts().1);
            let name = r.texts().1.to_str().expect("ascii");
            assert_eq!(format!("{r:?}"), name);
        }
        assert_eq!(names.len(), R::ALL.len());
        assert_eq!(R::from_u32(9999), None);
    }

    #[test]
    fn oauth_codes_round_trip_and_name_the_wire_code() {
        for (code, r) in OAUTH_CODES {
            assert_eq!(R::from(code), r);
            assert_eq!(r.oauth_code(), Some(code));
            assert_eq!(r.texts().0.to_str().expect("ascii"), code.as_str());
        }
        assert_eq!(R::PORTCULLIS_OK.oauth_code(), None);
    }
}
