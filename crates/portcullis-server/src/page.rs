//! The Settings > API Keys page (`GET /settings/api-keys`): server-rendered HTML with one
//! stylesheet and one plain script from the same origin (`/settings/api-keys/assets/…`),
//! over the JSON API of `keys_api.rs`.
//!
//! What it shows: the create form (name, permissions as checkboxes labelled with the
//! policy's scope descriptions, expiry), the "shown once" panel, and the organisation's
//! keys (name, `sk_live_<id>_…`, permissions, created, last used, expires, status) with
//! Rotate and Revoke behind a confirmation dialog.
//!
//! Decisions:
//! - **The plaintext never reaches HTML:** the script sends the form with `fetch()` and
//!   puts the key from the JSON answer into the panel's read-only field; closing the panel
//!   (or leaving the page) empties the field before the list reloads. No GET response
//!   ever holds a secret, so neither a cache, the history nor a reload can show it again.
//! - **A strict Content-Security-Policy** ([`CSP`]): scripts and styles from this origin
//!   only, no inline code, `fetch()` to this origin only, never framed.
//! - **CSRF:** the page carries a token bound to the signed-in user and organisation
//!   (`<meta name="csrf-token">`); the script sends it as `X-CSRF-Token` on every write,
//!   which the API checks with a JSON `Content-Type` (no cross-site form can send either).
//! - **Sign-in is the host's:** without a valid assertion the page is a 401 "sign in
//!   first" page; the admin token does not open the page (it is for scripts).
//! - **Accessible:** every control has a label, the permissions are a fieldset with a
//!   legend, the panel and errors are announced (`role="status"`/`alert`), the dialog is
//!   the native `<dialog>` (focus kept inside, Escape cancels), and colours keep at least
//!   4.5:1 contrast.

use crate::consent::escape;
use crate::http::{Body, method_not_allowed};
use crate::keys_api::{self, KeysState, Principal};
use crate::service::Service;
use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use portcullis::Timestamp;
use std::fmt::Write as _;
use std::net::SocketAddr;

/// The page's Content-Security-Policy.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The stylesheet.
const STYLE: &str = include_str!("../assets/keys.css");
/// The script.
const SCRIPT: &str = include_str!("../assets/keys.js");
/// The tab's icon (browsers ask for one; without it, every visit logs a 404).
const ICON: &str = include_str!("../assets/icon.svg");

/// Answers `/settings/api-keys` (`rest` empty) and its assets.
pub async fn route<B>(
    service: &Service,
    state: &KeysState,
    request: Request<B>,
    peer: SocketAddr,
    rest: &str,
) -> Response<Body> {
    let method = request.method();
    let get = method == Method::GET || method == Method::HEAD;
    match rest {
        "" | "/" if get => page(service, state, request.headers(), peer).await,
        "" | "/" => method_not_allowed("GET, HEAD"),
        "/assets/keys.css" if get => asset(STYLE, "text/css; charset=utf-8"),
        "/assets/keys.js" if get => asset(SCRIPT, "text/javascript; charset=utf-8"),
        "/assets/icon.svg" if get => asset(ICON, "image/svg+xml"),
        "/assets/keys.css" | "/assets/keys.js" | "/assets/icon.svg" => {
            method_not_allowed("GET, HEAD")
        }
        _ => html(
            StatusCode::NOT_FOUND,
            shell("Not found", "<h1>Not found</h1>\n", None),
        ),
    }
}

/// A static asset (the CSP allows it as `'self'`).
fn asset(text: &'static str, kind: &'static str) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// An HTML page with the security headers.
fn html(status: StatusCode, page: String) -> Response<Body> {
    crate::http::html_response(status, page, CSP)
}

/// The document around a body; `csrf` adds the token and the script.
fn shell(title: &str, body: &str, csrf: Option<&str>) -> String {
    let head = csrf.map_or_else(String::new, |t| {
        format!(
            "<meta name=\"csrf-token\" content=\"{}\">\n<script src=\"/settings/api-keys/assets/keys.js\" defer></script>\n",
            escape(t)
        )
    });
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n\
<meta name=\"referrer\" content=\"no-referrer\">\n<title>{} · Settings</title>\n\
<link rel=\"icon\" href=\"/settings/api-keys/assets/icon.svg\" type=\"image/svg+xml\">\n<link rel=\"stylesheet\" href=\"/settings/api-keys/assets/keys.css\">\n{head}</head>\n<body>\n{body}</body></html>\n",
        escape(title)
    )
}

