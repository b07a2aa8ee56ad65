//! The result codes every fallible call returns, with a static message for each.
//!
//! The enum is written out for cbindgen; its names, numbers, texts and every conversion
//! from a core error come from the core's table (`portcullis::codes`), and a compile-time
//! check below proves the enum lists exactly the table's numbered rows.

use core_lib::codes::{self, Code};
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
    PORTCULLIS_RECORD_BAD_JSON = 140,
    /// The record's kind or env is not a valid label.
    PORTCULLIS_RECORD_BAD_LABEL = 141,
    /// The record's hash string does not decode.
    PORTCULLIS_RECORD_BAD_HASH = 142,
    /// The store already holds a record with this id.
    PORTCULLIS_STORE_DUPLICATE = 150,
    /// The store holds no record with this id.
    PORTCULLIS_STORE_NOT_FOUND = 151,
    /// An update changed the record's id (the C API has no update that could).
    PORTCULLIS_STORE_ID_CHANGED = 152,
    /// A scope or pattern the policy's catalog does not know.
    PORTCULLIS_ISSUE_UNKNOWN_SCOPE = 160,
    /// The key kind is not accepted by the policy.
    PORTCULLIS_ISSUE_UNKNOWN_KIND = 161,
    /// The environment is not accepted by the policy.
    PORTCULLIS_ISSUE_UNKNOWN_ENV = 162,
    /// The name or owner is empty or longer than 256 bytes.
    PORTCULLIS_ISSUE_BAD_FIELD = 163,
    /// The key is revoked or expired and cannot be rotated.
    PORTCULLIS_ISSUE_INACTIVE = 164,
    /// The operating system's random source failed.
    PORTCULLIS_ISSUE_RANDOM = 165,
    /// A key lifetime of zero seconds (a rotated record whose lifetime ends at its
    /// creation): the key would be expired when issued.
    PORTCULLIS_ISSUE_BAD_TTL = 166,
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
    /// The verifier's revocations are stale (the database's change feed is behind its
    /// bound): fail closed, answer 503.
    PORTCULLIS_ACCESS_TOKEN_REVOCATIONS_STALE = 208,
    /// A client id is empty, longer than 255 bytes, or has `:` or control characters.
    PORTCULLIS_CLIENT_BAD_ID = 210,
    /// A redirect URI of a client registration is not acceptable.
    PORTCULLIS_CLIENT_BAD_REDIRECT_URI = 211,
    /// A client registration has no redirect URI.
    PORTCULLIS_CLIENT_NO_REDIRECT_URI = 212,
    /// A confidential client without a secret hash, or a public client with one.
    PORTCULLIS_CLIENT_SECRET = 213,
    /// The client JSON does not parse or has unknown fields.
    PORTCULLIS_CLIENT_BAD_JSON = 214,
    /// The operating system's random source failed while making a client secret.
    PORTCULLIS_CLIENT_RANDOM = 215,
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
    /// The database URL does not parse or names an unsupported scheme.
    PORTCULLIS_DATABASE_STORE_BAD_URL = 240,
    /// The database server cannot be reached (refused, timed out, name not resolved).
    PORTCULLIS_DATABASE_STORE_UNREACHABLE = 241,
    /// The database server refused the credentials.
    PORTCULLIS_DATABASE_STORE_AUTH_FAILED = 242,
    /// The database holds another product's tables (or the file is not a database).
    PORTCULLIS_DATABASE_STORE_FOREIGN = 243,
    /// The database schema is newer than this library understands.
    PORTCULLIS_DATABASE_STORE_TOO_NEW = 244,
    /// A stored row cannot be decoded.
    PORTCULLIS_DATABASE_CORRUPT_RECORD = 245,
    /// A stored value is longer than the limit a read accepts.
    PORTCULLIS_DATABASE_STORE_VALUE_TOO_LARGE = 246,
    /// The database already holds a key with this id.
    PORTCULLIS_DATABASE_DUPLICATE_KEY = 247,
    /// The database holds no key with this id.
    PORTCULLIS_DATABASE_KEY_NOT_FOUND = 248,
    /// The key is revoked or expired and cannot be rotated.
    PORTCULLIS_DATABASE_KEY_INACTIVE = 249,
    /// The database connection was lost or the database failed a statement; the call had no effect.
    PORTCULLIS_DATABASE_STORE_ERROR = 250,
    /// Another process held the database's write lock longer than the statement timeout.
    PORTCULLIS_DATABASE_STORE_BUSY = 251,
}

