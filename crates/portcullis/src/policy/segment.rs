//! Request path segments as the route trie reads them: split at `/` and summarised by a
//! word (length and first 8 bytes) that rules out nearly every non-matching literal with
//! one comparison.
//!
//! Most segments are short (`v1`, `claims`, `12345`), so one 8-byte load usually both
//! finds the next `/` (a SWAR search: no byte loop) and gives the segment's head.

use crate::bytes::first_word;

/// A segment's length and its first 8 bytes (zero-padded, little-endian).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Head {
    len: usize,
    word: u64,
}

impl Head {
    /// The head of a literal segment (at template load; speed does not matter here).
    pub(crate) fn of(text: &[u8]) -> Head {
        let word = text
            .iter()
            .take(8)
            .enumerate()
            .fold(0u64, |w, (i, &b)| w | u64::from(b) << (8 * i));
        Head {
            len: text.len(),
            word,
        }
    }

    /// Whether the segment this is the head of may equal a literal whose head is `other`:
    /// certainly so when it is 8 bytes long or shorter (see [`Head::is_whole`]).
    #[inline(always)]
    pub(crate) fn may_match(self, other: Head) -> bool {
        self == other
    }

    /// Whether the head covers the whole segment (8 bytes or fewer), so that equal heads
    /// mean equal segments.
    #[inline(always)]
    pub(crate) fn is_whole(self) -> bool {
        self.len <= 8
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;
const SLASHES: u64 = ONES * b'/' as u64;

/// The first segment of `rest` (everything before the first `/`), its head, and what
/// follows that `/` (`None` when `rest` has no `/`: this is the last segment).
#[inline(always)]
pub(crate) fn split(rest: &[u8]) -> (&[u8], Head, Option<&[u8]>) {
    let (word, avail) = first_word(rest);
    // A zero byte of `word ^ SLASHES` is a `/`; the lowest flagged byte is the first one
    // (the borrow of the subtraction can only flag bytes above a true zero). Bytes past
    // the end of a short `rest` are zero, never a `/`.
    let x = word ^ SLASHES;
    let flags = x.wrapping_sub(ONES) & !x & HIGHS;
    let len = if flags != 0 {
        (flags.trailing_zeros() / 8) as usize
    } else if avail < 8 {
        avail
    } else {
        8 + position_of_slash(rest.get(8..).unwrap_or_default()).unwrap_or(rest.len() - 8)
    };
    let kept = if len >= 8 {
        word
    } else {
        word & ((1u64 << (8 * len)) - 1)
    };
    let head = Head { len, word: kept };
    match (rest.get(..len), rest.get(len + 1..)) {
        (Some(segment), Some(tail)) => (segment, head, Some(tail)),
        _ => (rest, head, None),
    }
}

fn position_of_slash(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'/')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(rest: &[u8]) -> (&[u8], Option<&[u8]>) {
        match rest.iter().position(|&b| b == b'/') {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        }
    }

    #[test]
    fn split_agrees_with_a_byte_scan_at_every_length_and_slash_position() {
        for len in 0..24 {
            for slash in (0..len).map(Some).chain([None]) {
                let mut path: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
                if let Some(at) = slash {
                    path[at] = b'/';
                    // A second slash later on must not be taken for the first.
                    if at + 3 < len {
                        path[at + 3] = b'/';
                    }
                }
                let (segment, head, tail) = split(&path);
                assert_eq!((segment, tail), naive(&path), "{path:?}");
                assert_eq!(head, Head::of(segment), "{path:?}");
            }
        }
    }

    #[test]
    fn heads_are_equal_only_for_equal_short_segments() {
        let long = Head::of(b"claims-archive");
        assert!(long.may_match(Head::of(b"claims-archivf")) && !long.is_whole());
        assert!(Head::of(b"claims").is_whole());
        assert!(!Head::of(b"v1").may_match(Head::of(b"v1\0")));
        assert!(!Head::of(b"").may_match(Head::of(b"a")));
        assert!(!Head::of(b"claimz").may_match(Head::of(b"claims")));
    }
}
