//! Bounded reads of local files (a policy, a pepper file), shared by the command and both
//! bindings so that the rule is written once.
//!
//! - Every read stops at its limit (the core's `read_to_limit`): `/dev/zero` or an endless
//!   pipe is refused after the limit, never read into memory.
//! - Only the accepted kinds of file are read ([`Accept`]): a secret file must be regular
//!   (its mode is what keeps it private); a policy may also be a pipe (`--policy <(…)`).
//!   Directories, devices and sockets are refused by type before anything is read.
//! - The type is checked on the path before opening (opening a pipe would wait for a
//!   writer) and again on the opened file, so a file swapped in between is caught.

pub use portcullis::for_bindings::Accept;
use portcullis::for_bindings::{BoundedReadError, check_file_type, read_to_limit};
use std::fs::{File, Metadata};
use std::io;
use std::path::Path;

/// Why a file could not be read.
#[derive(Debug)]
pub enum FileError {
    /// Opening or reading failed (`NotFound` and the like).
    Io(io::Error),
    /// The path is not a kind of file the read accepts; says what it is instead
    /// (`"a directory"`, `"a character device"`, …).
    NotAccepted(&'static str),
    /// The file holds more than this many bytes.
    TooLarge(usize),
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
    check_file_type(&meta.file_type(), accept).map_err(FileError::NotAccepted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_is_refused_by_type_and_a_big_file_by_size() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(matches!(
            read(dir.path(), Accept::RegularOrPipe, 10),
            Err(FileError::NotAccepted("a directory"))
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
            Err(FileError::NotAccepted("a character device"))
        ));
    }
}
