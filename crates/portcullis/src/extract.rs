//! Credential extraction per RFC 6750: the `Authorization: Bearer` header (§2.1) and,
//! only when the policy allows it, a query parameter (§2.3).
//!
//! Decisions written down here:
//! - Leading and trailing spaces and tabs of the header value are ignored (RFC 9110 field
//!   values exclude them). Between the scheme and the token only spaces are allowed.
//! - The scheme is matched case-insensitively; another scheme (`Basic …`) counts as no
//!   bearer credential (401 without an error code, RFC 6750 §3.1).
//! - `Bearer` with no token, a tab after it, or a token outside `b64token` is malformed.
//! - A header and the query parameter together are refused (§2: at most one method),
//!   whatever the header's scheme; so are a repeated or empty query parameter.
//! - Query values are not percent-decoded: keys use only characters that never need it, so
//!   an encoded key fails to parse rather than being silently accepted.

/// Where the credential came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The `Authorization` header.
    Header,
    /// The query string.
    Query,
}

/// A bearer token found in a request, borrowed from it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Credential<'a> {
    /// The token bytes (a secret).
    pub token: &'a [u8],
    /// Where it was found.
    pub source: Source,
}

impl std::fmt::Debug for Credential<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Credential({:?}, [REDACTED; {} bytes])",
            self.source,
            self.token.len()
        )
    }
}

/// Why no usable credential was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum ExtractError {
    /// No credential at all (no header, no query parameter).
    #[error("no credential")]
    Missing,
    /// The header uses another scheme than `Bearer`.
    #[error("authorization scheme is not Bearer")]
    WrongScheme,
    /// The header says `Bearer` but is not `Bearer 1*SP b64token`.
    #[error("malformed Bearer authorization header")]
    MalformedHeader,
    /// Both a header and the query parameter were sent.
    #[error("credential sent in both the header and the query string")]
    BothPresent,
    /// The query parameter was sent but the policy refuses keys in the query string.
    #[error("credential in the query string is not allowed")]
    QueryRefused,
    /// The query parameter is repeated or empty.
    #[error("malformed credential query parameter")]
    MalformedQuery,
}

impl ExtractError {
    /// A stable machine-readable name.
    pub const fn code(&self) -> &'static str {
        self.row().code()
    }

    /// Its row in [`crate::codes`].
    pub const fn row(&self) -> &'static crate::codes::Code {
        match self {
            ExtractError::Missing => &crate::codes::CREDENTIAL_MISSING,
            ExtractError::WrongScheme => &crate::codes::CREDENTIAL_WRONG_SCHEME,
            ExtractError::MalformedHeader => &crate::codes::CREDENTIAL_MALFORMED_HEADER,
            ExtractError::BothPresent => &crate::codes::CREDENTIAL_BOTH_PRESENT,
            ExtractError::QueryRefused => &crate::codes::CREDENTIAL_QUERY_REFUSED,
            ExtractError::MalformedQuery => &crate::codes::CREDENTIAL_MALFORMED_QUERY,
        }
    }
}

/// Finds the bearer credential of a request.
///
/// `authorization` is the raw header value (`None` when absent); `query` the raw query
/// string without `?`; `param` the query parameter name; `allow_query` whether a key there
/// is accepted.
pub fn extract_credential<'a>(
    authorization: Option<&'a [u8]>,
    query: Option<&'a [u8]>,
    param: &str,
    allow_query: bool,
) -> Result<Credential<'a>, ExtractError> {
    let credential = extract_unvalidated(authorization, query, param, allow_query)?;
    if credential.source == Source::Header && !is_b64token(credential.token) {
        return Err(ExtractError::MalformedHeader);
    }
    Ok(credential)
}

