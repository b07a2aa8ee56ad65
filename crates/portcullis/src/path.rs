//! Request path rules: which paths are matched against the routes, in what form.
//!
//! A host's router and portcullis must agree on which route a request is for, or a path
//! that the router normalises (`/static/../admin/users` → `/admin/users`) is judged by
//! the wrong route. So portcullis takes the raw path and refuses, with 400
//! `invalid_request` (reason `ambiguous_path`), every path whose meaning depends on how a
//! router normalises it, before any route is matched. The rules live here, once; route
//! templates go through them too.
//!
//! Decisions written down here:
//! - **What the host passes**: the path exactly as received on the request line (the raw
//!   path of RFC 9112 §3.2), before its router decodes or normalises it, without the query
//!   string or fragment. A path that is not absolute (`*`, `http://…`, empty) is refused.
//! - **Dot segments** (`.`, `..`, also as `%2E`) are refused, not resolved (RFC 3986
//!   §5.2.4 would resolve them; routers differ on whether and when they do).
//! - **Empty segments** (`//`) are refused: routers differ on merging them. A trailing `/`
//!   is allowed and is not the path without it (`/v1/claims/` ≠ `/v1/claims`).
//! - **Encoded separators** `%2F` (`/`) and `%5C` (`\`), and an encoded NUL `%00`, are
//!   refused: some routers decode them before splitting, others after; C-string routers
//!   stop at NUL.
//! - **Bytes that are not visible ASCII** (controls, space, DEL, non-ASCII), a raw `\`
//!   (some servers read it as `/`), and `?` or `#` (the host passed the query string or a
//!   fragment) are refused: none is valid in an HTTP request-target.
//! - **Invalid percent-encoding** (`%`, `%4`, `%G1`) is refused.
//! - **Percent-escapes of unreserved characters** (`A-Z a-z 0-9 - . _ ~`, RFC 3986 §2.3)
//!   are decoded (`%65xport` is `export`, RFC 3986 §6.2.2.2); every other escape stays
//!   encoded, with its hex digits upper-cased (`%c3` is `%C3`, §6.2.2.1).
//! - **`;` path parameters** (`/v1/claims/export;v=1`) are refused unless the policy says
//!   `[paths] params = "ignore"`; then everything from a `;` to the end of its segment is
//!   ignored for matching, as servlet containers do (`export;v=1` is `export`).
//! - **Case**: paths are case-sensitive by default, as RFC 3986 §6.2.2.1 says they are;
//!   a policy may set `case_sensitive = false`, and then ASCII letters outside escapes
//!   are compared without case (`/v1/claims/Export` is `/v1/claims/export`).
//!
//! A path that needs no rewriting (no escape to normalise, no parameter to drop, no
//! letter to fold) is matched in place; otherwise the normal form is written to a buffer,
//! on the stack for paths up to 512 bytes (on the heap above).

use std::fmt;

/// Paths up to this many bytes are normalised on the stack; longer ones on the heap.
pub(crate) const STACK_PATH: usize = 512;

/// What a policy does with `;` path parameters (`/v1/claims/export;v=1`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PathParams {
    /// Refuse any path with a `;` (the default).
    #[default]
    Refuse,
    /// Ignore everything from a `;` to the end of its segment when matching (for hosts
    /// whose router does the same, like servlet containers).
    Ignore,
}

/// The path rules a policy sets (`[paths]` in the policy file).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PathRules {
    /// Compare ASCII letters with their case (default: true, as RFC 3986 says paths are).
    pub case_sensitive: bool,
    /// What to do with `;` path parameters (default: refuse).
    pub params: PathParams,
}

impl Default for PathRules {
    fn default() -> Self {
        PathRules {
            case_sensitive: true,
            params: PathParams::Refuse,
        }
    }
}

