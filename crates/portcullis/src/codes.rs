//! The one table of error codes: every error the crate returns, every result code of the C
//! binding, and the codes the Python binding and the CLI report, with their numbers.
//!
//! Decisions:
//! - **A code is a stable snake_case name** (`unknown_kind`, `access_token_expired`) in a
//!   [`Family`] (the error type it comes from). Names and numbers are never changed or reused;
//!   new codes get new rows. Every error enum has `code()` and `row()`; the match that maps
//!   a variant to its row sits next to the enum, so the compiler proves every variant has one.
//! - **Codes stay what they have been** where they were already public: the key and
//!   credential codes are decision reasons and details, the access-token codes carry their
//!   family in front, peppers and access-token keys share one Python exception class and so
//!   name their family in the code.
//! - **The C name is derived, not chosen:** `PORTCULLIS_`, the family's word (none for
//!   [`Family::Binding`]) and the code with the family's words taken out
//!   (`(Pepper, "duplicate_pepper")` → `PORTCULLIS_PEPPER_DUPLICATE`,
//!   `(AccessToken, "access_token_expired")` → `PORTCULLIS_ACCESS_TOKEN_EXPIRED`).
//! - **Only what C returns has a number**; a row without one is reported in C as its family's
//!   catch-all ([`Code::c_number`]): a requirement error as `PORTCULLIS_REQUIREMENT_INVALID`,
//!   a catalog or route error as `PORTCULLIS_POLICY_INVALID`.
//! - **Rows the bindings need for themselves** (a NULL pointer, invalid UTF-8, a record or
//!   client JSON that does not parse) live here too, so one table holds every number.

use std::ffi::CStr;

/// Where a code comes from: one family per error type, plus the bindings' own calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Family {
    /// The calling convention of the C binding (NULL pointers, UTF-8, buffers, panics, I/O).
    Binding,
    /// [`crate::PolicyError`].
    Policy,
    /// [`crate::PepperError`].
    Pepper,
    /// [`crate::KeyError`].
    Key,
    /// [`crate::ExtractError`].
    Credential,
    /// [`crate::RecordError`].
    Record,
    /// [`crate::StoreError`].
    Store,
    /// [`crate::IssueError`].
    Issue,
    /// [`crate::scope::ExprError`].
    Requirement,
    /// [`crate::LookupError`].
    Lookup,
    /// [`crate::oauth::AccessKeyError`].
    AccessKey,
    /// [`crate::oauth::TokenError`].
    AccessToken,
    /// [`crate::oauth::ClientError`].
    Client,
    /// [`crate::oauth::OAuthErrorCode`].
    OAuth,
    /// [`crate::PathError`].
    Path,
    /// [`crate::HashError`].
    Hash,
    /// [`crate::scope::CatalogError`].
    Catalog,
    /// [`crate::format::FormatError`].
    Format,
    /// [`crate::policy::RouteError`].
    Route,
    /// [`crate::oauth::redirect::RedirectError`].
    Redirect,
    /// [`crate::oauth::metadata::MetadataError`].
    Metadata,
    /// [`crate::oauth::params::ParamError`].
    Param,
    /// [`crate::for_bindings::BoundedReadError`].
    BoundedRead,
    /// [`crate::scope::CatalogMismatch`]: an access-token verifier of another catalog.
    Verifier,
    /// The `portcullis-store` crate's errors (its `ErrorKind`): a database URL, a server,
    /// a schema. The rows live here so one table holds every code; the core does not
    /// depend on that crate.
    Database,
    /// [`crate::OpenApiError`]: a document given to merge the policy's security into.
    OpenApi,
    /// [`crate::usage::UsageConfigError`]: a usage recorder's setting.
    Usage,
    /// [`crate::limit::LimitError`]: a rate limit's setting.
    Limit,
}

impl Family {
    /// Every family.
    pub const ALL: [Family; 28] = [
        Family::Binding,
        Family::Policy,
        Family::Pepper,
        Family::Key,
        Family::Credential,
        Family::Record,
        Family::Store,
        Family::Issue,
        Family::Requirement,
        Family::Lookup,
        Family::AccessKey,
        Family::AccessToken,
        Family::Client,
        Family::OAuth,
        Family::Path,
        Family::Hash,
        Family::Catalog,
        Family::Format,
        Family::Route,
        Family::Redirect,
        Family::Metadata,
        Family::Param,
        Family::BoundedRead,
        Family::Verifier,
        Family::Database,
        Family::OpenApi,
        Family::Usage,
        Family::Limit,
    ];

