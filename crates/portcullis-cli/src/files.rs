//! The command's input files and stdin, each read up to a documented limit: a policy at
//! [`portcullis::policy::MAX_POLICY_LEN`] (4 MiB), the pepper file at
//! [`PEPPER_FILE_LIMIT`], the key on stdin at [`KEY_STDIN_LIMIT`]. The reading rules (kinds
//! of file, type checked before and after opening) are the store crate's
//! [`portcullis_store::files`], shared with both bindings; this module adds the command's
//! limits and errors.

use crate::error::CliError;
pub use portcullis_store::files::{Accept, FileError, open, read, read_opened};
use std::io;
use std::path::Path;

/// Largest pepper file read, in bytes (about 900 peppers).
pub const PEPPER_FILE_LIMIT: usize = 64 << 10;
/// Longest key line read from stdin by `check --key-stdin`, in bytes (without its newline).
pub const KEY_STDIN_LIMIT: usize = 4096;

/// The command's error for a file that could not be read.
pub trait IntoCli {
    /// The command's error for this failure to read `what` (`"pepper file"`) at `path`;
    /// `io` gives the one for an I/O failure (a missing file and the like), which differs
    /// per file. A wrong kind of file or a file over its limit is a file problem (exit 4).
    fn into_cli(self, what: &str, path: &Path, io: impl FnOnce(io::Error) -> CliError) -> CliError;
}

impl IntoCli for FileError {
    fn into_cli(self, what: &str, path: &Path, io: impl FnOnce(io::Error) -> CliError) -> CliError {
        let shown = path.display();
        match self {
            FileError::Io(e) => io(e),
            FileError::NotAccepted(kind) => CliError::store(
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
