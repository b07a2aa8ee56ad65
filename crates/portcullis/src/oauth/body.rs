//! The body of a POST to the token, revocation or introspection endpoint, read with its
//! `Content-Type` into [`Params`].
//!
//! Decisions:
//! - Two media types are accepted: `application/x-www-form-urlencoded` (RFC 6749 §4.1.3,
//!   RFC 7009 §2.1, RFC 7662 §2.1) and `application/json` (the form the product documents
//!   to its customers). Media types compare case-insensitively; parameters after `;` are
//!   ignored except `charset`, which must be `utf-8` (quoted or not, any case).
//! - Any other type, or no `Content-Type` at all, is `invalid_request` naming the two
//!   accepted types, before client authentication: the cause is shown, never hidden
//!   behind an `invalid_client`.
//! - A JSON body is one object whose members are all strings. Nested values, numbers,
//!   booleans, `null`, a repeated member, trailing data or a body that is not JSON are
//!   `invalid_request` saying what to send. Empty strings count as omitted, as empty form
//!   values do (RFC 6749 §3.1).
//! - A body that looks like JSON (first non-blank byte `{`) sent as form, or a form body
//!   sent as JSON, is `invalid_request` naming the `Content-Type` to use.
//! - The body must be UTF-8 and at most [`MAX_BODY_LEN`] bytes, whatever its type; both
//!   are decided here, once, so hosts and bindings pass the bytes they received.
//! - Descriptions are fixed texts: they never echo input, which may hold secrets.

use super::error::OAuthError;
use super::params::{MAX_PARAMS_LEN, ParamError, Params};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use std::fmt;

/// The largest body accepted, of either type (64 KiB).
pub const MAX_BODY_LEN: usize = MAX_PARAMS_LEN;

/// The `Content-Type` of a form body.
pub const FORM: &str = "application/x-www-form-urlencoded";

/// The `Content-Type` of a JSON body.
pub const JSON: &str = "application/json";

/// One POST to the token, revocation or introspection endpoint, as the host received it:
/// raw header values and raw body bytes (none of them need be UTF-8).
#[derive(Clone, Copy, Default)]
pub struct EndpointRequest<'a> {
    /// The `Authorization` header's value, if any.
    pub authorization: Option<&'a [u8]>,
    /// The `Content-Type` header's value, if any.
    pub content_type: Option<&'a [u8]>,
    /// The body.
    pub body: &'a [u8],
}

impl std::fmt::Debug for EndpointRequest<'_> {
    /// Lengths only: the header and body may hold secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointRequest")
            .field("authorization", &self.authorization.map(|_| "[REDACTED]"))
            .field(
                "content_type",
                &self.content_type.map(String::from_utf8_lossy),
            )
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl<'a> EndpointRequest<'a> {
    /// A request with this `Content-Type` and body, without `Authorization`.
    pub fn new(content_type: Option<&'a str>, body: &'a [u8]) -> Self {
        EndpointRequest {
            authorization: None,
            content_type: content_type.map(str::as_bytes),
            body,
        }
    }

    /// The same request with an `Authorization` header.
    pub fn authorization(self, value: &'a str) -> Self {
        EndpointRequest {
            authorization: Some(value.as_bytes()),
            ..self
        }
    }

    /// A form body (`application/x-www-form-urlencoded`), as the form-only entry points
    /// ([`super::OAuthServer::token`] and its siblings) take it.
    pub fn form(authorization: Option<&'a str>, body: &'a str) -> Self {
        EndpointRequest {
            authorization: authorization.map(str::as_bytes),
            content_type: Some(FORM.as_bytes()),
            body: body.as_bytes(),
        }
    }

    /// The `Authorization` header as text; a header that is not UTF-8 is kept as a value
    /// that no scheme accepts, so it fails client authentication like any bad header.
    pub(crate) fn authorization_text(&self) -> Option<&'a str> {
        self.authorization
            .map(|h| std::str::from_utf8(h).unwrap_or(""))
    }
}

const UNSUPPORTED_TYPE: &str =
    "Send the body as application/x-www-form-urlencoded or application/json (Content-Type)";
const MISSING_TYPE: &str =
    "Content-Type is missing: send application/x-www-form-urlencoded or application/json";