    /// The stable snake_case name (`access_key`).
    pub const fn name(self) -> &'static str {
        match self {
            Family::Binding => "binding",
            Family::Policy => "policy",
            Family::Pepper => "pepper",
            Family::Key => "key",
            Family::Credential => "credential",
            Family::Record => "record",
            Family::Store => "store",
            Family::Issue => "issue",
            Family::Requirement => "requirement",
            Family::Lookup => "lookup",
            Family::AccessKey => "access_key",
            Family::AccessToken => "access_token",
            Family::Client => "client",
            Family::OAuth => "oauth",
            Family::Path => "path",
            Family::Hash => "hash",
            Family::Catalog => "catalog",
            Family::Format => "format",
            Family::Route => "route",
            Family::Redirect => "redirect",
            Family::Metadata => "metadata",
            Family::Param => "param",
            Family::BoundedRead => "bounded_read",
            Family::Verifier => "verifier",
            Family::Database => "database",
            Family::OpenApi => "openapi",
            Family::Usage => "usage",
            Family::Limit => "limit",
        }
    }

    /// The row C reports for a code of this family that has no number of its own.
    const fn c_fallback(self) -> &'static Code {
        match self {
            Family::Requirement => &REQUIREMENT_INVALID,
            Family::Catalog | Family::Format | Family::Route => &POLICY_INVALID,
            Family::Hash => &RECORD_BAD_HASH,
            Family::Redirect => &CLIENT_BAD_REDIRECT_URI,
            Family::Param => &OAUTH_INVALID_REQUEST,
            Family::BoundedRead => &IO,
            _ => &INVALID_ARGUMENT,
        }
    }
}

/// One row of the table: a code with its family, C number and message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Code {
    family: Family,
    code: &'static str,
    number: Option<u32>,
    message: &'static str,
    c_message: &'static CStr,
    c_name: &'static CStr,
    c_code: &'static CStr,
}

impl Code {
    /// The family.
    pub const fn family(&self) -> Family {
        self.family
    }

    /// The stable snake_case name, unique within its family (`unknown_kind`).
    pub const fn code(&self) -> &'static str {
        self.code
    }

    /// The C result number, if C returns this code itself.
    pub const fn number(&self) -> Option<u32> {
        self.number
    }

    /// The number C reports: this row's, or its family's catch-all.
    pub const fn c_number(&self) -> u32 {
        match self.number {
            Some(n) => n,
            None => match self.family.c_fallback().number {
                Some(n) => n,
                // Unreachable: every catch-all has a number (test `every_row_reaches_c`).
                None => 6,
            },
        }
    }

    /// A short static message (`key checksum does not match`).
    pub const fn message(&self) -> &'static str {
        self.message
    }

    /// The message, NUL-terminated for C.
    pub const fn c_message(&self) -> &'static CStr {
        self.c_message
    }

    /// The C constant's name (`PORTCULLIS_KEY_CHECKSUM`), NUL-terminated.
    pub const fn c_name(&self) -> &'static CStr {
        self.c_name
    }

    /// The code, NUL-terminated for C.
    pub const fn c_code(&self) -> &'static CStr {
        self.c_code
    }
}

/// An error with a row in the table.
pub trait HasCode {
    /// Its row.
    fn row(&self) -> &'static Code;
}

/// The row of an error.
pub fn of<E: HasCode + ?Sized>(error: &E) -> &'static Code {
    error.row()
}

/// The row with a C number, if any.
pub const fn by_number(number: u32) -> Option<&'static Code> {
    let mut i = 0;
    while i < TABLE.len() {
        if let Some(n) = TABLE[i].number
            && n == number
        {
            return Some(&TABLE[i]);
        }
        i += 1;
    }
    None
}

/// The row of a family and code, if any.
pub fn find(family: Family, code: &str) -> Option<&'static Code> {
    TABLE.iter().find(|r| r.family == family && r.code == code)
}

