//! Header and query extraction on arbitrary bytes: total, and a token is always a
//! well-formed slice of the input it came from.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use portcullis::{ExtractError, Source};
use portcullis::{extract_credential, parse_authorization_header};

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    authorization: Option<&'a [u8]>,
    query: Option<&'a [u8]>,
    param: &'a str,
    allow_query: bool,
}

fn is_within(inner: &[u8], outer: &[u8]) -> bool {
    let (start, end) = (
        outer.as_ptr() as usize,
        outer.as_ptr() as usize + outer.len(),
    );
    let p = inner.as_ptr() as usize;
    p >= start && p + inner.len() <= end
}

fuzz_target!(|input: Input<'_>| {
    if let Some(h) = input.authorization
        && let Ok(token) = parse_authorization_header(h)
    {
        assert!(!token.is_empty() && is_within(token, h));
        assert!(!token.iter().any(|b| b.is_ascii_whitespace() || *b == 0));
    }
    match extract_credential(
        input.authorization,
        input.query,
        input.param,
        input.allow_query,
    ) {
        Ok(c) => match c.source {
            Source::Header => {
                assert!(input.authorization.is_some_and(|h| is_within(c.token, h)));
            }
            Source::Query => {
                assert!(input.allow_query && input.authorization.is_none());
                assert!(input.query.is_some_and(|q| is_within(c.token, q)));
                assert!(!c.token.is_empty() && !c.token.contains(&b'&'));
            }
        },
        Err(ExtractError::BothPresent) => assert!(input.authorization.is_some()),
        Err(e) => {
            // Errors never echo the input.
            let _ = e.code();
            assert!(e.to_string().len() < 80);
        }
    }
});
