//! The pepper file: the server-side HMAC keys, kept apart from the database.
//!
//! Format (text, one pepper per line, the first is the primary; `#` starts a comment):
//! ```text
//! # portcullis peppers …
//! p2 <64 hex digits>
//! p1 <64 hex digits>
//! ```
//! The file must be a regular file readable by its owner only (mode 0600): the command
//! refuses anything else (`/dev/null`, a directory) and a file that group or others can
//! read or write. It is read up to [`PEPPER_FILE_LIMIT`] bytes. It is replaced atomically (write a new
//! file, then rename), so a reader never sees half a file.

use crate::error::CliError;
use crate::files::{self, Accept, FileError, IntoCli, PEPPER_FILE_LIMIT};
use portcullis::Peppers;
use ring::rand::{SecureRandom, SystemRandom};
use std::fs;
use std::io::Write;
use std::path::Path;
use zeroize::Zeroizing;

/// Bytes of a new pepper (256 bits).
const NEW_PEPPER_LEN: usize = 32;

const HEADER: &str = "\
# portcullis pepper file: the HMAC keys of the stored key hashes.
# Keep it secret (mode 0600) and back it up: without it no stored key verifies.
# One pepper per line, `id hex`; the first line is the primary (used for new keys).
";

/// The peppers of a file, primary first. Secrets are zeroized on drop and never printed.
pub struct PepperFile {
    entries: Vec<(String, Zeroizing<Vec<u8>>)>,
}

impl std::fmt::Debug for PepperFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PepperFile")
            .field("ids", &self.ids())
            .finish_non_exhaustive()
    }
}

impl PepperFile {
    /// Reads and checks the file at `path`: a regular file (anything else is refused
    /// before its mode is looked at), private to its owner, at most
    /// [`PEPPER_FILE_LIMIT`] bytes of UTF-8 text.
    pub fn load(path: &Path) -> Result<Self, CliError> {
        let read_error =
            |e: FileError| e.into_cli("pepper file", path, |e| missing_or_io(path, &e));
        let (file, meta) = files::open(path, Accept::Regular).map_err(read_error)?;
        check_private(path, &meta)?;
        // Sized up front, so the secret is never left behind in a reallocated buffer.
        let mut bytes = Zeroizing::new(Vec::with_capacity(PEPPER_FILE_LIMIT + 1));
        files::read_opened(file, PEPPER_FILE_LIMIT, &mut bytes).map_err(read_error)?;
        let text =
            std::str::from_utf8(&bytes).map_err(|_| corrupt(path, "it is not UTF-8 text"))?;
        parse(text).map_err(|why| corrupt(path, &why))
    }

    /// Creates a new file with one fresh pepper; refuses to overwrite an existing one.
    pub fn create(path: &Path) -> Result<Self, CliError> {
        let file = PepperFile {
            entries: vec![("p1".to_owned(), fresh_secret()?)],
        };
        write_private(path, &file.render(), true)?;
        Ok(file)
    }

    /// Adds a fresh pepper as the new primary and rewrites the file atomically. Returns
    /// the new pepper's id. Older peppers stay, so existing records still verify.
    pub fn rotate(&mut self, path: &Path) -> Result<String, CliError> {
        let id = self.next_id();
        self.entries.insert(0, (id.clone(), fresh_secret()?));
        write_private(path, &self.render(), false)?;
        Ok(id)
    }

    /// Pepper ids, primary first.
    pub fn ids(&self) -> Vec<&str> {
        self.entries.iter().map(|(id, _)| id.as_str()).collect()
    }

    /// The core's pepper set.
    pub fn peppers(&self) -> Result<Peppers, CliError> {
        let invalid = |e: portcullis::PepperError| {
            CliError::store("pepper_corrupt", format!("pepper file: {e}"))
                .hint("restore the pepper file from your backup")
        };
        let mut entries = self.entries.iter();
        let Some((id, secret)) = entries.next() else {
            return Err(
                CliError::store("pepper_corrupt", "the pepper file holds no pepper")
                    .hint("restore the pepper file from your backup"),
            );
        };
        let mut peppers = Peppers::new(id, secret).map_err(invalid)?;
        for (id, secret) in entries {
            peppers.add(id, secret).map_err(invalid)?;
        }
        Ok(peppers)
    }

    fn next_id(&self) -> String {
        let highest = self
            .entries
            .iter()
            .filter_map(|(id, _)| id.strip_prefix('p')?.parse::<u64>().ok())
            .max()
            .unwrap_or(0);
        format!("p{}", highest + 1)
    }

    fn render(&self) -> Zeroizing<String> {
        let mut text = Zeroizing::new(String::from(HEADER));
        for (id, secret) in &self.entries {
            text.push_str(id);
            text.push(' ');
            for b in secret.iter() {
                text.push_str(&format!("{b:02x}"));
            }
            text.push('\n');
        }
        text
    }
}

