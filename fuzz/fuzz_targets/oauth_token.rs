//! OAuth token and parameter parsing on arbitrary input: access-token decoding and
//! verification (raw bytes, or a real token with bits flipped), form parameters, PKCE
//! challenges and redirect-URI matching. All total; a tampered token never verifies.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use portcullis::oauth::{
    AccessClaims, AccessKeys, AccessVerifier, Params, PkceChallenge, is_access_token,
    redirect_matches, validate_registration,
};
use portcullis::{KeyId, Policy, ScopeSet, Timestamp};
use std::sync::LazyLock;

const NOW: u64 = 1_800_000_000;

struct World {
    verifier: AccessVerifier,
    token: String,
}

static WORLD: LazyLock<World> = LazyLock::new(|| {
    let policy = Policy::from_toml(include_str!("../../examples/claimport.toml")).expect("policy");
    let mut keys = AccessKeys::new("k2", &[2u8; 32]).expect("key");
    keys.add("k1", &[1u8; 32]).expect("key");
    let verifier = AccessVerifier::new(keys, policy.catalog());
    let mut scopes = ScopeSet::EMPTY;
    scopes.insert(0);
    let claims = AccessClaims {
        subject: "user_7".into(),
        client_id: "webapp".into(),
        scopes,
        issued_at: Timestamp(NOW),
        expires_at: Timestamp(NOW + 3600),
        token_id: KeyId::parse("AAAAAAAAAAAAAAAA").expect("id"),
        family: KeyId::parse("BBBBBBBBBBBBBBBB").expect("id"),
    };
    let token = verifier
        .keys()
        .sign(&claims, policy.catalog())
        .expose()
        .to_owned();
    assert!(verifier.verify(token.as_bytes(), Timestamp(NOW)).is_ok());
    World { verifier, token }
});

#[derive(Arbitrary, Debug)]
enum Token<'a> {
    Raw(&'a [u8]),
    Flipped(Vec<(u16, u8)>),
}

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    token: Token<'a>,
    now_offset: i32,
    params: &'a str,
    challenge: &'a str,
    method: Option<&'a str>,
    verifier: &'a str,
    registered: &'a str,
    requested: &'a str,
    native: bool,
}

fuzz_target!(|input: Input<'_>| {
    let w = &*WORLD;
    let now = Timestamp(NOW.saturating_add_signed(i64::from(input.now_offset)));
    let (token, tampered) = match &input.token {
        Token::Raw(bytes) => (bytes.to_vec(), false),
        Token::Flipped(flips) => {
            let mut t = w.token.clone().into_bytes();
            let mut changed = false;
            for &(at, bits) in flips {
                let i = usize::from(at) % t.len();
                changed |= bits != 0;
                t[i] ^= bits;
            }
            (t.clone(), changed && t != w.token.as_bytes())
        }
    };
    let _ = is_access_token(&token);
    let decoded = w.verifier.decode(&token);
    if let Ok(claims) = w.verifier.verify(&token, now) {
        assert!(decoded.is_ok());
        assert!(claims.expires_at > now);
        assert!(!tampered, "a tampered access token verified");
    }
    if let Ok(p) = Params::parse(input.params) {
        let _ = p.get("grant_type");
    }
    let _ = Params::parse_first(input.params);
    for allow_plain in [false, true] {
        if let Ok(c) = PkceChallenge::parse(input.challenge, input.method, allow_plain) {
            let _ = c.verify(input.verifier);
        }
    }
    let _ = validate_registration(input.registered, input.native);
    let _ = redirect_matches(input.registered, input.requested, input.native);
});
