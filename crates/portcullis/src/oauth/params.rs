//! `application/x-www-form-urlencoded` parameters (query strings and token request bodies),
//! with RFC 6749 §3.1 rules: an empty value counts as omitted, a repeated parameter is an
//! error, unknown parameters are kept but ignored by the endpoints.

/// Longest input accepted (64 KiB).
pub const MAX_PARAMS_LEN: usize = 64 * 1024;

/// Why parameters do not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    /// A parameter appears more than once (its name is given; names are not secret).
    #[error("parameter {0:?} is repeated")]
    Repeated(String),
    /// A `%` escape is malformed or the decoded bytes are not UTF-8.
    #[error("malformed percent-encoding")]
    Encoding,
    /// The input is longer than [`MAX_PARAMS_LEN`].
    #[error("parameters too long")]
    TooLong,
}

impl ParamError {
    /// Its row in [`crate::codes`].
    pub const fn row(&self) -> &'static crate::codes::Code {
        match self {
            ParamError::Repeated(_) => &crate::codes::PARAM_REPEATED,
            ParamError::Encoding => &crate::codes::PARAM_BAD_ENCODING,
            ParamError::TooLong => &crate::codes::PARAM_TOO_LONG,
        }
    }

    /// A stable machine-readable name, unique in its family (see [`crate::codes`]).
    pub const fn code(&self) -> &'static str {
        self.row().code()
    }
}

/// Decoded parameters, in order; empty values dropped.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Params(Vec<(String, String)>);

impl std::fmt::Debug for Params {
    /// Names only: values may be secrets (codes, verifiers, client secrets).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(k, _)| k))
            .finish()
    }
}

impl Params {
    /// Parses `a=1&b=2` (no leading `?`). Total: never panics.
    pub fn parse(input: &str) -> Result<Self, ParamError> {
        if input.len() > MAX_PARAMS_LEN {
            return Err(ParamError::TooLong);
        }
        let mut out: Vec<(String, String)> = Vec::new();
        for pair in input.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let (k, v) = (decode(k)?, decode(v)?);
            if out.iter().any(|(name, _)| *name == k) {
                return Err(ParamError::Repeated(k));
            }
            out.push((k, v));
        }
        // Repeats are checked before dropping empties: `a=&a=1` is still a repeat.
        out.retain(|(_, v)| !v.is_empty());
        Ok(Params(out))
    }

    /// Parses like [`Params::parse`] but keeps the first of repeated parameters (used to
    /// find where to send the `invalid_request` a repeat deserves).
    pub fn parse_first(input: &str) -> Result<Self, ParamError> {
        if input.len() > MAX_PARAMS_LEN {
            return Err(ParamError::TooLong);
        }
        let mut out: Vec<(String, String)> = Vec::new();
        for pair in input.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let (k, v) = (decode(k)?, decode(v)?);
            if !out.iter().any(|(name, _)| *name == k) {
                out.push((k, v));
            }
        }
        out.retain(|(_, v)| !v.is_empty());
        Ok(Params(out))
    }

    /// Builds parameters from pairs (for hosts whose framework already decoded them).
    /// Repeated names are an error; empty values are dropped.
    pub fn from_pairs<'a, I>(pairs: I) -> Result<Self, ParamError>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut out: Vec<(String, String)> = Vec::new();
        for (k, v) in pairs {
            if out.iter().any(|(name, _)| name == k) {
                return Err(ParamError::Repeated(k.to_owned()));
            }
            out.push((k.to_owned(), v.to_owned()));
        }
        out.retain(|(_, v)| !v.is_empty());
        Ok(Params(out))
    }

    /// The value of a parameter, if present and non-empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decoding with `+` as space.
pub(crate) fn decode(text: &str) -> Result<String, ParamError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = bytes.get(i + 1).copied().and_then(hex);
                let lo = bytes.get(i + 2).copied().and_then(hex);
                let (Some(hi), Some(lo)) = (hi, lo) else {
                    return Err(ParamError::Encoding);
                };
                out.push(hi << 4 | lo);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| ParamError::Encoding)
}

/// Percent-encodes a value for a query string (everything but unreserved characters).
pub(crate) fn encode(text: &str, out: &mut String) {
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}