use portcullis_result as R;

impl portcullis_result {
    /// Every code, in ascending order: the numbered rows of `codes::TABLE`.
    pub(crate) const ALL: [R; 82] = [
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
        R::PORTCULLIS_RECORD_BAD_JSON,
        R::PORTCULLIS_RECORD_BAD_LABEL,
        R::PORTCULLIS_RECORD_BAD_HASH,
        R::PORTCULLIS_STORE_DUPLICATE,
        R::PORTCULLIS_STORE_NOT_FOUND,
        R::PORTCULLIS_STORE_ID_CHANGED,
        R::PORTCULLIS_ISSUE_UNKNOWN_SCOPE,
        R::PORTCULLIS_ISSUE_UNKNOWN_KIND,
        R::PORTCULLIS_ISSUE_UNKNOWN_ENV,
        R::PORTCULLIS_ISSUE_BAD_FIELD,
        R::PORTCULLIS_ISSUE_INACTIVE,
        R::PORTCULLIS_ISSUE_RANDOM,
        R::PORTCULLIS_ISSUE_BAD_TTL,
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
        R::PORTCULLIS_ACCESS_TOKEN_REVOCATIONS_STALE,
        R::PORTCULLIS_CLIENT_BAD_ID,
        R::PORTCULLIS_CLIENT_BAD_REDIRECT_URI,
        R::PORTCULLIS_CLIENT_NO_REDIRECT_URI,
        R::PORTCULLIS_CLIENT_SECRET,
        R::PORTCULLIS_CLIENT_BAD_JSON,
        R::PORTCULLIS_CLIENT_RANDOM,
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
        R::PORTCULLIS_DATABASE_STORE_BAD_URL,
        R::PORTCULLIS_DATABASE_STORE_UNREACHABLE,
        R::PORTCULLIS_DATABASE_STORE_AUTH_FAILED,
        R::PORTCULLIS_DATABASE_STORE_FOREIGN,
        R::PORTCULLIS_DATABASE_STORE_TOO_NEW,
        R::PORTCULLIS_DATABASE_CORRUPT_RECORD,
        R::PORTCULLIS_DATABASE_STORE_VALUE_TOO_LARGE,
        R::PORTCULLIS_DATABASE_DUPLICATE_KEY,
        R::PORTCULLIS_DATABASE_KEY_NOT_FOUND,
        R::PORTCULLIS_DATABASE_KEY_INACTIVE,
        R::PORTCULLIS_DATABASE_STORE_ERROR,
        R::PORTCULLIS_DATABASE_STORE_BUSY,
    ];

    /// The code for a raw number, if it is one.
    pub(crate) fn from_u32(code: u32) -> Option<R> {
        R::ALL.into_iter().find(|r| *r as u32 == code)
    }

    /// The code C reports for a row of the table (its own or its family's catch-all).
    pub(crate) fn of(row: &Code) -> R {
        // Never the fallback: every row reaches a numbered row (the core's
        // `every_row_reaches_c`) and ALL holds every one (`ALL_IS_THE_TABLE`).
        R::from_u32(row.c_number()).unwrap_or(R::PORTCULLIS_PANIC)
    }

    /// The static, NUL-terminated message and symbolic name, from the table.
    pub(crate) const fn texts(self) -> (&'static CStr, &'static CStr) {
        match codes::by_number(self as u32) {
            Some(row) => (row.c_message(), row.c_name()),
            // Never: ALL_IS_THE_TABLE.
            None => (c"unknown result code", c"PORTCULLIS_UNKNOWN"),
        }
    }

    /// The OAuth error code a `PORTCULLIS_OAUTH_*` result stands for.
    pub(crate) fn oauth_code(self) -> Option<OAuthErrorCode> {
        OAuthErrorCode::ALL
            .into_iter()
            .find(|c| c.row().number() == Some(self as u32))
    }
}