/// Why a request path was refused (400 `invalid_request`, reason `ambiguous_path`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PathError {
    /// The path does not start with `/`.
    NotAbsolute,
    /// A byte that is not visible ASCII, or a raw `\`, `?` or `#`.
    InvalidByte,
    /// A `%` not followed by two hex digits, or `%00`.
    BadEscape,
    /// `%2F` or `%5C`: an encoded `/` or `\`.
    EncodedSeparator,
    /// An empty segment (`//`) before the last.
    EmptySegment,
    /// A `.` or `..` segment (also encoded).
    DotSegment,
    /// A `;` path parameter, and the policy refuses them.
    PathParams,
}

impl PathError {
    /// A stable machine-readable name (`dot_segment`, …).
    pub const fn code(&self) -> &'static str {
        self.row().code()
    }

    /// Its row in [`crate::codes`].
    pub const fn row(&self) -> &'static crate::codes::Code {
        match self {
            PathError::NotAbsolute => &crate::codes::PATH_NOT_ABSOLUTE,
            PathError::InvalidByte => &crate::codes::PATH_INVALID_BYTE,
            PathError::BadEscape => &crate::codes::PATH_BAD_ESCAPE,
            PathError::EncodedSeparator => &crate::codes::PATH_ENCODED_SEPARATOR,
            PathError::EmptySegment => &crate::codes::PATH_EMPTY_SEGMENT,
            PathError::DotSegment => &crate::codes::PATH_DOT_SEGMENT,
            PathError::PathParams => &crate::codes::PATH_PARAMS,
        }
    }
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PathError::NotAbsolute => "the path must start with '/'",
            PathError::InvalidByte => {
                "only visible ASCII is allowed, without '\\', '?' or '#' (percent-encode the rest)"
            }
            PathError::BadEscape => "invalid percent-encoding (or %00)",
            PathError::EncodedSeparator => "an encoded '/' or '\\' (%2F, %5C)",
            PathError::EmptySegment => "an empty segment ('//')",
            PathError::DotSegment => "a '.' or '..' segment",
            PathError::PathParams => "a ';' path parameter",
        })
    }
}

impl std::error::Error for PathError {}

/// How a byte is read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Plain,
    Upper,
    Dot,
    Slash,
    Percent,
    Semicolon,
    Bad,
}

const fn class_of(b: u8) -> Class {
    match b {
        b'/' => Class::Slash,
        b'%' => Class::Percent,
        b';' => Class::Semicolon,
        b'.' => Class::Dot,
        b'A'..=b'Z' => Class::Upper,
        b'\\' | b'?' | b'#' => Class::Bad,
        0x21..=0x7e => Class::Plain,
        _ => Class::Bad,
    }
}

const CLASSES: [Class; 256] = {
    let mut table = [Class::Bad; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = class_of(b as u8);
        b += 1;
    }
    table
};

const fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

const fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// The escape at `path[at]` (a `%`): the decoded byte, or why it is refused.
#[inline]
fn escape(path: &[u8], at: usize) -> Result<u8, PathError> {
    let (Some(&hi), Some(&lo)) = (path.get(at + 1), path.get(at + 2)) else {
        return Err(PathError::BadEscape);
    };
    let (Some(hi), Some(lo)) = (hex(hi), hex(lo)) else {
        return Err(PathError::BadEscape);
    };
    match hi << 4 | lo {
        0 => Err(PathError::BadEscape),
        b'/' | b'\\' => Err(PathError::EncodedSeparator),
        c => Ok(c),
    }
}

/// Bytes a path in normal form may hold with no further look: letters (upper-case ones
/// only where case matters), digits, `-`, `_`, `~` and `/`. No `.`, so no dot segment.
const fn plain_table(upper: bool) -> [bool; 256] {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_lowercase()
            || c.is_ascii_digit()
            || matches!(c, b'-' | b'_' | b'~' | b'/')
            || (upper && c.is_ascii_uppercase());
        b += 1;
    }
    table
}

const PLAIN_CASED: [bool; 256] = plain_table(true);
const PLAIN_FOLDED: [bool; 256] = plain_table(false);