const fn c_str(bytes: &'static [u8]) -> &'static CStr {
    match CStr::from_bytes_with_nul(bytes) {
        Ok(c) => c,
        // Evaluated at compile time only: a message with a NUL does not build.
        Err(_) => panic!("a code's text contains a NUL byte"),
    }
}

macro_rules! table {
    ($($id:ident = $family:ident $code:literal $number:expr, $message:literal;)*) => {
        $(
            #[doc = concat!("`", $code, "`: ", $message, ".")]
            pub const $id: Code = Code {
                family: Family::$family,
                code: $code,
                number: $number,
                message: $message,
                c_message: c_str(concat!($message, "\0").as_bytes()),
                c_name: c_str(concat!("PORTCULLIS_", stringify!($id), "\0").as_bytes()),
                c_code: c_str(concat!($code, "\0").as_bytes()),
            };
        )*
        /// Every row: the numbered ones in ascending order, then the rest by family.
        pub const TABLE: &[Code] = &[$($id),*];
    };
}

table! {
    OK = Binding "ok" Some(0), "success";
    NULL_PARAMETER = Binding "null_parameter" Some(1), "a required pointer argument was NULL";
    INVALID_UTF8 = Binding "invalid_utf8" Some(2), "a text argument is not valid UTF-8";
    INVALID_LENGTH = Binding "invalid_length" Some(3), "a length or count is impossibly large";
    BUFFER_TOO_SMALL = Binding "buffer_too_small" Some(4), "the buffer is too small";
    PANIC = Binding "panic" Some(5), "internal error (caught panic); the call had no effect";
    INVALID_ARGUMENT = Binding "invalid_argument" Some(6), "an argument is out of range";
    IO = Binding "io" Some(7), "a file could not be read";
    POLICY_INVALID = Policy "invalid_policy" Some(100), "the policy is invalid";
    PEPPER_BAD_ID = Pepper "bad_pepper_id" Some(110),
        "invalid pepper id: use 1-32 characters [A-Za-z0-9_-]";
    PEPPER_TOO_SHORT = Pepper "pepper_too_short" Some(111),
        "pepper secret is shorter than 32 bytes";
    PEPPER_DUPLICATE = Pepper "duplicate_pepper" Some(112), "pepper id is used twice";
    PEPPER_UNKNOWN = Pepper "unknown_pepper" Some(113), "no pepper with this id";
    KEY_SHAPE = Key "shape" Some(120), "not a key of the form kind_env_id_secret";
    KEY_UNKNOWN_KIND = Key "unknown_kind" Some(121), "key kind is not accepted";
    KEY_UNKNOWN_ENV = Key "unknown_env" Some(122), "key environment is not accepted";
    KEY_LENGTH = Key "length" Some(123), "key has the wrong length";
    KEY_CHARACTER = Key "character" Some(124), "key has an invalid character";
    KEY_CHECKSUM = Key "checksum" Some(125), "key checksum does not match";
    CREDENTIAL_MISSING = Credential "missing_credential" Some(130), "no credential";
    CREDENTIAL_WRONG_SCHEME = Credential "wrong_scheme" Some(131),
        "authorization scheme is not Bearer";
    CREDENTIAL_MALFORMED_HEADER = Credential "malformed_header" Some(132),
        "malformed Bearer authorization header";
    CREDENTIAL_BOTH_PRESENT = Credential "both_present" Some(133),
        "credential sent in both the header and the query string";
    CREDENTIAL_QUERY_REFUSED = Credential "query_refused" Some(134),
        "credential in the query string is not allowed";
    CREDENTIAL_MALFORMED_QUERY = Credential "malformed_query" Some(135),
        "malformed credential query parameter";
    RECORD_BAD_JSON = Record "bad_json" Some(140), "record JSON is invalid";
    RECORD_BAD_LABEL = Record "bad_label" Some(141), "record kind or env is not a valid label";
    RECORD_BAD_HASH = Record "bad_hash" Some(142), "record hash does not decode";
    STORE_DUPLICATE = Store "duplicate" Some(150), "a record with this id already exists";
    STORE_NOT_FOUND = Store "not_found" Some(151), "no record with this id";
    STORE_ID_CHANGED = Store "id_changed" Some(152), "an update changed the record's id";
    ISSUE_UNKNOWN_SCOPE = Issue "unknown_scope" Some(160), "unknown scope";
    ISSUE_UNKNOWN_KIND = Issue "unknown_kind" Some(161), "key kind is not accepted by the policy";
    ISSUE_UNKNOWN_ENV = Issue "unknown_env" Some(162),
        "environment is not accepted by the policy";
    ISSUE_BAD_FIELD = Issue "bad_field" Some(163), "name or owner must be 1-256 bytes";
    ISSUE_INACTIVE = Issue "inactive" Some(164), "key is revoked or expired and cannot be rotated";
    ISSUE_RANDOM = Issue "random" Some(165), "the random source failed";
    ISSUE_BAD_TTL = Issue "bad_ttl" Some(166), "key lifetime must be at least 1 second";
    REQUIREMENT_INVALID = Requirement "invalid_requirement" Some(170),
        "invalid requirement expression";
    LOOKUP_FAILED = Lookup "lookup_failed" Some(180), "key lookup failed";
    ACCESS_KEY_BAD_ID = AccessKey "bad_access_key_id" Some(190),
        "access-token key id must be 1-32 characters [A-Za-z0-9-]";
    ACCESS_KEY_TOO_SHORT = AccessKey "access_key_too_short" Some(191),
        "access-token key secret is shorter than 32 bytes";
    ACCESS_KEY_DUPLICATE = AccessKey "duplicate_access_key" Some(192),
        "access-token key id is used twice";
    ACCESS_KEY_UNKNOWN = AccessKey "unknown_access_key" Some(193),
        "no removable access-token key with this id";
    ACCESS_TOKEN_MALFORMED = AccessToken "access_token_malformed" Some(200),
        "malformed access token";
    ACCESS_TOKEN_UNKNOWN_KEY = AccessToken "access_token_unknown_key" Some(201),
        "access token signed under an unknown key";
    ACCESS_TOKEN_BAD_SIGNATURE = AccessToken "access_token_bad_signature" Some(202),
        "access token signature mismatch";
    ACCESS_TOKEN_WRONG_CATALOG = AccessToken "access_token_wrong_catalog" Some(203),
        "access token from another scope catalog";
    ACCESS_TOKEN_EXPIRED = AccessToken "access_token_expired" Some(204), "access token expired";
    ACCESS_TOKEN_NOT_YET_VALID = AccessToken "access_token_not_yet_valid" Some(205),
        "access token not valid yet";
    ACCESS_TOKEN_REVOKED = AccessToken "access_token_revoked" Some(206), "access token revoked";
    ACCESS_TOKEN_TIME_REQUIRED = AccessToken "access_token_time_required" Some(207),
        "access token needs the time";
    ACCESS_TOKEN_REVOCATIONS_STALE = AccessToken "access_token_revocations_stale" Some(208),
        "access-token revocations are stale (their feed is behind)";
    CLIENT_BAD_ID = Client "bad_id" Some(210),
        "client id must be 1-255 printable characters without ':'";
    CLIENT_BAD_REDIRECT_URI = Client "bad_redirect_uri" Some(211),
        "a client redirect URI is not acceptable";
    CLIENT_NO_REDIRECT_URI = Client "no_redirect_uri" Some(212),
        "a client needs at least one redirect URI";
    CLIENT_SECRET = Client "secret" Some(213),
        "confidential clients need a secret, public clients must not have one";
    CLIENT_BAD_JSON = Client "bad_json" Some(214), "client JSON is invalid";
    CLIENT_RANDOM = Client "random" Some(215), "the random source failed";
    OAUTH_INVALID_REQUEST = OAuth "invalid_request" Some(220), "invalid_request";
    OAUTH_INVALID_CLIENT = OAuth "invalid_client" Some(221), "invalid_client";
    OAUTH_INVALID_GRANT = OAuth "invalid_grant" Some(222), "invalid_grant";
    OAUTH_UNAUTHORIZED_CLIENT = OAuth "unauthorized_client" Some(223), "unauthorized_client";
    OAUTH_UNSUPPORTED_GRANT_TYPE = OAuth "unsupported_grant_type" Some(224),
        "unsupported_grant_type";
    OAUTH_UNSUPPORTED_RESPONSE_TYPE = OAuth "unsupported_response_type" Some(225),
        "unsupported_response_type";
    OAUTH_INVALID_SCOPE = OAuth "invalid_scope" Some(226), "invalid_scope";
    OAUTH_ACCESS_DENIED = OAuth "access_denied" Some(227), "access_denied";
    OAUTH_SERVER_ERROR = OAuth "server_error" Some(228), "server_error";
    OAUTH_TEMPORARILY_UNAVAILABLE = OAuth "temporarily_unavailable" Some(229),
        "temporarily_unavailable";
    OAUTH_UNSUPPORTED_TOKEN_TYPE = OAuth "unsupported_token_type" Some(230),
        "unsupported_token_type";
    DATABASE_STORE_BAD_URL = Database "store_bad_url" Some(240),
        "the database URL does not parse or names an unsupported scheme";
    DATABASE_STORE_UNREACHABLE = Database "store_unreachable" Some(241),
        "the database server cannot be reached";
    DATABASE_STORE_AUTH_FAILED = Database "store_auth_failed" Some(242),
        "the database server refused the credentials";
    DATABASE_STORE_FOREIGN = Database "store_foreign" Some(243),
        "the database holds another product's tables";
    DATABASE_STORE_TOO_NEW = Database "store_too_new" Some(244),
        "the database schema is newer than this build understands";
    DATABASE_CORRUPT_RECORD = Database "corrupt_record" Some(245), "a stored row cannot be decoded";
    DATABASE_STORE_VALUE_TOO_LARGE = Database "store_value_too_large" Some(246),
        "a stored value is longer than the limit a read accepts";
    DATABASE_DUPLICATE_KEY = Database "duplicate_key" Some(247), "a key with this id already exists";
    DATABASE_KEY_NOT_FOUND = Database "key_not_found" Some(248), "no key with this id";
    DATABASE_KEY_INACTIVE = Database "key_inactive" Some(249),
        "the key is revoked or expired and cannot be rotated";
    DATABASE_STORE_ERROR = Database "store_error" Some(250),
        "the connection was lost or the database failed a statement";
    DATABASE_STORE_BUSY = Database "store_busy" Some(251),
        "another process held the database's write lock too long";
    REQUIREMENT_EMPTY = Requirement "empty" None, "empty requirement";
    REQUIREMENT_TOO_LONG = Requirement "too_long" None, "requirement too long";
    REQUIREMENT_TOO_DEEP = Requirement "too_deep" None, "parentheses nested too deep";
    REQUIREMENT_TOO_MANY_TERMS = Requirement "too_many_terms" None,
        "requirement expands to too many alternatives";
    REQUIREMENT_UNKNOWN_SCOPE = Requirement "unknown_scope" None, "unknown scope";
    REQUIREMENT_WILDCARD = Requirement "wildcard" None, "wildcard outside a grant";
    REQUIREMENT_UNEXPECTED = Requirement "unexpected" None, "unexpected token";
    REQUIREMENT_UNEXPECTED_END = Requirement "unexpected_end" None,
        "unexpected end of requirement";
    PATH_NOT_ABSOLUTE = Path "not_absolute" None, "path is not absolute";
    PATH_INVALID_BYTE = Path "invalid_byte" None, "path has an invalid byte";
    PATH_BAD_ESCAPE = Path "bad_escape" None, "path has a malformed percent-escape";
    PATH_ENCODED_SEPARATOR = Path "encoded_separator" None, "path has an encoded separator";
    PATH_EMPTY_SEGMENT = Path "empty_segment" None, "path has an empty segment";
    PATH_DOT_SEGMENT = Path "dot_segment" None, "path has a dot segment";
    PATH_PARAMS = Path "path_params" None, "path has matrix parameters";
    HASH_UNKNOWN_SCHEME = Hash "unknown_scheme" None, "unknown hash scheme";
    HASH_BAD_PEPPER_ID = Hash "bad_pepper_id" None, "malformed pepper id in hash";
    HASH_BAD_DIGEST = Hash "bad_digest" None, "malformed digest in hash";
    CATALOG_INVALID_NAME = Catalog "invalid_name" None, "invalid scope name";
    CATALOG_DUPLICATE = Catalog "duplicate" None, "scope declared twice";
    CATALOG_TOO_MANY = Catalog "too_many" None, "too many scopes";
    CATALOG_UNKNOWN_IMPLIED = Catalog "unknown_implied" None,
        "a scope implies a scope the catalog does not declare";
    FORMAT_BAD_LABEL = Format "bad_label" None, "invalid kind or environment label";
    FORMAT_EMPTY = Format "empty" None, "no kind or no environment";
    ROUTE_BAD_METHOD = Route "bad_method" None, "invalid route method";
    ROUTE_BAD_PATH = Route "bad_path" None, "invalid route path template";
    REDIRECT_NOT_ABSOLUTE = Redirect "not_absolute" None, "redirect URI must be absolute";
    REDIRECT_FRAGMENT = Redirect "fragment" None, "redirect URI must not contain a fragment";
    REDIRECT_USERINFO = Redirect "userinfo" None, "redirect URI must not contain userinfo";
    REDIRECT_INSECURE_SCHEME = Redirect "insecure_scheme" None, "redirect URI must use https";
    REDIRECT_CHARACTERS = Redirect "characters" None, "redirect URI has invalid characters";
    METADATA_NO_ISSUER = Metadata "no_issuer" None, "the OAuth configuration has no issuer";
    METADATA_INSECURE_ENDPOINT = Metadata "insecure_endpoint" None,
        "an endpoint must be an https URL";
    METADATA_BAD_ENDPOINT = Metadata "bad_endpoint" None, "an endpoint is not an absolute URL";
    METADATA_ISSUER_QUERY = Metadata "issuer_query" None, "the issuer must not have a query";
    PARAM_REPEATED = Param "repeated" None, "a parameter is repeated";
    PARAM_BAD_ENCODING = Param "bad_encoding" None, "malformed percent-encoding";
    PARAM_TOO_LONG = Param "too_long" None, "parameters too long";
    BOUNDED_READ_TOO_LARGE = BoundedRead "too_large" None, "larger than the limit";
    BOUNDED_READ_IO = BoundedRead "io" None, "the read failed";
    VERIFIER_CATALOG_MISMATCH = Verifier "catalog_mismatch" None,
        "the access verifier was made for another scope catalog";
    OPENAPI_TOO_LARGE = OpenApi "too_large" None, "the OpenAPI document is too large";
    OPENAPI_BAD_JSON = OpenApi "bad_json" None, "the OpenAPI document is not valid JSON";
    OPENAPI_BAD_DOCUMENT = OpenApi "bad_document" None, "not an OpenAPI 3.x document";
    USAGE_BAD_MAX_KEYS = Usage "bad_max_keys" None,
        "max_keys must be 1 to 1,048,576";
    USAGE_BAD_BURST_THRESHOLD = Usage "bad_burst_threshold" None,
        "burst_threshold must be at least 1";
    USAGE_BAD_VOLUME_FACTOR = Usage "bad_volume_factor" None,
        "volume_factor must be a finite number of at least 1";
    USAGE_BAD_BASELINE_HOURS = Usage "bad_baseline_hours" None,
        "baseline_hours must be 1 to 8,760";
    LIMIT_BAD_RATE = Limit "bad_rate" None,
        "a limit's rate must be at least 1 and at most one request per microsecond";
    LIMIT_BAD_WINDOW = Limit "bad_window" None, "a limit's window must be 1 to 86,400 seconds";
    LIMIT_BAD_BURST = Limit "bad_burst" None,
        "a limit's burst must be at least 1 and refill within 50 days";
    LIMIT_BAD_SUBJECTS = Limit "bad_subjects" None, "max_subjects must be 1 to 16,777,216";
}

macro_rules! has_code {
    ($($t:ty),* $(,)?) => {
        $(impl HasCode for $t {
            fn row(&self) -> &'static Code {
                <$t>::row(self)
            }
        })*
    };
}

