//! The HTML pages of `/oauth/authorize`: consent, "sign in first" and errors, rendered on
//! the server, every input escaped, under a strict Content-Security-Policy.
//!
//! Decisions:
//! - **No script, no external resource:** `default-src 'none'`; the one inline style is
//!   allowed by its SHA-256 hash (a fixed text, so no per-response nonce is needed).
//! - **`form-action 'self'` plus the client's redirect origin:** Chrome applies
//!   `form-action` to the redirects that follow a form submission, so the 303 to the
//!   client's redirect URI would be blocked by `'self'` alone. The origin (or, for a native
//!   app's custom scheme, the scheme) is added only when it is made of characters a CSP
//!   source expression allows; otherwise the browser blocks the redirect, which fails safe.
//! - **Never framed** (`frame-ancestors 'none'` and `X-Frame-Options: DENY`: clickjacking
//!   a consent button grants access), **never cached** (`no-store`), **no referrer** (the
//!   query holds `state` and the PKCE challenge).
//! - The page carries the authorization request's query in a hidden field, the CSRF token
//!   beside it: the POST re-validates the request from scratch rather than trusting any
//!   stored state.

use base64::Engine;
use sha2::Digest as _;
use std::fmt::Write as _;
use std::sync::OnceLock;

/// The pages' one stylesheet.
const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#222}\
h1{font-size:1.4rem}ul{padding-left:1.2rem}li{margin:.4rem 0}code{background:#f2f2f2;padding:0 .2rem}\
.d{color:#555}form{display:flex;gap:.8rem;margin-top:1.5rem}\
button{font-size:1rem;padding:.5rem 1.2rem;border-radius:4px;border:1px solid #888;background:#fff;cursor:pointer}\
button[value=approve]{background:#1a5fb4;border-color:#1a5fb4;color:#fff}";

/// `'sha256-…'` of [`STYLE`], as `style-src` names it.
fn style_source() -> &'static str {
    static SOURCE: OnceLock<String> = OnceLock::new();
    SOURCE.get_or_init(|| {
        let digest = sha2::Sha256::digest(STYLE.as_bytes());
        format!(
            "'sha256-{}'",
            base64::engine::general_purpose::STANDARD.encode(digest)
        )
    })
}

/// The Content-Security-Policy of a page; `redirect` is the client's redirect URI the form
/// may lead to (consent pages only).
pub fn content_security_policy(redirect: Option<&str>) -> String {
    let mut policy = format!(
        "default-src 'none'; style-src {}; form-action 'self'",
        style_source()
    );
    if let Some(source) = redirect.and_then(redirect_source) {
        policy.push(' ');
        policy.push_str(&source);
    }
    policy.push_str("; frame-ancestors 'none'; base-uri 'none'");
    policy
}

/// The CSP source expression that allows redirects to `uri`: `scheme://authority` for a
/// hierarchical URI, `scheme:` for a custom scheme; `None` when either holds characters a
/// source expression cannot.
pub fn redirect_source(uri: &str) -> Option<String> {
    let (scheme, rest) = uri.split_once(':')?;
    let scheme_ok = scheme
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if !scheme_ok {
        return None;
    }
    let scheme = scheme.to_ascii_lowercase();
    let Some(rest) = rest.strip_prefix("//") else {
        return Some(format!("{scheme}:"));
    };
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let authority_ok = !authority.is_empty()
        && authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    authority_ok.then(|| format!("{scheme}://{authority}"))
}

/// Escapes text for an HTML element or a double-quoted attribute.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// What the consent page shows and carries.
#[derive(Clone, Copy)]
pub struct Consent<'a> {
    /// The client's id (the registration has no other name).
    pub client: &'a str,
    /// The signed-in user.
    pub user: &'a str,
    /// The scopes asked for: name and description, in catalog order.
    pub scopes: &'a [(&'a str, &'a str)],
    /// Whether the scopes are fewer than the client asked for.
    pub narrowed: bool,
    /// Where the answer goes (shown so the user sees which site gets it).
    pub redirect_uri: &'a str,
    /// The authorization request's raw query, carried to the POST.
    pub query: &'a str,
    /// The CSRF token of this user and request.
    pub csrf: &'a str,
}

impl std::fmt::Debug for Consent<'_> {
    /// The client and scopes only: the query and token are not for logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consent")
            .field("client", &self.client)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<meta name=\"referrer\" content=\"no-referrer\"><title>{}</title><style>{STYLE}</style></head>\n\
<body>\n{body}</body></html>\n",
        escape(title)
    )
}