const NOT_UTF8_CHARSET: &str = "The body must be UTF-8: send charset=utf-8 or no charset";
const TOO_LONG: &str = "The request body is larger than 64 KiB";
const NOT_UTF8: &str = "The request body is not UTF-8";
const JSON_AS_FORM: &str = "The body is JSON but Content-Type is application/x-www-form-urlencoded: send Content-Type: application/json";
const FORM_AS_JSON: &str = "The body is form-encoded but Content-Type is application/json: send Content-Type: application/x-www-form-urlencoded";
const FORM_MALFORMED: &str =
    "The request body is malformed: send name=value pairs joined by &, percent-encoded";
const FORM_REPEATED: &str = "A parameter is repeated: send each parameter once";
const JSON_NOT_OBJECT: &str = "The JSON body must be one object whose members are all strings";
const JSON_NOT_STRING: &str = "Every member of the JSON body must be a string: send numbers, booleans and null as strings or leave them out, and no nested objects or arrays";
const JSON_REPEATED: &str = "A member of the JSON body is repeated: send each parameter once";
const JSON_MALFORMED: &str =
    "The body is not valid JSON: send one object of string values, e.g. {\"grant_type\": \"…\"}";

/// The two body types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Form,
    Json,
}

/// Reads the media type of a `Content-Type` value.
fn kind(content_type: Option<&[u8]>) -> Result<Kind, OAuthError> {
    let raw = content_type.ok_or(OAuthError::request(MISSING_TYPE))?;
    let text = std::str::from_utf8(raw).map_err(|_| OAuthError::request(UNSUPPORTED_TYPE))?;
    let mut parts = text.split(';');
    let media = parts.next().unwrap_or("").trim_matches([' ', '\t']);
    let kind = if media.eq_ignore_ascii_case(FORM) {
        Kind::Form
    } else if media.eq_ignore_ascii_case(JSON) {
        Kind::Json
    } else if media.is_empty() {
        return Err(OAuthError::request(MISSING_TYPE));
    } else {
        return Err(OAuthError::request(UNSUPPORTED_TYPE));
    };
    for parameter in parts {
        let (name, value) = parameter.split_once('=').unwrap_or((parameter, ""));
        if name
            .trim_matches([' ', '\t'])
            .eq_ignore_ascii_case("charset")
        {
            let value = value.trim_matches([' ', '\t']);
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            if !value.eq_ignore_ascii_case("utf-8") {
                return Err(OAuthError::request(NOT_UTF8_CHARSET));
            }
        }
    }
    Ok(kind)
}

/// Parses an endpoint body by its `Content-Type` (see the module's decisions).
pub fn parse(content_type: Option<&[u8]>, body: &[u8]) -> Result<Params, OAuthError> {
    let kind = kind(content_type)?;
    if body.len() > MAX_BODY_LEN {
        return Err(OAuthError::request(TOO_LONG));
    }
    let text = std::str::from_utf8(body).map_err(|_| OAuthError::request(NOT_UTF8))?;
    let looks_json = text.trim_start().starts_with('{');
    match kind {
        Kind::Form if looks_json => Err(OAuthError::request(JSON_AS_FORM)),
        Kind::Form => Params::parse(text).map_err(|e| {
            OAuthError::request(match e {
                ParamError::Repeated(_) => FORM_REPEATED,
                ParamError::TooLong => TOO_LONG,
                ParamError::Encoding => FORM_MALFORMED,
            })
        }),
        Kind::Json => parse_json(text).map_err(|e| {
            let looks_form = !looks_json && text.contains('=');
            OAuthError::request(match e {
                _ if looks_form => FORM_AS_JSON,
                JsonError::NotObject => JSON_NOT_OBJECT,
                JsonError::NotString => JSON_NOT_STRING,
                JsonError::Repeated => JSON_REPEATED,
                JsonError::Malformed => JSON_MALFORMED,
            })
        }),
    }
}

/// Why a JSON body is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum JsonError {
    NotObject,
    NotString,
    Repeated,
    Malformed,
}

/// The members of a flat object of strings, in order (empty values kept for now).
struct Members(Vec<(String, String)>);