/// `GET /settings/api-keys`.
async fn page(
    service: &Service,
    state: &KeysState,
    headers: &http::HeaderMap,
    peer: SocketAddr,
) -> Response<Body> {
    let principal = if headers.contains_key(http::header::AUTHORIZATION) {
        Err(())
    } else {
        keys_api::principal(service, state, headers, peer).map_err(|_| ())
    };
    let (Ok(Principal::Member { user, org }), Some(secret)) = (principal, &state.host_secret)
    else {
        return html(
            StatusCode::UNAUTHORIZED,
            shell(
                "Sign in first",
                "<main>\n<h1>Sign in first</h1>\n<p>You are not signed in, or your sign-in has expired. \
Sign in to the application in this browser, then open Settings &gt; API Keys again.</p>\n</main>\n",
                None,
            ),
        );
    };
    let store = service.store.clone();
    let owner = org.clone();
    let keys = tokio::task::spawn_blocking(move || keys_api::list(&store, Some(&owner))).await;
    let keys = match keys {
        Ok(Ok(keys)) => keys,
        _ => {
            return html(
                StatusCode::SERVICE_UNAVAILABLE,
                shell(
                    "API Keys",
                    "<main>\n<h1>API Keys</h1>\n<p role=\"alert\">The keys cannot be read now. Reload the page in a moment.</p>\n</main>\n",
                    None,
                ),
            );
        }
    };
    let csrf = keys_api::csrf_token(secret, &user, &org, Timestamp::now().0);
    let catalog = service.checker.policy().catalog();
    let scopes: Vec<(&str, &str)> = catalog
        .scopes()
        .iter()
        .map(|s| (s.name.as_str(), s.description.as_str()))
        .collect();
    let rows: Vec<Row> = keys
        .iter()
        .map(|(record, last)| Row {
            id: record.id().as_str().to_owned(),
            name: record.name().to_owned(),
            display: record.display().to_string(),
            permissions: keys_api::permissions(record.scopes(), catalog),
            created: record.created_at(),
            last_used: *last,
            expires: record.expires_at(),
            status: record.state(Timestamp::now()).as_str(),
        })
        .collect();
    html(StatusCode::OK, render(&user, &org, &scopes, &rows, &csrf))
}

/// One key as the list shows it.
#[derive(Clone, Debug)]
pub struct Row {
    /// The key id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// `sk_live_<id>_…`.
    pub display: String,
    /// Its permissions, as people call them.
    pub permissions: Vec<String>,
    /// When it was created.
    pub created: Timestamp,
    /// When it was last used, if recorded.
    pub last_used: Option<Timestamp>,
    /// When it expires, if ever.
    pub expires: Option<Timestamp>,
    /// `active`, `revoked`, `expired` or `not_yet_valid`.
    pub status: &'static str,
}