/// Checks `path` against the rules. `Ok(false)`: it is in normal form and can be matched
/// as it is; `Ok(true)`: match [`normalize`]'s output instead.
#[inline]
pub(crate) fn check(path: &[u8], rules: PathRules) -> Result<bool, PathError> {
    if is_plain(path, rules.case_sensitive) {
        return Ok(false);
    }
    check_all(path, rules)
}

/// The common case, without a branch per byte class: a path of [`plain_table`] bytes
/// that starts with `/` and has no `//` is in normal form. (A word-at-a-time version
/// measured no faster: the trie walk dominates.)
#[inline(always)]
fn is_plain(path: &[u8], case_sensitive: bool) -> bool {
    let table = if case_sensitive {
        &PLAIN_CASED
    } else {
        &PLAIN_FOLDED
    };
    let Some((&b'/', rest)) = path.split_first() else {
        return false;
    };
    let mut ok = true;
    let mut slash = true;
    for &b in rest {
        let next = b == b'/';
        ok &= table[usize::from(b)] & !(slash & next);
        slash = next;
    }
    ok
}

/// [`check`] byte by byte, for paths [`is_plain`] does not accept.
fn check_all(path: &[u8], rules: PathRules) -> Result<bool, PathError> {
    if path.first() != Some(&b'/') {
        return Err(PathError::NotAbsolute);
    }
    let mut rewrite = false;
    // The current segment, up to any `;`: how many dots it has, whether it has anything
    // else, whether a `;` was seen.
    let (mut dots, mut other, mut params) = (0usize, false, false);
    let mut at = 1;
    while let Some(&b) = path.get(at) {
        match CLASSES[usize::from(b)] {
            Class::Plain => other |= !params,
            Class::Upper => {
                other |= !params;
                rewrite |= !rules.case_sensitive;
            }
            Class::Dot => dots += usize::from(!params),
            Class::Slash => {
                end_segment(dots, other)?;
                (dots, other, params) = (0, false, false);
            }
            Class::Percent => {
                let c = escape(path, at)?;
                if is_unreserved(c) {
                    rewrite = true;
                    if c == b'.' {
                        dots += usize::from(!params);
                    } else {
                        other |= !params;
                    }
                } else {
                    other |= !params;
                    // Lower-case hex digits are rewritten upper-case.
                    rewrite |= path
                        .get(at + 1..at + 3)
                        .is_some_and(|h| h.iter().any(u8::is_ascii_lowercase));
                }
                at += 2;
            }
            Class::Semicolon => match rules.params {
                PathParams::Refuse => return Err(PathError::PathParams),
                PathParams::Ignore => {
                    params = true;
                    rewrite = true;
                }
            },
            Class::Bad => return Err(PathError::InvalidByte),
        }
        at += 1;
    }
    // The last segment may be empty (a trailing `/`), never a dot segment.
    if !other && (1..=2).contains(&dots) {
        return Err(PathError::DotSegment);
    }
    Ok(rewrite)
}

/// The end of a segment that a `/` follows.
#[inline(always)]
fn end_segment(dots: usize, other: bool) -> Result<(), PathError> {
    match (dots, other) {
        (_, true) => Ok(()),
        (0, false) => Err(PathError::EmptySegment),
        (1 | 2, false) => Err(PathError::DotSegment),
        _ => Ok(()),
    }
}

/// Writes the normal form of `path` (which [`check`] accepted) into `out` (at least as long
/// as `path`) and returns its length: unreserved escapes decoded, other escapes'
/// hex upper-cased, `;` parameters dropped, letters folded when matching ignores case.
pub(crate) fn normalize(path: &[u8], rules: PathRules, out: &mut [u8]) -> usize {
    let fold = |c: u8| {
        if rules.case_sensitive {
            c
        } else {
            c.to_ascii_lowercase()
        }
    };
    let mut len = 0;
    let mut put = |c: u8| {
        if let Some(slot) = out.get_mut(len) {
            *slot = c;
            len += 1;
        }
    };
    let mut params = false;
    let mut at = 0;
    while let Some(&b) = path.get(at) {
        match b {
            b'/' => {
                params = false;
                put(b);
            }
            b';' => params = true,
            _ if params => {}
            b'%' => {
                match escape(path, at) {
                    Ok(c) if is_unreserved(c) => put(fold(c)),
                    _ => {
                        put(b'%');
                        for &h in path.get(at + 1..at + 3).unwrap_or_default() {
                            put(h.to_ascii_uppercase());
                        }
                    }
                }
                at += 2;
            }
            _ => put(fold(b)),
        }
        at += 1;
    }
    len
}

