//! Reading the command's input files and stdin, each up to a documented limit.
//!
//! - Every read stops at its limit (the core's [`portcullis::for_bindings::read_to_limit`]): a policy
//!   at [`portcullis::policy::MAX_POLICY_LEN`] (4 MiB), the pepper file at
//!   [`PEPPER_FILE_LIMIT`], the key on stdin at [`KEY_STDIN_LIMIT`]. `/dev/zero` or an
//!   endless pipe is refused after the limit, never read into memory.
//! - The pepper file must be a regular file: its mode is what keeps it private. A policy
//!   may also be a pipe (`--policy <(…)`). Directories, devices and sockets are refused,
//!   by type (the core's [`check_file_type`]), before anything is read from them.
//! - The type is checked on the path before opening (opening a pipe would wait for a
//!   writer) and again on the opened file, so a file swapped in between is caught.

use crate::error::CliError;
pub use portcullis::for_bindings::Accept;
use portcullis::for_bindings::{BoundedReadError, check_file_type, read_to_limit};
use std::fs::{File, Metadata};
use std::io;
use std::path::Path;

/// Largest pepper file read, in bytes (about 900 peppers).
pub const PEPPER_FILE_LIMIT: usize = 64 << 10;
/// Longest key line read from stdin by `check --key-stdin`, in bytes (without its newline).
pub const KEY_STDIN_LIMIT: usize = 4096;

/// Why a file could not be read.
#[derive(Debug)]
pub enum FileError {
    /// Opening or reading failed (`NotFound` and the like).
    Io(io::Error),
    /// The path is not a kind of file the read accepts; says what it is instead.
    NotRegular(&'static str),
    /// The file holds more than this many bytes.
    TooLarge(usize),
}

impl FileError {
    /// The command's error for this failure to read `what` (`"pepper file"`) at `path`;
    /// `io` gives the one for an I/O failure (a missing file and the like), which differs
    /// per file. A wrong kind of file or a file over its limit is a file problem (exit 4).
    pub fn into_cli(
        self,
        what: &str,
        path: &Path,
        io: impl FnOnce(io::Error) -> CliError,
    ) -> CliError {
        let shown = path.display();
        match self {
            FileError::Io(e) => io(e),
            FileError::NotRegular(kind) => CliError::store(
                "file_not_regular",
                format!("{what} {shown} is not a regular file (it is {kind})"),
            )
            .hint(format!("point it at the {what} itself")),
            FileError::TooLarge(limit) => CliError::store(
                "file_too_large",
                format!("{what} {shown} is larger than the limit of {limit} bytes"),
            )
            .hint(format!("check the path: is {shown} really the {what}?")),
        }
    }
}

impl From<BoundedReadError> for FileError {
    fn from(e: BoundedReadError) -> Self {
        match e {
            BoundedReadError::TooLarge { limit } => FileError::TooLarge(limit),
            BoundedReadError::Io(e) => FileError::Io(e),
        }
    }
}

/// Opens `path` if it is a file of an accepted kind; returns it with its metadata.
pub fn open(path: &Path, accept: Accept) -> Result<(File, Metadata), FileError> {
    check_type(&std::fs::metadata(path).map_err(FileError::Io)?, accept)?;
    let file = File::open(path).map_err(FileError::Io)?;
    let meta = file.metadata().map_err(FileError::Io)?;
    check_type(&meta, accept)?;
    Ok((file, meta))
}

/// Reads an opened file into `out`, up to `limit` bytes.
pub fn read_opened(file: File, limit: usize, out: &mut Vec<u8>) -> Result<(), FileError> {
    Ok(read_to_limit(file, limit, out)?)
}

/// Reads the file at `path` (of an accepted kind), up to `limit` bytes.
pub fn read(path: &Path, accept: Accept, limit: usize) -> Result<Vec<u8>, FileError> {
    let (file, _) = open(path, accept)?;
    let mut out = Vec::new();
    read_opened(file, limit, &mut out)?;
    Ok(out)
}

fn check_type(meta: &Metadata, accept: Accept) -> Result<(), FileError> {
    check_file_type(&meta.file_type(), accept).map_err(FileError::NotRegular)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_is_refused_by_type_and_a_big_file_by_size() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(matches!(
            read(dir.path(), Accept::RegularOrPipe, 10),
            Err(FileError::NotRegular("a directory"))
        ));
        let big = dir.path().join("big");
        std::fs::write(&big, [b'x'; 11]).expect("write");
        assert!(matches!(
            read(&big, Accept::Regular, 10),
            Err(FileError::TooLarge(10))
        ));
        assert_eq!(read(&big, Accept::Regular, 11).ok(), Some(vec![b'x'; 11]));
    }

    #[cfg(unix)]
    #[test]
    fn dev_zero_is_refused_as_a_character_device() {
        assert!(matches!(
            read(Path::new("/dev/zero"), Accept::RegularOrPipe, 10),
            Err(FileError::NotRegular("a character device"))
        ));
    }
}