/// The page's HTML: every value escaped, no secret.
pub fn render(user: &str, org: &str, scopes: &[(&str, &str)], rows: &[Row], csrf: &str) -> String {
    let mut b = String::with_capacity(8192);
    let who = if user == org {
        format!("Signed in as <strong>{}</strong>", escape(user))
    } else {
        format!(
            "Signed in as <strong>{}</strong> · organisation <strong>{}</strong>",
            escape(user),
            escape(org)
        )
    };
    let _ = write!(
        b,
        "<header>\n<nav aria-label=\"Breadcrumb\"><ol class=\"crumbs\"><li>Settings</li><li aria-current=\"page\">API Keys</li></ol></nav>\n\
<h1>API Keys</h1>\n<p class=\"muted\">{who}</p>\n</header>\n<main>\n\
<noscript><p class=\"error\">This page needs JavaScript to create, rotate or revoke keys.</p></noscript>\n\
<section aria-labelledby=\"create-h\" class=\"card\">\n<h2 id=\"create-h\">Create API Key</h2>\n\
<form id=\"create-form\">\n\
<div class=\"field\"><label for=\"key-name\">Name</label>\n\
<input id=\"key-name\" name=\"name\" type=\"text\" required maxlength=\"256\" autocomplete=\"off\" placeholder=\"Production Integration\" aria-describedby=\"key-name-help\">\n\
<p id=\"key-name-help\" class=\"muted\">A name that tells you where the key is used.</p></div>\n\
<fieldset>\n<legend>Permissions</legend>\n<p class=\"muted\" id=\"perm-help\">Grant only what the integration needs.</p>\n"
    );
    for (name, description) in scopes {
        let id = format!(
            "perm-{}",
            name.chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect::<String>()
        );
        let label = if description.is_empty() {
            name
        } else {
            description
        };
        let _ = writeln!(
            b,
            "<div class=\"check\"><input type=\"checkbox\" id=\"{id}\" name=\"scopes\" value=\"{}\" aria-describedby=\"perm-help\">\
<label for=\"{id}\">{} <code>{}</code></label></div>",
            escape(name),
            escape(label),
            escape(name)
        );
    }
    b.push_str(
        "</fieldset>\n\
<div class=\"field\"><label for=\"key-expiry\">Expires</label>\n\
<select id=\"key-expiry\" name=\"ttl_days\">\n<option value=\"30\">In 30 days</option>\n\
<option value=\"90\" selected>In 90 days (recommended)</option>\n<option value=\"365\">In 1 year</option>\n\
<option value=\"\">Never</option>\n</select></div>\n\
<p id=\"create-error\" class=\"error\" role=\"alert\" hidden></p>\n\
<button type=\"submit\" class=\"primary\">Create API Key</button>\n</form>\n</section>\n\
<section id=\"once\" class=\"card once\" aria-labelledby=\"once-h\" tabindex=\"-1\" hidden>\n\
<h2 id=\"once-h\">Copy your new API key now</h2>\n\
<p class=\"warning\" id=\"once-warning\"><strong>This key is shown once only.</strong> Store it in a secret manager \
now: you will not be able to see it again. Keep it out of client-side code and repositories. \
If you lose it, create a new key and revoke this one.</p>\n\
<label for=\"once-key\">API key <span id=\"once-name\"></span></label>\n\
<div class=\"keyrow\"><input id=\"once-key\" type=\"text\" readonly spellcheck=\"false\" autocomplete=\"off\" aria-describedby=\"once-warning\">\n\
<button type=\"button\" id=\"copy\">Copy</button></div>\n\
<p id=\"copy-status\" role=\"status\" aria-live=\"polite\"></p>\n\
<button type=\"button\" id=\"once-done\" class=\"primary\">I have stored the key</button>\n</section>\n\
<section aria-labelledby=\"list-h\" class=\"card\">\n<h2 id=\"list-h\">Your API keys</h2>\n",
    );
    // The table is always there (hidden while empty): the script adds a new key's row.
    let hidden = if rows.is_empty() { "" } else { " hidden" };
    let _ = writeln!(b, "<p id=\"no-keys\"{hidden}>No keys yet.</p>");
    let hidden = if rows.is_empty() { " hidden" } else { "" };
    let _ = write!(
        b,
        "<div class=\"scroll\"{hidden}><table id=\"keys\">\n<thead><tr><th scope=\"col\">Name</th><th scope=\"col\">Key</th>\
<th scope=\"col\">Permissions</th><th scope=\"col\">Created</th><th scope=\"col\">Last used</th>\
<th scope=\"col\">Expires</th><th scope=\"col\">Status</th><th scope=\"col\"><span class=\"sr-only\">Actions</span></th></tr></thead>\n<tbody>\n"
    );
    for row in rows {
        let (name, display) = (escape(&row.name), escape(&row.display));
        let actions = if row.status == "active" || row.status == "not_yet_valid" {
            format!(
                "<button type=\"button\" class=\"rotate\" data-id=\"{id}\" data-name=\"{name}\" data-display=\"{display}\">Rotate<span class=\"sr-only\"> {name}</span></button> \
<button type=\"button\" class=\"revoke danger\" data-id=\"{id}\" data-name=\"{name}\" data-display=\"{display}\">Revoke<span class=\"sr-only\"> {name}</span></button>",
                id = escape(&row.id)
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            b,
            "<tr data-id=\"{}\"><th scope=\"row\">{name}</th><td><code>{display}</code></td><td>{}</td>\
<td>{}</td><td>{}</td><td>{}</td><td><span class=\"status {status}\">{}</span></td><td class=\"actions\">{actions}</td></tr>",
            escape(&row.id),
            escape(&row.permissions.join(", ")),
            date(Some(row.created), "—"),
            date(row.last_used, "Never"),
            date(row.expires, "Never"),
            status_text(row.status),
            status = row.status,
        );
    }
    b.push_str("</tbody>\n</table></div>\n");
    b.push_str(
        "</section>\n</main>\n\
<dialog id=\"confirm\" aria-labelledby=\"confirm-h\" aria-describedby=\"confirm-text\">\n\
<h2 id=\"confirm-h\">Confirm</h2>\n<p id=\"confirm-text\"></p>\n\
<div class=\"field\" id=\"grace-row\" hidden><label for=\"grace\">Keep the old key working for</label>\n\
<select id=\"grace\">\n<option value=\"3600\">1 hour</option>\n<option value=\"86400\" selected>24 hours</option>\n\
<option value=\"604800\">7 days</option>\n<option value=\"0\">No overlap: stop it now</option>\n</select></div>\n\
<p id=\"confirm-error\" class=\"error\" role=\"alert\" hidden></p>\n\
<div class=\"buttons\"><button type=\"button\" id=\"confirm-cancel\">Cancel</button>\n\
<button type=\"button\" id=\"confirm-ok\" class=\"danger\">Confirm</button></div>\n</dialog>\n",
    );
    shell("API Keys", &b, Some(csrf))
}

fn status_text(status: &str) -> &'static str {
    match status {
        "active" => "Active",
        "revoked" => "Revoked",
        "expired" => "Expired",
        _ => "Not yet valid",
    }
}

