//! The byte tricks of the hot path, written once and each tested against the plain version.
//!
//! Decisions made here:
//! - Short inputs (the check path's labels, methods, path segments) are read as at most two
//!   overlapping words instead of a byte loop or a library call: a few instructions
//!   whatever the length. Longer inputs go to the standard library.
//! - [`eq_public`] is for public bytes only and is not constant-time; secrets and digests
//!   are compared with `hash::ct_eq`.
//! - [`is_ascii`] is the word-wise ASCII test the C binding runs before its one unchecked
//!   UTF-8 conversion (the crate itself has no `unsafe`): for a method or a path it is a
//!   few instructions, where a full UTF-8 validation is a call and a loop.
//!
//! The measurements behind these choices are in `benches/OPTIMISATIONS.md`.

/// Whether two byte strings of PUBLIC data are equal (labels, key prefixes, method names,
/// pepper ids): not constant-time, since its timing may only reveal what anyone may know.
/// Never use it on a secret or a digest.
#[inline]
pub(crate) fn eq_public(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    // Inline overlapping words: for a few bytes a `memcmp` call costs more than the compare.
    match n {
        0..4 => a.iter().zip(b).all(|(x, y)| x == y),
        4..8 => a.first_chunk::<4>() == b.first_chunk() && a.last_chunk::<4>() == b.last_chunk(),
        8..=16 => a.first_chunk::<8>() == b.first_chunk() && a.last_chunk::<8>() == b.last_chunk(),
        _ => a == b,
    }
}

/// Whether every byte of `s` is ASCII: at most two overlapping words for up to 16 bytes,
/// the standard library above.
#[inline]
pub(crate) fn is_ascii(s: &[u8]) -> bool {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let word = |w: &[u8; 8]| u64::from_ne_bytes(*w) & HIGH == 0;
    match s.len() {
        0..8 => first_word(s).0 & HIGH == 0,
        8..=16 => overlapping::<8>(s).is_some_and(|(lo, hi)| word(&lo) && word(&hi)),
        _ => s.is_ascii(),
    }
}

/// The first and the last `N` bytes of `s` (which overlap when `s` is shorter than `2N`),
/// or `None` when `s` is shorter than `N`. Two such pairs cover every byte of strings of
/// `N` to `2N` bytes.
#[inline(always)]
fn overlapping<const N: usize>(s: &[u8]) -> Option<([u8; N], [u8; N])> {
    Some((*s.first_chunk::<N>()?, *s.last_chunk::<N>()?))
}

/// The first 8 bytes of `s` as a little-endian word, zero-padded when `s` is shorter, and
/// how many of them are real. A short `s` costs at most three loads and no loop or call:
/// two overlapping 4-byte words from 4 bytes on, the first, middle and last byte below.
#[inline(always)]
pub(crate) fn first_word(s: &[u8]) -> (u64, usize) {
    if let Some(w) = s.first_chunk::<8>() {
        return (u64::from_le_bytes(*w), 8);
    }
    let n = s.len();
    let word = match overlapping::<4>(s) {
        Some((lo, hi)) => {
            u64::from(u32::from_le_bytes(lo)) | u64::from(u32::from_le_bytes(hi)) << (8 * (n - 4))
        }
        None => match (s.first(), s.get(n / 2), s.last()) {
            (Some(&a), Some(&b), Some(&c)) => {
                u64::from(a) | u64::from(b) << (8 * (n / 2)) | u64::from(c) << (8 * (n - 1))
            }
            _ => 0,
        },
    };
    (word, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every length up to 40, with each byte in turn changed: the inputs where an
    /// overlapping-word trick can go wrong (the boundaries 3/4, 7/8, 16/17).
    fn variants(len: usize) -> impl Iterator<Item = (Vec<u8>, Vec<u8>)> {
        let plain: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
        let changed = (0..len).flat_map(move |at| {
            [0x80u8, 0xc3, 0xff, b'/', 0]
                .into_iter()
                .map(move |b| (at, b))
        });
        let p = plain.clone();
        std::iter::once((plain.clone(), plain)).chain(changed.map(move |(at, b)| {
            let mut c = p.clone();
            c[at] = b;
            (p.clone(), c)
        }))
    }

    #[test]
    fn eq_public_agrees_with_slice_equality_at_every_length() {
        for len in 0..40 {
            for (a, b) in variants(len) {
                assert_eq!(eq_public(&a, &b), a == b, "len {len}: {a:?} {b:?}");
                assert_eq!(eq_public(&b, &a), a == b, "len {len}");
            }
            let plain = vec![b'x'; len];
            let longer = vec![b'x'; len + 1];
            assert!(!eq_public(&plain, &longer), "len {len}");
        }
    }

    #[test]
    fn is_ascii_agrees_with_the_standard_library_at_every_length() {
        for len in 0..40 {
            for (_, s) in variants(len) {
                assert_eq!(is_ascii(&s), s.is_ascii(), "len {len}: {s:?}");
            }
        }
    }

    #[test]
    fn first_word_agrees_with_a_byte_loop_at_every_length() {
        for len in 0..20 {
            for (_, s) in variants(len) {
                let naive = s
                    .iter()
                    .take(8)
                    .enumerate()
                    .fold(0u64, |w, (i, &b)| w | u64::from(b) << (8 * i));
                assert_eq!(first_word(&s), (naive, len.min(8)), "len {len}: {s:?}");
            }
        }
    }
}