has_code!(
    crate::KeyError,
    crate::ExtractError,
    crate::PepperError,
    crate::RecordError,
    crate::StoreError,
    crate::IssueError,
    crate::scope::ExprError,
    crate::scope::ExprErrorKind,
    crate::oauth::AccessKeyError,
    crate::oauth::TokenError,
    crate::oauth::ClientError,
    crate::oauth::OAuthErrorCode,
    crate::PathError,
    crate::HashError,
    crate::scope::CatalogError,
    crate::format::FormatError,
    crate::policy::RouteError,
    crate::oauth::redirect::RedirectError,
    crate::oauth::metadata::MetadataError,
    crate::oauth::params::ParamError,
    crate::bounded::BoundedReadError,
    crate::scope::CatalogMismatch,
    crate::OpenApiError,
    crate::usage::UsageConfigError,
    crate::limit::LimitError,
);

impl HasCode for crate::PolicyError {
    fn row(&self) -> &'static Code {
        &POLICY_INVALID
    }
}

impl HasCode for crate::LookupError {
    fn row(&self) -> &'static Code {
        &LOOKUP_FAILED
    }
}

impl HasCode for crate::oauth::OAuthError {
    fn row(&self) -> &'static Code {
        self.code.row()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::FormatError;
    use crate::oauth::metadata::MetadataError;
    use crate::oauth::params::ParamError;
    use crate::oauth::redirect::RedirectError;
    use crate::oauth::{AccessKeyError, ClientError, OAuthErrorCode, TokenError};
    use crate::policy::RouteError;
    use crate::scope::{CatalogError, ExprErrorKind};
    use crate::{
        ExtractError, HashError, IssueError, KeyError, KeyId, PathError, PepperError, RandomError,
        RecordError, StoreError,
    };
    use std::collections::HashSet;