/// The consent page: who asks, for what, and Approve / Deny in one POST form.
pub fn consent_page(consent: &Consent<'_>) -> String {
    let mut body = String::with_capacity(2048);
    let _ = write!(
        body,
        "<h1>Allow <code>{}</code> to access your account?</h1>\n\
<p class=\"d\">Signed in as <strong>{}</strong>.</p>\n<p>It asks to:</p>\n<ul>\n",
        escape(consent.client),
        escape(consent.user)
    );
    for (name, description) in consent.scopes {
        let shown = if description.is_empty() {
            name
        } else {
            description
        };
        let _ = writeln!(
            body,
            "<li>{} <span class=\"d\">(<code>{}</code>)</span></li>",
            escape(shown),
            escape(name)
        );
    }
    body.push_str("</ul>\n");
    if consent.narrowed {
        body.push_str(
            "<p class=\"d\">Some of the access it asked for cannot be granted to it and is left out.</p>\n",
        );
    }
    let _ = write!(
        body,
        "<p class=\"d\">You will be sent back to <code>{}</code>.</p>\n\
<form method=\"post\" action=\"/oauth/authorize\">\n\
<input type=\"hidden\" name=\"request\" value=\"{}\">\n\
<input type=\"hidden\" name=\"csrf\" value=\"{}\">\n\
<button type=\"submit\" name=\"decision\" value=\"approve\">Approve</button>\n\
<button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button>\n</form>\n",
        escape(consent.redirect_uri),
        escape(consent.query),
        escape(consent.csrf)
    );
    page("Authorize access", &body)
}

/// The page for a request without a valid sign-in: it tells the user to sign in at the
/// host and come back; it never redirects (the host's login URL is the host's business,
/// and a redirect here could loop).
pub fn sign_in_page() -> String {
    page(
        "Sign in first",
        "<h1>Sign in first</h1>\n<p>You are not signed in, or your sign-in has expired. \
Sign in to the application in this browser, then return to the application that sent you \
here and try again.</p>\n",
    )
}

/// The page for an authorization request that cannot be answered to the client (unknown
/// client, unregistered redirect URI) or a refused form submission.
pub fn error_page(title: &str, description: &str) -> String {
    page(
        title,
        &format!(
            "<h1>{}</h1>\n<p>{}</p>\n<p class=\"d\">Return to the application that sent you here.</p>\n",
            escape(title),
            escape(description)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_shown_is_escaped() {
        let page = consent_page(&Consent {
            client: "<script>x</script>",
            user: "a\"b",
            scopes: &[("claims:read", "Read <b>Claims</b>")],
            narrowed: false,
            redirect_uri: "https://app.example/cb",
            query: "a=1&b=\"><x",
            csrf: "t'",
        });
        assert!(!page.contains("<script>x"), "{page}");
        assert!(page.contains("&lt;script&gt;x&lt;/script&gt;"));
        assert!(page.contains("a&quot;b"));
        assert!(page.contains("Read &lt;b&gt;Claims&lt;/b&gt;"));
        assert!(page.contains("value=\"a=1&amp;b=&quot;&gt;&lt;x\""));
        assert!(page.contains("value=\"t&#39;\""));
    }

    #[test]
    fn the_style_hash_is_the_hash_of_the_inline_style() {
        let page = sign_in_page();
        let start = page.find("<style>").expect("style") + "<style>".len();
        let end = page.find("</style>").expect("end");
        let digest = sha2::Sha256::digest(&page.as_bytes()[start..end]);
        let expected = format!(
            "style-src 'sha256-{}'",
            base64::engine::general_purpose::STANDARD.encode(digest)
        );
        assert!(content_security_policy(None).contains(&expected));
    }

    #[test]
    fn form_action_allows_the_redirect_origin_only() {
        let csp = content_security_policy(Some("https://app.example:8443/cb?x=1"));
        assert!(
            csp.contains("form-action 'self' https://app.example:8443;"),
            "{csp}"
        );
        assert!(csp.starts_with("default-src 'none';"));
        assert!(csp.contains("frame-ancestors 'none'"));
        assert_eq!(
            redirect_source("com.example.app:/oauth"),
            Some("com.example.app:".to_owned())
        );
        assert_eq!(
            redirect_source("http://127.0.0.1:5000/cb"),
            Some("http://127.0.0.1:5000".to_owned())
        );
        assert_eq!(redirect_source("https://a.example;script-src/cb"), None);
        assert_eq!(redirect_source("https://a.example,x/cb"), None);
        let refused = content_security_policy(Some("https://a;b/"));
        assert!(refused.contains("form-action 'self';"), "{refused}");
    }
}