/// [`extract_credential`] without the `b64token` check of a header token. The checker parses the
/// token as a key next, and every valid key is a valid `b64token`; only when that parse
/// fails does it run [`is_b64token`] to tell a malformed header from a malformed key.
pub(crate) fn extract_unvalidated<'a>(
    authorization: Option<&'a [u8]>,
    query: Option<&'a [u8]>,
    param: &str,
    allow_query: bool,
) -> Result<Credential<'a>, ExtractError> {
    let in_query = match query {
        Some(q) => find_param(q, param.as_bytes())?,
        None => None,
    };
    match (authorization, in_query) {
        (Some(_), Some(_)) => Err(ExtractError::BothPresent),
        (Some(header), None) => split_header(header).map(|token| Credential {
            token,
            source: Source::Header,
        }),
        (None, Some(_)) if !allow_query => Err(ExtractError::QueryRefused),
        (None, Some(token)) => Ok(Credential {
            token,
            source: Source::Query,
        }),
        (None, None) => Err(ExtractError::Missing),
    }
}

/// Parses `Bearer 1*SP b64token` and returns the token.
pub fn parse_authorization_header(value: &[u8]) -> Result<&[u8], ExtractError> {
    let token = split_header(value)?;
    if is_b64token(token) {
        Ok(token)
    } else {
        Err(ExtractError::MalformedHeader)
    }
}

/// `Bearer 1*SP <rest>`: checks the scheme and the spaces, returns the rest (non-empty,
/// not yet checked against `b64token`).
fn split_header(value: &[u8]) -> Result<&[u8], ExtractError> {
    let value = trim_ows(value);
    if let Some((scheme, rest)) = value.split_first_chunk::<7>()
        && is_bearer_space(scheme)
        && rest.first().is_some_and(|&b| b != b' ')
    {
        return Ok(rest);
    }
    let scheme_len = value
        .iter()
        .position(|&b| !is_tchar(b))
        .unwrap_or(value.len());
    if !value[..scheme_len].eq_ignore_ascii_case(b"bearer") {
        return Err(ExtractError::WrongScheme);
    }
    let rest = &value[scheme_len..];
    let spaces = rest.iter().take_while(|&&b| b == b' ').count();
    if spaces == 0 {
        return Err(ExtractError::MalformedHeader);
    }
    let token = &rest[spaces..];
    if is_b64token(token) {
        Ok(token)
    } else {
        Err(ExtractError::MalformedHeader)
    }
}

/// The value of `param` in a query string, if present exactly once and non-empty.
fn find_param<'a>(query: &'a [u8], param: &[u8]) -> Result<Option<&'a [u8]>, ExtractError> {
    let mut found = None;
    for pair in query.split(|&b| b == b'&') {
        let (name, value) = match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &pair[pair.len()..]),
        };
        if name != param {
            continue;
        }
        if found.is_some() || value.is_empty() {
            return Err(ExtractError::MalformedQuery);
        }
        found = Some(value);
    }
    Ok(found)
}