    /// One value of every variant of every error, with its row.
    fn every_variant() -> Vec<(&'static Code, &'static str)> {
        let s = String::new;
        let key_id = KeyId::parse("AAAAAAAAAAAAAAAA").expect("a valid id");
        let id = || key_id;
        let mut all: Vec<(&'static Code, &'static str)> = Vec::new();
        macro_rules! push {
            ($($e:expr),* $(,)?) => { $( all.push((of(&$e), $e.code())); )* };
        }
        push!(
            KeyError::Shape,
            KeyError::UnknownKind,
            KeyError::UnknownEnv,
            KeyError::Length,
            KeyError::Character { position: 0 },
            KeyError::Checksum,
            ExtractError::Missing,
            ExtractError::WrongScheme,
            ExtractError::MalformedHeader,
            ExtractError::BothPresent,
            ExtractError::QueryRefused,
            ExtractError::MalformedQuery,
            PepperError::BadId(s()),
            PepperError::TooShort { id: s(), len: 0 },
            PepperError::Duplicate(s()),
            PepperError::Unknown(s()),
            RecordError::BadLabel {
                field: "kind",
                value: s()
            },
            RecordError::Hash(HashError::BadDigest),
            RecordError::Json(s()),
            StoreError::Duplicate(id()),
            StoreError::NotFound(id()),
            StoreError::IdChanged(id()),
            IssueError::UnknownScope(s()),
            IssueError::Kind(s()),
            IssueError::Env(s()),
            IssueError::Field("name"),
            IssueError::ZeroTtl,
            IssueError::Inactive(id()),
            IssueError::Random(RandomError),
            ExprErrorKind::Empty,
            ExprErrorKind::TooLong,
            ExprErrorKind::TooDeep,
            ExprErrorKind::TooManyTerms,
            ExprErrorKind::UnknownScope(s()),
            ExprErrorKind::Wildcard(s()),
            ExprErrorKind::Unexpected(s()),
            ExprErrorKind::UnexpectedEnd,
            AccessKeyError::BadKeyId,
            AccessKeyError::TooShort,
            AccessKeyError::Duplicate,
            AccessKeyError::Unknown,
            TokenError::Malformed,
            TokenError::UnknownKey,
            TokenError::BadSignature,
            TokenError::WrongCatalog,
            TokenError::Expired,
            TokenError::NotYetValid,
            TokenError::Revoked,
            TokenError::TimeRequired,
            TokenError::RevocationsStale,
            ClientError::BadId,
            ClientError::Redirect {
                index: 0,
                error: RedirectError::Fragment
            },
            ClientError::NoRedirect,
            ClientError::Secret,
            ClientError::Random(RandomError),
            PathError::NotAbsolute,
            PathError::InvalidByte,
            PathError::BadEscape,
            PathError::EncodedSeparator,
            PathError::EmptySegment,
            PathError::DotSegment,
            PathError::PathParams,
            HashError::UnknownScheme,
            HashError::BadPepperId,
            HashError::BadDigest,
            CatalogError::InvalidName(s()),
            CatalogError::Duplicate(s()),
            CatalogError::TooMany,
            CatalogError::UnknownImplied {
                scope: s(),
                target: s()
            },
            FormatError::BadLabel {
                what: "kind",
                label: s()
            },
            FormatError::Empty("kind"),
            RouteError::BadMethod(s()),
            RouteError::BadPath {
                path: s(),
                message: s()
            },
            RedirectError::NotAbsolute,
            RedirectError::Fragment,
            RedirectError::Userinfo,
            RedirectError::InsecureScheme,
            RedirectError::Characters,
            MetadataError::NoIssuer,
            MetadataError::Scheme("issuer"),
            MetadataError::Malformed("issuer"),
            MetadataError::IssuerQuery,
            ParamError::Repeated(s()),
            ParamError::Encoding,
            ParamError::TooLong,
            crate::bounded::BoundedReadError::TooLarge { limit: 1 },
            crate::bounded::BoundedReadError::Io(std::io::Error::other("x")),
            crate::scope::CatalogMismatch,
            crate::OpenApiError::TooLarge { limit: 1 },
            crate::OpenApiError::Json { line: 1, column: 1 },
            crate::OpenApiError::NotOpenApi("x"),
            crate::usage::UsageConfigError::MaxKeys,
            crate::usage::UsageConfigError::BurstThreshold,
            crate::usage::UsageConfigError::VolumeFactor,
            crate::usage::UsageConfigError::BaselineHours,
            crate::limit::LimitError::Rate,
            crate::limit::LimitError::Window,
            crate::limit::LimitError::Burst,
            crate::limit::LimitError::Subjects,
        );
        for c in OAuthErrorCode::ALL {
            all.push((of(&c), c.code()));
        }
        all
    }