fn parse(text: &str) -> Result<PepperFile, String> {
    let mut entries = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((id, hex)) = line.split_once(' ') else {
            return Err(format!("line {}: expected `id hex`", n + 1));
        };
        let secret = decode_hex(hex.trim())
            .ok_or_else(|| format!("line {}: the secret is not hexadecimal", n + 1))?;
        entries.push((id.to_owned(), secret));
    }
    if entries.is_empty() {
        return Err("it holds no pepper".to_owned());
    }
    Ok(PepperFile { entries })
}

fn decode_hex(hex: &str) -> Option<Zeroizing<Vec<u8>>> {
    if !hex.len().is_multiple_of(2) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = Zeroizing::new(Vec::with_capacity(hex.len() / 2));
    for pair in hex.as_bytes().chunks(2) {
        let s = std::str::from_utf8(pair).ok()?;
        out.push(u8::from_str_radix(s, 16).ok()?);
    }
    Some(out)
}

fn fresh_secret() -> Result<Zeroizing<Vec<u8>>, CliError> {
    let mut secret = Zeroizing::new(vec![0u8; NEW_PEPPER_LEN]);
    SystemRandom::new().fill(&mut secret).map_err(|_| {
        CliError::store("random", "the system random number generator failed")
            .hint("retry; if it persists, check the operating system's entropy source")
    })?;
    Ok(secret)
}

fn corrupt(path: &Path, why: &str) -> CliError {
    CliError::store(
        "pepper_corrupt",
        format!("pepper file {} is corrupt: {why}", path.display()),
    )
    .hint("restore the pepper file from your backup (without it stored keys cannot be verified)")
}

fn missing_or_io(path: &Path, e: &std::io::Error) -> CliError {
    if e.kind() == std::io::ErrorKind::NotFound {
        CliError::store(
            "pepper_missing",
            format!("pepper file {} does not exist", path.display()),
        )
        .hint("restore it from your backup, or run `portcullis init` for a new store")
    } else {
        CliError::io("pepper file", path, e)
    }
}

#[cfg(unix)]
fn check_private(path: &Path, meta: &fs::Metadata) -> Result<(), CliError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(CliError::store(
            "pepper_insecure",
            format!(
                "pepper file {} is accessible by group or others (mode {mode:04o})",
                path.display()
            ),
        )
        .hint(format!(
            "run `chmod 600 {}` (and consider the pepper exposed if others could read it)",
            path.display()
        )));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_: &Path, _: &fs::Metadata) -> Result<(), CliError> {
    Ok(())
}

/// Writes `text` to `path` with mode 0600: directly for a new file (`create_new`), or
/// through a temporary file and a rename to replace an existing one.
fn write_private(path: &Path, text: &str, create_new: bool) -> Result<(), CliError> {
    let io = |e: std::io::Error| CliError::io("pepper file", path, &e);
    if create_new {
        let mut file = private_options().create_new(true).open(path).map_err(io)?;
        file.write_all(text.as_bytes()).map_err(io)?;
        return file.sync_all().map_err(io);
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut builder = tempfile::Builder::new();
    builder.prefix(".pepper-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(fs::Permissions::from_mode(0o600));
    }
    let tmp = builder.tempfile_in(dir).map_err(io)?;
    tmp.as_file().write_all(text.as_bytes()).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

fn private_options() -> fs::OpenOptions {
    let mut options = fs::OpenOptions::new();
    options.write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rotates() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("pepper");
        let created = PepperFile::create(&path).expect("create");
        assert_eq!(created.ids(), ["p1"]);
        let mut loaded = PepperFile::load(&path).expect("load");
        assert_eq!(loaded.entries[0].1, created.entries[0].1);
        assert_eq!(loaded.rotate(&path).expect("rotate"), "p2");
        let again = PepperFile::load(&path).expect("reload");
        assert_eq!(again.ids(), ["p2", "p1"]);
        assert_eq!(again.peppers().expect("peppers").primary_id(), "p2");
        assert!(PepperFile::create(&path).is_err(), "never overwrites");
    }

    #[test]
    fn rejects_garbage_without_echoing_it() {
        let err = parse("p1 zz-secret-material").expect_err("not hex");
        assert!(!err.contains("secret-material"));
        assert!(parse("# only a comment\n").is_err());
        assert!(parse("p1 abc").is_err(), "odd length");
    }

    #[test]
    fn debug_shows_ids_only() {
        let file = parse(&format!("p1 {}", "ab".repeat(32))).expect("parse");
        let shown = format!("{file:?}");
        assert!(shown.contains("p1") && !shown.contains("abab"));
    }
}
