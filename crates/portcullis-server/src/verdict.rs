//! A decision made owned and ready to send: the one translation of a core
//! [`Decision`] that the HTTP endpoints and Envoy's gRPC both send.

use portcullis::{Decision, Reason};
use std::borrow::Cow;

/// The identity headers of an allowed request: always all three, empty when absent, so a
/// client's own copy never reaches the upstream (a proxy copies these from our answer over
/// whatever the client sent).
pub const IDENTITY_HEADERS: [&str; 3] = [
    "x-portcullis-key-id",
    "x-portcullis-owner",
    "x-portcullis-scopes",
];

/// The header that carries a refusal's status, for proxies that turn statuses other than
/// 401 and 403 into 500 (nginx `auth_request`: its configuration maps 429 and 503 back).
pub const STATUS_HEADER: &str = "x-portcullis-status";

/// What to answer, and what to log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The HTTP status: 200 allowed (or public), else the decision's.
    pub status: u16,
    /// The reason's code (for logs and metrics only: clients see the status and error).
    pub reason: &'static str,
    /// What lies under the reason (`checksum`, `dot_segment`, …), for logs.
    pub detail: Option<&'static str>,
    /// The key id, when one was presented and parsed: safe to log.
    pub key_id: Option<String>,
    /// Headers to send: identity headers when allowed; `WWW-Authenticate`, `Retry-After`
    /// and the status header when refused; the rate-limit fields on both.
    pub headers: Vec<(&'static str, String)>,
    /// The JSON body of a refusal (`{"error": …, "error_description": …}`).
    pub body: Option<String>,
}

impl Verdict {
    /// The verdict of a decision; `resource_metadata` is the RFC 9728 metadata URL to name
    /// in `WWW-Authenticate`.
    pub fn of(decision: &Decision<'_>, resource_metadata: Option<&str>) -> Verdict {
        let status = decision.status();
        let reason = decision.reason();
        let mut headers = Vec::with_capacity(6);
        if decision.allowed() {
            let mut scopes = String::new();
            for scope in decision.scopes() {
                if !scopes.is_empty() {
                    scopes.push(' ');
                }
                scopes.push_str(scope);
            }
            let id = decision.key_id().map(|id| id.as_str().to_owned());
            headers.push((IDENTITY_HEADERS[0], id.unwrap_or_default()));
            headers.push((
                IDENTITY_HEADERS[1],
                header_safe(decision.owner().unwrap_or("")).into_owned(),
            ));
            headers.push((IDENTITY_HEADERS[2], scopes));
        } else {
            if let Some(value) = decision.www_authenticate() {
                let value = match resource_metadata {
                    Some(url) => value.resource_metadata(url).to_string(),
                    None => value.to_string(),
                };
                headers.push(("www-authenticate", value));
            }
            if let Some(seconds) = decision.retry_after() {
                headers.push(("retry-after", seconds.to_string()));
            }
            headers.push((STATUS_HEADER, status.to_string()));
        }
        if let Some(policy) = decision.rate_limit_policy() {
            headers.push(("ratelimit-policy", policy));
        }
        if let Some(state) = decision.rate_limit() {
            headers.push(("ratelimit", state));
        }
        Verdict {
            status,
            reason: reason.code(),
            detail: reason.detail(),
            key_id: decision.key_id().map(|id| id.as_str().to_owned()),
            headers,
            body: (!decision.allowed()).then(|| refusal_body(reason)),
        }
    }

    /// A refusal made before any decision (a forwarded header that does not parse, an
    /// untrusted peer): `status`, a code for logs and for the body, and a description.
    pub fn refused(status: u16, code: &'static str, description: &str) -> Verdict {
        Verdict {
            status,
            reason: code,
            detail: None,
            key_id: None,
            headers: vec![(STATUS_HEADER, status.to_string())],
            body: Some(
                serde_json::json!({"error": code, "error_description": description}).to_string(),
            ),
        }
    }

    /// Whether the request may pass.
    pub fn allowed(&self) -> bool {
        self.status == 200
    }
}

/// The body of a refusal: the RFC 6750 error and its description (the same for every
/// invalid-token reason); `rate_limited` or `credits_exhausted` on 429;
/// `temporarily_unavailable` on 503.
fn refusal_body(reason: Reason) -> String {
    let error = match (reason.error(), reason) {
        (Some(code), _) => code.as_str(),
        (None, Reason::RateLimited | Reason::CreditsExhausted) => reason.code(),
        (None, _) if reason.status() == 503 => "temporarily_unavailable",
        (None, _) => "invalid_token",
    };
    match reason.description() {
        Some(text) => serde_json::json!({"error": error, "error_description": text}),
        None => serde_json::json!({ "error": error }),
    }
    .to_string()
}

/// A value every proxy accepts in a header: visible ASCII and spaces, with `%` and any
/// other byte percent-encoded (an owner named in UTF-8 arrives as `%C3%A9…`).
pub fn header_safe(text: &str) -> Cow<'_, str> {
    let plain = |b: u8| (0x20..0x7f).contains(&b) && b != b'%';
    if text.bytes().all(plain) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for b in text.bytes() {
        if plain(b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_are_visible_ascii() {
        assert_eq!(header_safe("acme corp"), "acme corp");
        assert_eq!(header_safe("café%\n"), "caf%C3%A9%25%0A");
    }
}
