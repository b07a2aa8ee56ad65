//! The full check on arbitrary requests and records (API keys, and OAuth access tokens on
//! the lenient checker): never panics, the one-call and
//! two-phase paths agree, every decision is well formed, and nothing echoes the token.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use portcullis::oauth::{AccessKeys, AccessVerifier};
use portcullis::{
    Checker, KeyRecord, KeySpec, Peppers, Policy, Prepared, Request, SeededRandom, StoredHash,
    Timestamp,
};
use std::sync::{Arc, LazyLock};

const NOW: u64 = 1_800_000_000;
const POLICY: &str = include_str!("../../examples/claimport.toml");

struct World {
    /// Strict policy (HTTPS, no query keys) and a lenient one.
    checkers: [Checker; 2],
    /// Issued keys and their records: live, test, legacy-hashed, old-pepper.
    keys: Vec<(String, KeyRecord)>,
}

fn peppers() -> Peppers {
    let mut p = Peppers::new("p2", &[2u8; 32]).expect("pepper");
    p.add("p1", &[1u8; 32]).expect("pepper");
    p
}

static WORLD: LazyLock<World> = LazyLock::new(|| {
    let lenient = POLICY
        .replace("require_https = true", "require_https = false")
        .replace("allow_query_key = false", "allow_query_key = true")
        .replace(
            "unknown_routes = \"deny\"",
            "unknown_routes = \"authenticated\"",
        );
    let strict = Checker::new(Policy::from_toml(POLICY).expect("policy"), peppers());
    // OAuth access tokens (`at.…`) go through the same check when a verifier is set.
    let lenient_policy = Policy::from_toml(&lenient).expect("policy");
    let verifier = Arc::new(AccessVerifier::new(
        AccessKeys::new("k1", &[7u8; 32]).expect("key"),
        lenient_policy.catalog(),
    ));
    let lenient = Checker::new(lenient_policy, peppers()).with_access_tokens(verifier)
        .expect("same catalog");
    let rng = SeededRandom::new(b"fuzz");
    let mut keys = Vec::new();
    let specs = [
        ("live", vec!["claims:write"]),
        ("live", vec!["full_access"]),
        ("test", vec!["claims:*"]),
        ("live", vec!["orders:read"]),
    ];
    for (env, scopes) in specs {
        let spec = KeySpec::new("k", "org", scopes).with_ttl(86_400 * 30);
        let issued = strict
            .issue_with("sk", env, &spec, Timestamp(NOW), &rng)
            .expect("issue");
        keys.push((issued.key.expose().to_owned(), issued.record));
    }
    // A record whose stored scopes the catalog no longer knows.
    keys[3]
        .1
        .set_scopes(vec!["orders:read".into(), "nonexistent:scope".into()]);
    let (text, record) = keys[0].clone();
    let legacy = StoredHash::legacy_sha256(&text).encode();
    let spec = KeySpec::new("legacy", "org", ["claims:read"]);
    let imported = KeyRecord::import(record.id(), "sk", "live", &spec, &legacy, Timestamp(NOW))
        .expect("import");
    keys.push((text, imported));
    World {
        checkers: [strict, lenient],
        keys,
    }
});

#[derive(Arbitrary, Debug)]
enum Token<'a> {
    Raw(&'a [u8]),
    /// An issued key, maybe with bits flipped, after `scheme` (`None`: `"Bearer "`) or in
    /// the query string.
    Known {
        index: u8,
        flip: Option<(u8, u8)>,
        scheme: Option<&'a str>,
        query: bool,
    },
}

#[derive(Arbitrary, Debug)]
enum RecordChoice<'a> {
    None,
    Known {
        index: u8,
        revoked: Option<u64>,
        expires: Option<Option<u64>>,
        scopes: Option<Vec<&'a str>>,
    },
    CorruptHash {
        index: u8,
        hash: &'a str,
    },
    Json(&'a str),
}

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    lenient: bool,
    /// A route of the policy, or an arbitrary method and path.
    target: Result<u8, (&'a str, &'a str)>,
    token: Token<'a>,
    extra_query: Option<&'a [u8]>,
    https: bool,
    record: RecordChoice<'a>,
    now_offset: i32,
}

