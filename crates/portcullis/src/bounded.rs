//! Reading an input of a documented maximum size, for the crates that do I/O (the CLI,
//! the C and Python bindings).
//!
//! - At most `limit + 1` bytes are read (through [`Read::take`]), so an endless source
//!   (`/dev/zero`, a pipe that never closes) costs at most the limit in memory and time.
//! - More than `limit` bytes is a typed error naming the limit, never a truncated value.
//! - The crate itself still does no I/O: the caller opens the file or stdin (and decides
//!   which kinds of file it accepts) and hands the reader in.

use std::io::{BufRead, Read};

/// Why a bounded read failed.
#[derive(Debug, thiserror::Error)]
pub enum BoundedReadError {
    /// The input holds more than `limit` bytes (only `limit + 1` of them were read).
    #[error("larger than the limit of {limit} bytes")]
    TooLarge {
        /// The documented limit, in bytes.
        limit: usize,
    },
    /// The reader failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Reads all of `reader` if it holds at most `limit` bytes.
pub fn read_to_limit<R: Read>(reader: R, limit: usize) -> Result<Vec<u8>, BoundedReadError> {
    let mut out = Vec::new();
    reader
        .take(cap(limit))
        .read_to_end(&mut out)
        .map_err(BoundedReadError::Io)?;
    if out.len() > limit {
        return Err(BoundedReadError::TooLarge { limit });
    }
    Ok(out)
}

/// Reads the first line of `reader` (without its `\n` or `\r\n`) if it holds at most
/// `limit` bytes; the rest of the input is left unread.
pub fn read_line_to_limit<R: BufRead>(
    reader: R,
    limit: usize,
) -> Result<Vec<u8>, BoundedReadError> {
    let mut out = Vec::new();
    // The newline may be byte `limit + 1`.
    reader
        .take(cap(limit).saturating_add(1))
        .read_until(b'\n', &mut out)
        .map_err(BoundedReadError::Io)?;
    if out.last() == Some(&b'\n') {
        out.pop();
        if out.last() == Some(&b'\r') {
            out.pop();
        }
    }
    if out.len() > limit {
        return Err(BoundedReadError::TooLarge { limit });
    }
    Ok(out)
}

fn cap(limit: usize) -> u64 {
    u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_input_at_the_limit_is_read_and_one_byte_more_is_refused() {
        assert_eq!(read_to_limit(&[7u8; 10][..], 10).ok(), Some(vec![7u8; 10]));
        assert!(matches!(
            read_to_limit(&[7u8; 11][..], 10),
            Err(BoundedReadError::TooLarge { limit: 10 })
        ));
    }

    #[test]
    fn an_endless_reader_is_refused_after_limit_plus_one_bytes() {
        let endless = std::io::repeat(0);
        assert!(matches!(
            read_to_limit(endless, 1 << 20),
            Err(BoundedReadError::TooLarge { limit }) if limit == 1 << 20
        ));
        let endless = std::io::BufReader::new(std::io::repeat(b'x'));
        assert!(matches!(
            read_line_to_limit(endless, 4096),
            Err(BoundedReadError::TooLarge { limit: 4096 })
        ));
    }

    #[test]
    fn a_line_is_read_without_its_newline_and_its_newline_does_not_count() {
        let line = |input: &[u8], limit| read_line_to_limit(input, limit).ok();
        assert_eq!(line(b"abc\nrest", 3), Some(b"abc".to_vec()));
        assert_eq!(line(b"abc\r\n", 5), Some(b"abc".to_vec()));
        assert_eq!(line(b"abc", 3), Some(b"abc".to_vec()));
        assert_eq!(line(b"", 3), Some(Vec::new()));
        assert!(line(b"abcd\n", 3).is_none());
    }
}