/// Keys of the messages the visitor raises, read back by [`parse_json`].
const REFUSE_NOT_OBJECT: &str = "portcullis:not-object";
const REFUSE_NOT_STRING: &str = "portcullis:not-string";
const REFUSE_REPEATED: &str = "portcullis:repeated";

struct MembersVisitor;

impl<'de> Visitor<'de> for MembersVisitor {
    type Value = Members;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REFUSE_NOT_OBJECT)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
        let mut out: Vec<(String, String)> = Vec::new();
        while let Some(name) = map.next_key::<String>()? {
            let value = map.next_value::<StringOnly>()?.0;
            if out.iter().any(|(k, _)| *k == name) {
                return Err(de::Error::custom(REFUSE_REPEATED));
            }
            out.push((name, value));
        }
        Ok(Members(out))
    }
}

/// A member value that must be a JSON string.
struct StringOnly(String);

impl<'de> serde::Deserialize<'de> for StringOnly {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = StringOnly;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(REFUSE_NOT_STRING)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StringOnly, E> {
                Ok(StringOnly(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<StringOnly, E> {
                Ok(StringOnly(v))
            }
        }
        // `deserialize_string` still hands numbers, maps and null to the visitor's
        // defaults, which refuse them with REFUSE_NOT_STRING.
        d.deserialize_string(V)
    }
}

fn parse_json(text: &str) -> Result<Params, JsonError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let members = match de.deserialize_map(MembersVisitor) {
        Ok(m) => m,
        Err(e) => return Err(classify(&e)),
    };
    de.end().map_err(|_| JsonError::Malformed)?;
    let pairs = members.0.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    Params::from_pairs(pairs).map_err(|_| JsonError::Repeated)
}