const ROUTES: [(&str, &str); 8] = [
    ("GET", "/health"),
    ("GET", "/v1/me"),
    ("GET", "/v1/claims/7"),
    ("POST", "/v1/claims"),
    ("DELETE", "/v1/claims/7"),
    ("GET", "/v1/claims/7/orders"),
    ("HEAD", "/v1/analytics/q3"),
    ("GET", "/nowhere"),
];

fn pick<T>(items: &[T], index: u8) -> &T {
    &items[usize::from(index) % items.len()]
}

fn record(choice: &RecordChoice<'_>) -> Option<KeyRecord> {
    let keys = &WORLD.keys;
    match choice {
        RecordChoice::None => None,
        RecordChoice::Known {
            index,
            revoked,
            expires,
            scopes,
        } => {
            let mut r = pick(keys, *index).1.clone();
            if let Some(at) = revoked {
                r.revoke(Timestamp(*at));
            }
            if let Some(at) = expires {
                r.set_expires_at(at.map(Timestamp));
            }
            if let Some(s) = scopes {
                r.set_scopes(s.iter().map(|s| (*s).to_owned()).collect());
            }
            Some(r)
        }
        RecordChoice::CorruptHash { index, hash } => {
            let mut v: serde_json::Value =
                serde_json::from_str(&pick(keys, *index).1.to_json()).expect("json");
            v["hash"] = serde_json::Value::from(*hash);
            serde_json::from_value(v).ok()
        }
        RecordChoice::Json(text) => serde_json::from_str(text).ok(),
    }
}

fuzz_target!(|input: Input<'_>| {
    let checker = &WORLD.checkers[usize::from(input.lenient)];
    let (token, in_query) = match &input.token {
        Token::Raw(bytes) => (bytes.to_vec(), false),
        Token::Known {
            index,
            flip,
            scheme,
            query,
        } => {
            let mut key = pick(&WORLD.keys, *index).0.clone().into_bytes();
            if let Some((at, bits)) = flip {
                let i = usize::from(*at) % key.len();
                key[i] ^= bits;
            }
            if *query {
                (key, true)
            } else {
                let mut header = scheme.unwrap_or("Bearer ").as_bytes().to_vec();
                header.extend_from_slice(&key);
                (header, false)
            }
        }
    };
    let mut query = input.extra_query.map(<[u8]>::to_vec);
    if in_query {
        let q = query.get_or_insert_with(Vec::new);
        q.extend_from_slice(b"&api_key=");
        q.extend_from_slice(&token);
    }
    let (method, path) = match input.target {
        Ok(i) => *pick(&ROUTES, i),
        Err(target) => target,
    };
    let mut request = Request::new(method, path).https(input.https);
    if !in_query {
        request.authorization = Some(&token);
    }
    request.query = query.as_deref();
    let now = Timestamp(NOW.saturating_add_signed(i64::from(input.now_offset)));
    let record = record(&input.record).map(Arc::new);

    let lookup = |_: &portcullis::KeyId| Ok(record.clone());
    let one = checker.check(&request, &lookup, now);
    // `prepare_at`: with access tokens enabled, `prepare` (no time) answers TimeRequired.
    let two = match checker.prepare_at(&request, now) {
        Prepared::Done(d) => d,
        Prepared::Lookup(p) => checker.finish(p, record.clone(), now),
    };
    assert_eq!(one.outcome(), two.outcome());

    assert!(matches!(one.status(), 200 | 400 | 401 | 403));
    if one.status() == 200 {
        assert!(one.error().is_none() && one.www_authenticate().is_none());
    }
    if one.allowed() && one.reason() != portcullis::Reason::Public {
        let p = one.principal().expect("an allowed key has a principal");
        assert!(record.as_ref().is_some_and(|r| r.id() == p.record.id()));
    }
    // Nothing the client or the logs see carries the secret of a known key (records from
    // arbitrary JSON are skipped: a host may put any text in a record's name).
    if let (Token::Known { index, .. }, false) =
        (&input.token, matches!(input.record, RecordChoice::Json(_)))
    {
        let key = &pick(&WORLD.keys, *index).0;
        let secret = &key[key.len() - 34..key.len() - 6];
        let rendered = format!(
            "{:?} {:?} {}",
            one,
            request,
            one.www_authenticate()
                .map(|w| w.to_string())
                .unwrap_or_default()
        );
        assert!(!rendered.contains(secret), "secret echoed: {rendered}");
    }
});