    /// The rows no core error reaches: the bindings' own.
    const BINDING_ONLY: [&Code; 12] = [
        &OK,
        &NULL_PARAMETER,
        &INVALID_UTF8,
        &INVALID_LENGTH,
        &BUFFER_TOO_SMALL,
        &PANIC,
        &INVALID_ARGUMENT,
        &IO,
        &POLICY_INVALID,
        &REQUIREMENT_INVALID,
        &LOOKUP_FAILED,
        &CLIENT_BAD_JSON,
    ];

    /// The rows of the `portcullis-store` crate's errors (its test maps every kind to
    /// one of them).
    const STORE_CRATE: [&Code; 12] = [
        &DATABASE_STORE_BAD_URL,
        &DATABASE_STORE_UNREACHABLE,
        &DATABASE_STORE_AUTH_FAILED,
        &DATABASE_STORE_FOREIGN,
        &DATABASE_STORE_TOO_NEW,
        &DATABASE_CORRUPT_RECORD,
        &DATABASE_STORE_VALUE_TOO_LARGE,
        &DATABASE_DUPLICATE_KEY,
        &DATABASE_KEY_NOT_FOUND,
        &DATABASE_KEY_INACTIVE,
        &DATABASE_STORE_ERROR,
        &DATABASE_STORE_BUSY,
    ];

