//! What the C and Python bindings and the command of this repository need from the core
//! beyond its API: **not part of the stable API**; it may change in any release. (Today the
//! C binding borrows its text through [`text`] and [`is_ascii`]; the bindings and the
//! command read files and stdin through the bounded reads.)
//!
//! Everything here is safe: a binding calls these instead of keeping its own copy of a
//! byte trick (and its own `unsafe`).

pub use crate::bounded::{
    Accept, BoundedReadError, check_file_type, read_line_to_limit, read_to_limit,
};

/// Borrows foreign bytes (a C string, a buffer) as text, validating them as UTF-8 in full.
///
/// A binding converts unchecked only bytes that [`is_ascii`] accepted; everything else
/// goes through here.
#[inline]
pub fn text(bytes: &[u8]) -> Result<&str, std::str::Utf8Error> {
    std::str::from_utf8(bytes)
}

/// Whether every byte is ASCII (so the bytes are UTF-8): the hot path's word-wise test,
/// a few instructions for a method or a path, where [`text`] is a call and a loop.
#[inline]
pub fn is_ascii(bytes: &[u8]) -> bool {
    crate::bytes::is_ascii(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_accepts_utf8_and_refuses_anything_else() {
        assert_eq!(text(b"GET").ok(), Some("GET"));
        assert_eq!(text("/v1/caf\u{e9}".as_bytes()).ok(), Some("/v1/caf\u{e9}"));
        assert_eq!(text(b"").ok(), Some(""));
        for bad in [&b"\xff"[..], b"/v1/\xc3", b"/v1/claims/\x80xyz"] {
            assert!(text(bad).is_err(), "{bad:?}");
        }
    }
}