/// `ALL` is the table's numbered rows, in order: so `from_u32` knows every number the table
/// gives and no other.
const ALL_IS_THE_TABLE: () = {
    let mut i = 0;
    while i < codes::TABLE.len() {
        let expected = match codes::TABLE[i].number() {
            Some(n) => n,
            None => break,
        };
        assert!(i < R::ALL.len() && R::ALL[i] as u32 == expected);
        i += 1;
    }
    assert!(i == R::ALL.len());
};
const _: () = ALL_IS_THE_TABLE;

/// The static message of a result code (`"success"`, …); `"unknown result code"` for a
/// number that is not one. Never NULL, never allocates; the text lives forever.
/// Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn portcullis_result_message(code: u32) -> *const c_char {
    codes::by_number(code)
        .map_or(c"unknown result code", Code::c_message)
        .as_ptr()
}

/// The symbolic name of a result code (`"PORTCULLIS_KEY_CHECKSUM"`); `"PORTCULLIS_UNKNOWN"`
/// for a number that is not one. Never NULL, never allocates. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn portcullis_result_name(code: u32) -> *const c_char {
    codes::by_number(code)
        .map_or(c"PORTCULLIS_UNKNOWN", Code::c_name)
        .as_ptr()
}

/// The stable snake_case code of a result code, the one the Python binding's exceptions
/// and the CLI's `--json` errors carry (`"checksum"` for `PORTCULLIS_KEY_CHECKSUM`,
/// `"unknown_kind"` for `PORTCULLIS_ISSUE_UNKNOWN_KIND`); `"unknown"` for a number that is
/// not one. Never NULL, never allocates. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn portcullis_result_code(code: u32) -> *const c_char {
    codes::by_number(code)
        .map_or(c"unknown", Code::c_code)
        .as_ptr()
}

/// `From` a core error, by value and by reference, through its row.
macro_rules! from_core {
    ($($t:ty),* $(,)?) => {
        $(
            impl From<$t> for R {
                fn from(e: $t) -> R {
                    R::of(codes::of(&e))
                }
            }
            impl From<&$t> for R {
                fn from(e: &$t) -> R {
                    R::of(codes::of(e))
                }
            }
        )*
    };
}

from_core!(
    KeyError,
    ExtractError,
    PepperError,
    RecordError,
    StoreError,
    IssueError,
    TokenError,
    AccessKeyError,
    ClientError,
    OAuthErrorCode,
    db_store::Error,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_enum_and_the_table_agree_one_to_one() {
        let numbered: Vec<&Code> = codes::TABLE
            .iter()
            .filter(|r| r.number().is_some())
            .collect();
        assert_eq!(numbered.len(), R::ALL.len());
        for (r, row) in R::ALL.into_iter().zip(numbered) {
            assert_eq!(Some(r as u32), row.number());
            assert_eq!(format!("{r:?}"), row.c_name().to_str().expect("ascii"));
            assert_eq!(R::from_u32(r as u32), Some(r));
            assert_eq!(codes::by_number(r as u32), Some(row));
            assert_eq!(r.texts(), (row.c_message(), row.c_name()));
        }
        assert_eq!(R::from_u32(9999), None);
    }

    #[test]
    fn oauth_codes_round_trip_and_name_the_wire_code() {
        for code in OAuthErrorCode::ALL {
            let r = R::from(code);
            assert_eq!(r.oauth_code(), Some(code));
            assert_eq!(r.texts().0.to_str().expect("ascii"), code.as_str());
        }
        assert_eq!(R::PORTCULLIS_OK.oauth_code(), None);
    }

    #[test]
    fn a_requirement_error_is_reported_as_invalid_requirement() {
        let row = codes::find(codes::Family::Requirement, "too_deep").expect("a row");
        assert_eq!(R::of(row), R::PORTCULLIS_REQUIREMENT_INVALID);
        assert_eq!(R::from(KeyError::Checksum), R::PORTCULLIS_KEY_CHECKSUM);
        assert_eq!(R::from(&IssueError::ZeroTtl), R::PORTCULLIS_ISSUE_BAD_TTL);
    }
}
