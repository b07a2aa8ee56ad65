//! Reading an input of a documented maximum size, for the crates that do I/O (the CLI,
//! the C and Python bindings).
//!
//! - At most `limit + 1` bytes are read (through [`Read::take`]), so an endless source
//!   (`/dev/zero`, a pipe that never closes) costs at most the limit in memory and time.
//! - More than `limit` bytes is a typed error naming the limit, never a truncated value.
//! - The crate itself still does no I/O: the caller opens the file or stdin and hands the
//!   reader in. Which kinds of file a read accepts is decided here, once, by
//!   [`check_file_type`] over the type the caller looked up: a regular file, and a pipe
//!   where asked (`--policy <(…)`); never a directory or a device such as `/dev/zero`,
//!   so the caller can refuse one before opening it.

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

impl BoundedReadError {
    /// Its row in [`crate::codes`].
    pub const fn row(&self) -> &'static crate::codes::Code {
        match self {
            BoundedReadError::TooLarge { .. } => &crate::codes::BOUNDED_READ_TOO_LARGE,
            BoundedReadError::Io(_) => &crate::codes::BOUNDED_READ_IO,
        }
    }

    /// A stable machine-readable name, unique in its family (see [`crate::codes`]).
    pub const fn code(&self) -> &'static str {
        self.row().code()
    }
}

/// Appends all of `reader` to `out` if it holds at most `limit` bytes. The caller owns
/// the buffer, so a secret input can go into a zeroizing one, sized up front; on an error
/// `out` holds what was read.
pub fn read_to_limit<R: Read>(
    reader: R,
    limit: usize,
    out: &mut Vec<u8>,
) -> Result<(), BoundedReadError> {
    let start = out.len();
    reader.take(cap(limit)).read_to_end(out)?;
    if out.len() - start > limit {
        return Err(BoundedReadError::TooLarge { limit });
    }
    Ok(())
}

/// Appends the first line of `reader` (without its `\n` or `\r\n`) to `out` if it holds
/// at most `limit` bytes; the rest of the input is left unread. Buffer as for
/// [`read_to_limit`].
pub fn read_line_to_limit<R: BufRead>(
    reader: R,
    limit: usize,
    out: &mut Vec<u8>,
) -> Result<(), BoundedReadError> {
    let start = out.len();
    // The newline may be byte `limit + 1`, after a `\r` at byte `limit`.
    reader
        .take(cap(limit).saturating_add(1))
        .read_until(b'\n', out)?;
    if out.len() > start && out.last() == Some(&b'\n') {
        out.pop();
        if out.len() > start && out.last() == Some(&b'\r') {
            out.pop();
        }
    }
    if out.len() - start > limit {
        return Err(BoundedReadError::TooLarge { limit });
    }
    Ok(())
}

/// Which kinds of file a read accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accept {
    /// Only a regular file (a secret file whose mode protects it, like a pepper file).
    Regular,
    /// A regular file or a pipe (a policy).
    RegularOrPipe,
}

/// Whether a file of type `kind` may be read under `accept`; otherwise what it is
/// (`"a character device"`, `"a directory"`, …), for the error message.
pub fn check_file_type(kind: &std::fs::FileType, accept: Accept) -> Result<(), &'static str> {
    if kind.is_file() {
        return Ok(());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return match accept {
                Accept::RegularOrPipe => Ok(()),
                Accept::Regular => Err("a pipe"),
            };
        }
        if kind.is_char_device() {
            return Err("a character device");
        }
        if kind.is_block_device() {
            return Err("a block device");
        }
        if kind.is_socket() {
            return Err("a socket");
        }
    }
    let _ = accept;
    Err(if kind.is_dir() {
        "a directory"
    } else {
        "of another kind"
    })
}

fn cap(limit: usize) -> u64 {
    u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(input: impl Read, limit: usize) -> Result<Vec<u8>, BoundedReadError> {
        let mut out = Vec::new();
        read_to_limit(input, limit, &mut out).map(|()| out)
    }

    fn line(input: impl BufRead, limit: usize) -> Result<Vec<u8>, BoundedReadError> {
        let mut out = Vec::new();
        read_line_to_limit(input, limit, &mut out).map(|()| out)
    }

    #[test]
    fn an_input_at_the_limit_is_read_and_one_byte_more_is_refused() {
        assert_eq!(all(&[7u8; 10][..], 10).ok(), Some(vec![7u8; 10]));
        assert!(matches!(
            all(&[7u8; 11][..], 10),
            Err(BoundedReadError::TooLarge { limit: 10 })
        ));
    }

    #[test]
    fn an_endless_reader_is_refused_after_limit_plus_one_bytes() {
        assert!(matches!(
            all(std::io::repeat(0), 1 << 20),
            Err(BoundedReadError::TooLarge { limit }) if limit == 1 << 20
        ));
        let endless = std::io::BufReader::new(std::io::repeat(b'x'));
        assert!(matches!(
            line(endless, 4096),
            Err(BoundedReadError::TooLarge { limit: 4096 })
        ));
    }

    #[test]
    fn a_line_is_read_without_its_newline_and_its_newline_does_not_count() {
        let ok = |input: &[u8], limit| line(input, limit).ok();
        assert_eq!(ok(b"abc\nrest", 3), Some(b"abc".to_vec()));
        assert_eq!(ok(b"abc\r\n", 3), Some(b"abc".to_vec()));
        assert_eq!(ok(b"abc", 3), Some(b"abc".to_vec()));
        assert_eq!(ok(b"", 3), Some(Vec::new()));
        assert!(ok(b"abcd\n", 3).is_none());
    }

    #[test]
    fn a_regular_file_is_accepted_and_a_directory_or_device_is_named() {
        let kind = |path: &str| std::fs::metadata(path).expect("metadata").file_type();
        assert_eq!(
            check_file_type(&kind("Cargo.toml"), Accept::Regular),
            Ok(())
        );
        assert_eq!(
            check_file_type(&kind("src"), Accept::RegularOrPipe),
            Err("a directory")
        );
        #[cfg(unix)]
        assert_eq!(
            check_file_type(&kind("/dev/zero"), Accept::RegularOrPipe),
            Err("a character device")
        );
    }

    #[test]
    fn reads_append_to_the_callers_buffer() {
        let mut out = b"x".to_vec();
        assert!(read_to_limit(&b"abc"[..], 3, &mut out).is_ok());
        assert!(read_line_to_limit(&b"\n"[..], 0, &mut out).is_ok());
        assert_eq!(out, b"xabc");
    }
}