/// The normal form of one literal segment of a route template (`export`, `%65xport`),
/// under `rules`; `last` says whether it ends the template (only the last may be empty).
/// A template never holds a `;`, whatever the rules: it could never match.
pub(crate) fn template_literal(
    segment: &str,
    last: bool,
    rules: PathRules,
) -> Result<String, PathError> {
    if segment.is_empty() {
        return if last {
            Ok(String::new())
        } else {
            Err(PathError::EmptySegment)
        };
    }
    let path = format!("/{segment}");
    let strict = PathRules {
        params: PathParams::Refuse,
        ..rules
    };
    check(path.as_bytes(), strict)?;
    let mut out = vec![0; path.len()];
    let len = normalize(path.as_bytes(), strict, &mut out);
    out.truncate(len);
    // Only ASCII is accepted and normalisation keeps it ASCII.
    Ok(String::from_utf8_lossy(out.get(1..).unwrap_or_default()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: PathRules = PathRules {
        case_sensitive: true,
        params: PathParams::Refuse,
    };

    fn normal(path: &str, rules: PathRules) -> Result<String, PathError> {
        let rewrite = check(path.as_bytes(), rules)?;
        let mut out = vec![0; path.len()];
        let len = normalize(path.as_bytes(), rules, &mut out);
        out.truncate(len);
        let out = String::from_utf8(out).expect("ascii");
        assert_eq!(rewrite, out != path, "{path:?}: rewrite flag vs {out:?}");
        Ok(out)
    }

    #[test]
    fn ambiguous_paths_are_refused_with_the_reason() {
        for (path, error) in [
            ("", PathError::NotAbsolute),
            ("*", PathError::NotAbsolute),
            ("v1/claims", PathError::NotAbsolute),
            ("http://x/v1", PathError::NotAbsolute),
            ("/static/../admin/users", PathError::DotSegment),
            ("/v1/claims/..%2Fadmin", PathError::EncodedSeparator),
            ("/v1/claims/..%2fadmin", PathError::EncodedSeparator),
            ("/v1/claims/a%5Cb", PathError::EncodedSeparator),
            ("/v1/./claims", PathError::DotSegment),
            ("/v1/.", PathError::DotSegment),
            ("/v1/..", PathError::DotSegment),
            ("/v1/%2E%2E/admin", PathError::DotSegment),
            ("/v1/.%2e", PathError::DotSegment),
            ("/v1//claims", PathError::EmptySegment),
            ("//v1", PathError::EmptySegment),
            ("/v1/claims/export;v=1", PathError::PathParams),
            ("/v1/claims/%", PathError::BadEscape),
            ("/v1/claims/%4", PathError::BadEscape),
            ("/v1/claims/%G1", PathError::BadEscape),
            ("/v1/claims/%00", PathError::BadEscape),
            ("/v1/claims/a b", PathError::InvalidByte),
            ("/v1/claims/a\\b", PathError::InvalidByte),
            ("/v1/claims?x=1", PathError::InvalidByte),
            ("/v1/claims#x", PathError::InvalidByte),
            ("/v1/claims/\u{e9}", PathError::InvalidByte),
            ("/v1/claims/\t", PathError::InvalidByte),
        ] {
            assert_eq!(normal(path, STRICT), Err(error), "{path:?}");
        }
    }

    #[test]
    fn unreserved_escapes_are_decoded_and_others_upper_cased() {
        for (path, want) in [
            ("/", "/"),
            ("/v1/claims/42", "/v1/claims/42"),
            ("/v1/claims/", "/v1/claims/"),
            ("/v1/claims/%65xport", "/v1/claims/export"),
            ("/v1/%7Euser/%41", "/v1/~user/A"),
            ("/v1/caf%c3%a9", "/v1/caf%C3%A9"),
            ("/v1/a%20b", "/v1/a%20b"),
            ("/v1/.well-known/x", "/v1/.well-known/x"),
            ("/v1/...", "/v1/..."),
            ("/v1/..a", "/v1/..a"),
            ("/v1/Export", "/v1/Export"),
        ] {
            assert_eq!(normal(path, STRICT).as_deref(), Ok(want), "{path:?}");
        }
    }

    #[test]
    fn case_folding_and_ignored_parameters_are_policy_settings() {
        let loose = PathRules {
            case_sensitive: false,
            params: PathParams::Ignore,
        };
        for (path, want) in [
            ("/v1/claims/Export", "/v1/claims/export"),
            ("/v1/claims/export;v=1", "/v1/claims/export"),
            ("/v1/claims;a/export;v=1;w=2", "/v1/claims/export"),
            ("/v1/%4Bey/%c3", "/v1/key/%C3"),
        ] {
            assert_eq!(normal(path, loose).as_deref(), Ok(want), "{path:?}");
        }
        for (path, error) in [
            ("/static/..;/admin", PathError::DotSegment),
            ("/static/;x/admin", PathError::EmptySegment),
            ("/v1/x;%2F", PathError::EncodedSeparator),
        ] {
            assert_eq!(normal(path, loose), Err(error), "{path:?}");
        }
    }

    #[test]
    fn template_literals_take_the_normal_form_or_are_refused() {
        assert_eq!(
            template_literal("%65xport", false, STRICT).as_deref(),
            Ok("export")
        );
        assert_eq!(template_literal("", true, STRICT).as_deref(), Ok(""));
        let loose = PathRules {
            case_sensitive: false,
            params: PathParams::Ignore,
        };
        assert_eq!(
            template_literal("Export", true, loose).as_deref(),
            Ok("export")
        );
        for (segment, error) in [
            ("", PathError::EmptySegment),
            ("..", PathError::DotSegment),
            ("a;b", PathError::PathParams),
            ("a b", PathError::InvalidByte),
            ("%2F", PathError::EncodedSeparator),
        ] {
            assert_eq!(
                template_literal(segment, false, loose),
                Err(error),
                "{segment:?}"
            );
        }
    }

    proptest::proptest! {
        /// Whatever the bytes and the rules, an accepted path's normal form has no dot
        /// segment and no empty segment before the last, and is no longer than the path.
        #[test]
        fn no_accepted_path_has_a_dot_segment_after_decoding(
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    "/", ".", "..", "%2E", "%2e", "a", "A", "%41", "%7e", ";", ";x", "%", "%2F",
                    "%c3", "\\", "", "e",
                ]),
                0..12,
            ),
            case_sensitive: bool,
            ignore: bool,
        ) {
            let path = parts.concat();
            let rules = PathRules {
                case_sensitive,
                params: if ignore { PathParams::Ignore } else { PathParams::Refuse },
            };
            // The fast path accepts only what the full check passes unchanged.
            if is_plain(path.as_bytes(), case_sensitive) {
                proptest::prop_assert_eq!(check_all(path.as_bytes(), rules), Ok(false));
            }
            if let Ok(normal) = normal(&path, rules) {
                proptest::prop_assert!(normal.len() <= path.len());
                let segments: Vec<&str> = normal.split('/').skip(1).collect();
                let last = segments.len() - 1;
                for (i, s) in segments.iter().enumerate() {
                    proptest::prop_assert!(*s != "." && *s != "..", "{path:?} -> {normal:?}");
                    proptest::prop_assert!(!s.is_empty() || i == last, "{path:?} -> {normal:?}");
                    proptest::prop_assert!(!s.contains(';') && !s.contains("%2F"));
                }
                // Normal forms are fixed points.
                proptest::prop_assert_eq!(super::tests::normal(&normal, rules), Ok(normal.clone()));
            }
        }
    }
}