fn trim_ows(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

/// Whether 7 bytes are `bearer ` in any letter case: one word compare. Bit 5 is set in
/// the six letter bytes only, which folds upper case onto lower case and nothing else onto
/// a letter; the space byte is compared as is (folding it would let NUL pass).
#[inline]
fn is_bearer_space(scheme: &[u8; 7]) -> bool {
    let mut word = [0u8; 8];
    word[..7].copy_from_slice(scheme);
    u64::from_le_bytes(word) | 0x0000_2020_2020_2020 == u64::from_le_bytes(*b"bearer \0")
}

/// RFC 9110 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// RFC 6750 `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
///
/// One branch-free pass over the token; only tokens that contain `=` take a second look
/// at where the padding starts.
pub(crate) fn is_b64token(t: &[u8]) -> bool {
    let chars_ok = t
        .iter()
        .fold(true, |ok, &b| ok & (is_b64char(b) | (b == b'=')));
    if !chars_ok || t.is_empty() {
        return false;
    }
    match t.iter().position(|&b| b == b'=') {
        None => true,
        Some(0) => false,
        Some(body) => t[body..].iter().all(|&b| b == b'='),
    }
}

#[inline]
fn is_b64char(b: u8) -> bool {
    crate::base62::is_base62(b)
        | (b == b'-')
        | (b == b'.')
        | (b == b'_')
        | (b == b'~')
        | (b == b'+')
        | (b == b'/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_word_compare_of_the_scheme_is_exactly_case_insensitive_bearer_space() {
        for candidate in 0..=255u8 {
            for i in 0..7 {
                let mut scheme = *b"bearer ";
                scheme[i] = candidate;
                let expected = scheme.eq_ignore_ascii_case(b"bearer ");
                assert_eq!(is_bearer_space(&scheme), expected, "{scheme:?}");
            }
        }
        assert!(is_bearer_space(b"BeArEr "));
    }
    use proptest::prelude::*;

    fn hdr(v: &str) -> Result<&[u8], ExtractError> {
        parse_authorization_header(v.as_bytes())
    }

    #[test]
    fn header_grammar() {
        assert_eq!(hdr("Bearer abc"), Ok(&b"abc"[..]));
        assert_eq!(hdr("bEaReR   abc=="), Ok(&b"abc=="[..]));
        assert_eq!(hdr("  Bearer abc \t"), Ok(&b"abc"[..]));
        assert_eq!(hdr("Bearer"), Err(ExtractError::MalformedHeader));
        assert_eq!(hdr("Bearer "), Err(ExtractError::MalformedHeader));
        assert_eq!(hdr("Bearer\tabc"), Err(ExtractError::MalformedHeader));
        assert_eq!(hdr("Bearerabc"), Err(ExtractError::WrongScheme));
        assert_eq!(hdr("Bearer a b"), Err(ExtractError::MalformedHeader));
        assert_eq!(hdr("Bearer a=b"), Err(ExtractError::MalformedHeader));
        assert_eq!(hdr("Bearer =="), Err(ExtractError::MalformedHeader));
        assert_eq!(hdr("Basic dXNlcjpwYXNz"), Err(ExtractError::WrongScheme));
        assert_eq!(hdr(""), Err(ExtractError::WrongScheme));
        assert_eq!(
            parse_authorization_header(b"Bearer \xff"),
            Err(ExtractError::MalformedHeader)
        );
    }

    #[test]
    fn query_rules() {
        fn q(q: &str, allow: bool) -> Result<Credential<'_>, ExtractError> {
            extract_credential(None, Some(q.as_bytes()), "api_key", allow)
        }
        assert_eq!(q("a=1&api_key=k", true).map(|c| c.token), Ok(&b"k"[..]));
        assert_eq!(q("api_key=k", false), Err(ExtractError::QueryRefused));
        assert_eq!(
            q("api_key=k&api_key=k", true),
            Err(ExtractError::MalformedQuery)
        );
        assert_eq!(q("api_key=", true), Err(ExtractError::MalformedQuery));
        assert_eq!(q("api_key", true), Err(ExtractError::MalformedQuery));
        assert_eq!(q("xapi_key=k", true), Err(ExtractError::Missing));
        let both = extract_credential(Some(b"Bearer k"), Some(b"api_key=k"), "api_key", true);
        assert_eq!(both, Err(ExtractError::BothPresent));
        assert_eq!(
            extract_credential(None, None, "api_key", true),
            Err(ExtractError::Missing)
        );
    }

    proptest! {
        #[test]
        fn extraction_never_panics(h in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..300)),
                                   q in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..300)),
                                   allow in any::<bool>()) {
            let _ = extract_credential(h.as_deref(), q.as_deref(), "api_key", allow);
        }

        #[test]
        fn valid_tokens_round_trip(token in "[A-Za-z0-9._~+/-]{1,80}={0,2}", spaces in 1usize..4) {
            let header = format!("Bearer{}{}", " ".repeat(spaces), token);
            prop_assert_eq!(parse_authorization_header(header.as_bytes()), Ok(token.as_bytes()));
        }
    }
}