/// Maps a serde_json error back to the refusal that raised it.
fn classify(error: &serde_json::Error) -> JsonError {
    if !error.is_data() {
        return JsonError::Malformed;
    }
    let message = error.to_string();
    if message.contains(REFUSE_REPEATED) {
        JsonError::Repeated
    } else if message.contains(REFUSE_NOT_STRING) {
        JsonError::NotString
    } else {
        JsonError::NotObject
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(body: &str) -> Result<Params, OAuthError> {
        parse(Some(b"application/json"), body.as_bytes())
    }

    #[test]
    fn a_flat_json_object_of_strings_gives_its_members() {
        let p = json(r#" {"grant_type": "refresh_token", "client_id": "app", "scope": ""} "#)
            .unwrap_or_default();
        assert_eq!(p.get("grant_type"), Some("refresh_token"));
        assert_eq!(p.get("client_id"), Some("app"));
        assert_eq!(p.get("scope"), None, "empty counts as omitted");
        let escaped = json(r#"{"code": "a\u0062\"c"}"#).unwrap_or_default();
        assert_eq!(escaped.get("code"), Some("ab\"c"));
    }

    #[test]
    fn json_values_other_than_strings_are_refused_saying_send_strings() {
        for body in [
            r#"{"a": {"b": "c"}}"#,
            r#"{"a": ["b"]}"#,
            r#"{"a": 1}"#,
            r#"{"a": 1.5}"#,
            r#"{"a": true}"#,
            r#"{"a": null}"#,
        ] {
            assert_eq!(
                json(body),
                Err(OAuthError::request(JSON_NOT_STRING)),
                "{body}"
            );
        }
    }

    #[test]
    fn a_repeated_json_member_is_refused_even_with_an_empty_value() {
        for body in [r#"{"a": "1", "a": "2"}"#, r#"{"a": "", "a": "1"}"#] {
            assert_eq!(
                json(body),
                Err(OAuthError::request(JSON_REPEATED)),
                "{body}"
            );
        }
    }

    #[test]
    fn json_that_is_not_one_object_is_refused() {
        for body in [r#"["a"]"#, r#""a""#, "1", "null"] {
            assert_eq!(
                json(body),
                Err(OAuthError::request(JSON_NOT_OBJECT)),
                "{body}"
            );
        }
        for body in [
            "",
            "{",
            r#"{"a": "1"} {}"#,
            r#"{"a": "1",}"#,
            r#"{"a" "1"}"#,
        ] {
            assert_eq!(
                json(body),
                Err(OAuthError::request(JSON_MALFORMED)),
                "{body}"
            );
        }
    }

    #[test]
    fn a_body_sent_under_the_other_type_names_the_type_to_send() {
        let form = parse(Some(FORM.as_bytes()), br#"  {"grant_type": "x"}"#);
        assert_eq!(form, Err(OAuthError::request(JSON_AS_FORM)));
        let as_json = json("grant_type=refresh_token&client_id=app");
        assert_eq!(as_json, Err(OAuthError::request(FORM_AS_JSON)));
    }

    #[test]
    fn content_types_are_read_case_insensitively_with_a_utf8_charset_only() {
        for ct in [
            "application/json",
            "Application/JSON; charset=UTF-8",
            "application/json;charset=\"utf-8\"",
            "application/json ; foo=bar",
        ] {
            assert!(parse(Some(ct.as_bytes()), b"{}").is_ok(), "{ct}");
        }
        for ct in [
            "application/x-www-form-urlencoded",
            "application/x-www-form-urlencoded; charset=utf-8",
        ] {
            assert!(parse(Some(ct.as_bytes()), b"a=1").is_ok(), "{ct}");
        }
        let latin = parse(Some(b"application/json; charset=iso-8859-1"), b"{}");
        assert_eq!(latin, Err(OAuthError::request(NOT_UTF8_CHARSET)));
        for ct in [
            &b"text/plain"[..],
            b"multipart/form-data; boundary=x",
            b"application/jsonx",
            b"\xff",
        ] {
            assert_eq!(
                parse(Some(ct), b"{}"),
                Err(OAuthError::request(UNSUPPORTED_TYPE)),
                "{ct:?}"
            );
        }
        for ct in [None, Some(&b""[..]), Some(b" ; charset=utf-8")] {
            assert_eq!(parse(ct, b"{}"), Err(OAuthError::request(MISSING_TYPE)));
        }
    }

    #[test]
    fn bodies_over_the_limit_or_not_utf8_are_refused_for_both_types() {
        let big = vec![b' '; MAX_BODY_LEN + 1];
        for ct in [FORM, JSON] {
            let at_limit = vec![b' '; MAX_BODY_LEN];
            assert_ne!(
                parse(Some(ct.as_bytes()), &at_limit),
                Err(OAuthError::request(TOO_LONG))
            );
            assert_eq!(
                parse(Some(ct.as_bytes()), &big),
                Err(OAuthError::request(TOO_LONG))
            );
            assert_eq!(
                parse(Some(ct.as_bytes()), b"{\"a\": \"\xff\"}"),
                Err(OAuthError::request(NOT_UTF8))
            );
        }
    }

    proptest::proptest! {
        /// Any bytes under any of the types give parameters or an `invalid_request`, never
        /// a panic.
        #[test]
        fn parsing_is_total(
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256),
            ct in proptest::sample::select(vec![FORM, JSON, "text/plain", "application/json; charset=x"]),
        ) {
            if let Err(e) = parse(Some(ct.as_bytes()), &body) {
                proptest::prop_assert_eq!(e.code, crate::oauth::OAuthErrorCode::InvalidRequest);
            }
        }

        /// A flat object of distinct string members, as serde_json writes it, reads back
        /// to the same parameters (empty values omitted).
        #[test]
        fn a_serialised_object_of_strings_reads_back(
            members in proptest::collection::btree_map("[a-z_]{1,12}", "\\PC{0,16}", 0..8),
        ) {
            let text = serde_json::to_string(&members).unwrap_or_default();
            let params = parse(Some(JSON.as_bytes()), text.as_bytes());
            proptest::prop_assert!(params.is_ok(), "{text}");
            let params = params.unwrap_or_default();
            for (k, v) in &members {
                let want = (!v.is_empty()).then_some(v.as_str());
                proptest::prop_assert_eq!(params.get(k), want);
            }
        }
    }

    #[test]
    fn form_errors_say_what_to_send() {
        let form = |b: &str| parse(Some(FORM.as_bytes()), b.as_bytes());
        assert_eq!(form("a=1&a=2"), Err(OAuthError::request(FORM_REPEATED)));
        assert_eq!(form("a=%zz"), Err(OAuthError::request(FORM_MALFORMED)));
    }
}
