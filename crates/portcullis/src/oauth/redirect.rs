//! Redirect URIs: registration rules, exact matching (RFC 9700 §2.1) with the loopback
//! port exception for native clients (RFC 8252 §7.3), and building the redirect.

use super::params::encode;

/// Why a redirect URI cannot be registered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RedirectError {
    /// Not an absolute URI with a scheme.
    #[error("redirect URI must be absolute")]
    NotAbsolute,
    /// Contains a fragment (RFC 6749 §3.1.2).
    #[error("redirect URI must not contain a fragment")]
    Fragment,
    /// Contains userinfo (`user@host`).
    #[error("redirect URI must not contain userinfo")]
    Userinfo,
    /// Plain `http` to a host other than a loopback address of a native client.
    #[error("redirect URI must use https (http only for native loopback)")]
    InsecureScheme,
    /// Contains whitespace or control characters.
    #[error("redirect URI contains invalid characters")]
    Characters,
}

impl RedirectError {
    /// Its row in [`crate::codes`].
    pub const fn row(&self) -> &'static crate::codes::Code {
        match self {
            RedirectError::NotAbsolute => &crate::codes::REDIRECT_NOT_ABSOLUTE,
            RedirectError::Fragment => &crate::codes::REDIRECT_FRAGMENT,
            RedirectError::Userinfo => &crate::codes::REDIRECT_USERINFO,
            RedirectError::InsecureScheme => &crate::codes::REDIRECT_INSECURE_SCHEME,
            RedirectError::Characters => &crate::codes::REDIRECT_CHARACTERS,
        }
    }

    /// A stable machine-readable name, unique in its family (see [`crate::codes`]).
    pub const fn code(&self) -> &'static str {
        self.row().code()
    }
}

fn scheme(uri: &str) -> Option<&str> {
    let (scheme, _) = uri.split_once(':')?;
    let mut bytes = scheme.bytes();
    let first_alpha = bytes.next().is_some_and(|b| b.is_ascii_alphabetic());
    let rest_ok = bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    (first_alpha && rest_ok).then_some(scheme)
}

fn authority(uri: &str) -> Option<&str> {
    let rest = uri.split_once("://")?.1;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(&rest[..end])
}

/// The loopback parts of `http://127.0.0.1:port/rest` or `http://[::1]:port/rest`:
/// (host, port digits, rest).
fn loopback(uri: &str) -> Option<(&str, &str, &str)> {
    let rest = uri.strip_prefix("http://")?;
    let host = ["127.0.0.1", "[::1]"]
        .into_iter()
        .find(|h| rest.starts_with(h))?;
    let after = &rest[host.len()..];
    let (port, tail) = match after.strip_prefix(':') {
        Some(p) => {
            let end = p.find(|c: char| !c.is_ascii_digit()).unwrap_or(p.len());
            (&p[..end], &p[end..])
        }
        None => ("", after),
    };
    let tail_ok = tail.is_empty() || tail.starts_with('/') || tail.starts_with('?');
    (port.len() <= 5 && tail_ok).then_some((host, port, tail))
}

/// Checks a redirect URI for registration. `native` clients may use custom schemes and
/// `http` to a loopback IP literal; everyone else needs `https`.
pub fn validate_registration(uri: &str, native: bool) -> Result<(), RedirectError> {
    if uri.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(RedirectError::Characters);
    }
    let scheme = scheme(uri).ok_or(RedirectError::NotAbsolute)?;
    if uri.contains('#') {
        return Err(RedirectError::Fragment);
    }
    if authority(uri).is_some_and(|a| a.contains('@')) {
        return Err(RedirectError::Userinfo);
    }
    match scheme {
        "https" => Ok(()),
        "http" if native && loopback(uri).is_some() => Ok(()),
        "http" => Err(RedirectError::InsecureScheme),
        _ if native => Ok(()),
        _ => Err(RedirectError::InsecureScheme),
    }
}

/// Whether a requested redirect URI matches a registered one: byte-for-byte, except that
/// for native clients a loopback registration matches any port (RFC 8252 §7.3).
pub fn matches(registered: &str, requested: &str, native: bool) -> bool {
    if registered == requested {
        return true;
    }
    if !native {
        return false;
    }
    match (loopback(registered), loopback(requested)) {
        (Some((h1, _, t1)), Some((h2, p2, t2))) => h1 == h2 && t1 == t2 && !p2.starts_with('0'),
        _ => false,
    }
}

/// `uri` with query parameters appended (`?` or `&` as needed); empty values are skipped.
pub fn with_params(uri: &str, params: &[(&str, Option<&str>)]) -> String {
    let mut out = String::with_capacity(uri.len() + 64);
    out.push_str(uri);
    let mut sep = if uri.contains('?') { '&' } else { '?' };
    for (name, value) in params {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            out.push(sep);
            out.push_str(name);
            out.push('=');
            encode(v, &mut out);
            sep = '&';
        }
    }
    out
}