    #[test]
    fn every_variant_of_every_error_has_its_own_row_and_every_row_is_used() {
        let mut used = HashSet::new();
        for (row, code) in every_variant() {
            assert_eq!(row.code(), code, "{row:?}");
            assert!(TABLE.contains(row), "{row:?} is not in the table");
            used.insert((row.family(), row.code()));
        }
        for row in BINDING_ONLY.into_iter().chain(STORE_CRATE) {
            assert!(
                used.insert((row.family(), row.code())),
                "{row:?} is reached"
            );
        }
        assert_eq!(used.len(), TABLE.len(), "a row no error reaches");
    }

    #[test]
    fn family_and_code_and_number_are_unique() {
        let mut names = HashSet::new();
        let mut numbers = HashSet::new();
        let mut c_names = HashSet::new();
        for row in TABLE {
            assert!(names.insert((row.family(), row.code())), "{row:?}");
            assert!(c_names.insert(row.c_name()), "{row:?}");
            if let Some(n) = row.number() {
                assert!(numbers.insert(n), "{row:?}");
            }
        }
    }

    #[test]
    fn codes_are_snake_case() {
        for row in TABLE {
            let ok = row.code().split('_').all(|w| {
                !w.is_empty()
                    && w.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            });
            assert!(ok, "{row:?}");
        }
    }