/// `2026-12-05 20:16 UTC`, or `none` without a time.
pub fn date(t: Option<Timestamp>, none: &str) -> String {
    let Some(Timestamp(secs)) = t else {
        return none.to_owned();
    };
    let days = (secs / 86_400) as i64;
    let (hour, minute) = ((secs % 86_400) / 3600, (secs % 3600) / 60);
    // Days since 1970-01-01 to a civil date (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02} UTC")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_civil_utc() {
        assert_eq!(date(Some(Timestamp(0)), "-"), "1970-01-01 00:00 UTC");
        assert_eq!(
            date(Some(Timestamp(951_782_400)), "-"),
            "2000-02-29 00:00 UTC"
        );
        assert_eq!(
            date(Some(Timestamp(1_796_503_019)), "-"),
            "2026-12-05 20:36 UTC"
        );
        assert_eq!(date(None, "Never"), "Never");
    }

    #[test]
    fn the_page_escapes_everything_and_has_no_inline_code() {
        let rows = [Row {
            id: "abc".into(),
            name: "<script>alert(1)</script>".into(),
            display: "sk_live_abc_…".into(),
            permissions: vec!["Read <Claims>".into()],
            created: Timestamp(0),
            last_used: None,
            expires: None,
            status: "active",
        }];
        let page = render(
            "a\"b",
            "acme",
            &[("claims:read", "Read Claims")],
            &rows,
            "t\"",
        );
        assert!(!page.contains("<script>alert"), "{page}");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("Read &lt;Claims&gt;"));
        assert!(page.contains("content=\"t&quot;\""));
        assert!(page.contains(
            "<label for=\"perm-claims-read\">Read Claims <code>claims:read</code></label>"
        ));
        // Only the external script; no inline script, style or handler.
        assert_eq!(page.matches("<script").count(), 1);
        assert!(page.contains("<script src=\"/settings/api-keys/assets/keys.js\" defer></script>"));
        assert!(
            !page.contains("<style") && !page.contains(" style=") && !page.contains(" onclick")
        );
    }
}
