//! Base62 (`0-9A-Za-z`) helpers for fixed-width fields of the key format.

/// The base62 alphabet, in value order.
pub(crate) const ALPHABET: &[u8; 62] =
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Whether `b` is a base62 character.
#[inline]
pub(crate) const fn is_base62(b: u8) -> bool {
    // Branch-free form of `is_ascii_alphanumeric` (`| 0x20` folds upper case onto lower).
    (b.wrapping_sub(b'0') < 10) | ((b | 0x20).wrapping_sub(b'a') < 26)
}

/// The value of a base62 character, or `None` (the reference the parse path's table is
/// tested against).
#[cfg(test)]
pub(crate) const fn value(b: u8) -> Option<u32> {
    match b {
        b'0'..=b'9' => Some((b - b'0') as u32),
        b'A'..=b'Z' => Some((b - b'A') as u32 + 10),
        b'a'..=b'z' => Some((b - b'a') as u32 + 36),
        _ => None,
    }
}

/// Encodes `n` as exactly `N` base62 digits, most significant first, left-padded with `0`.
/// `N = 6` holds every `u32` (62^6 > 2^32).
pub(crate) fn encode_fixed<const N: usize>(mut n: u64) -> [u8; N] {
    let mut out = [b'0'; N];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(n % 62) as usize];
        n /= 62;
    }
    out
}

#[cfg(test)]
/// Decodes exactly the given digits; `None` on a non-base62 character or overflow of `u64`.
pub(crate) fn decode_fixed(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |acc, &b| {
        acc.checked_mul(62)?.checked_add(u64::from(value(b)?))
    })
}

/// Each byte's base62 value, 0 for bytes outside the alphabet (a table: one load per
/// digit on the parse path instead of a chain of range tests).
const VALUES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < ALPHABET.len() {
        table[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
};

/// Decodes digits already checked to be base62 (any other byte counts as 0), with no
/// overflow checks: callers pass at most 10 digits.
#[inline]
pub(crate) fn decode_checked_digits(digits: &[u8]) -> u64 {
    digits.iter().fold(0u64, |acc, &b| {
        acc.wrapping_mul(62)
            .wrapping_add(u64::from(VALUES[usize::from(b)]))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_u32_extremes() {
        for n in [0u64, 1, 61, 62, u64::from(u32::MAX)] {
            let enc = encode_fixed::<6>(n);
            assert_eq!(decode_fixed(&enc), Some(n));
        }
    }

    #[test]
    fn values_follow_alphabet() {
        for (i, &c) in ALPHABET.iter().enumerate() {
            assert_eq!(value(c), Some(i as u32));
            assert!(is_base62(c));
        }
        assert_eq!(value(b'_'), None);
        for b in 0..=255u8 {
            assert_eq!(u32::from(VALUES[usize::from(b)]), value(b).unwrap_or(0));
        }
        assert_eq!(decode_fixed(b"0_"), None);
    }
}