    /// `PORTCULLIS_` + the family's word + the code without the family's words.
    fn derived_c_name(row: &Code) -> String {
        let family: Vec<&str> = match row.family() {
            Family::Binding => Vec::new(),
            f => f.name().split('_').collect(),
        };
        let mut words: Vec<&str> = row.code().split('_').collect();
        if !family.is_empty()
            && let Some(at) = words.windows(family.len()).position(|w| w == family)
        {
            words.drain(at..at + family.len());
        }
        let all: Vec<&str> = family.into_iter().chain(words).collect();
        format!("PORTCULLIS_{}", all.join("_").to_ascii_uppercase())
    }

    #[test]
    fn c_names_are_derived_from_family_and_code() {
        for row in TABLE {
            assert_eq!(
                row.c_name().to_str().ok(),
                Some(derived_c_name(row).as_str())
            );
        }
    }

    #[test]
    fn numbered_rows_come_first_in_ascending_order() {
        let numbers: Vec<u32> = TABLE.iter().map_while(|r| r.number()).collect();
        assert!(numbers.windows(2).all(|w| w[0] < w[1]));
        assert!(TABLE[numbers.len()..].iter().all(|r| r.number().is_none()));
        for n in numbers {
            assert_eq!(by_number(n).and_then(Code::number), Some(n));
        }
        assert_eq!(by_number(9999), None);
    }

    #[test]
    fn every_row_reaches_c() {
        for row in TABLE {
            let c = by_number(row.c_number()).expect("a numbered row");
            assert!(row.number().is_none() || c == row);
        }
        assert_eq!(REQUIREMENT_EMPTY.c_number(), 170);
        assert_eq!(find(Family::Key, "checksum"), Some(&KEY_CHECKSUM));
    }
}
