//! Adversarial inputs and secret hygiene: every hostile input gets a typed outcome within
//! a time bound, and no secret shows up in anything printable or serialised.
//!
//! Time bounds are generous (debug builds on a shared 2-core VM); what they catch is
//! super-linear behaviour, which turns these inputs into seconds or minutes.

mod common;

use common::{NOW, TestPolicy, checker, checker_of, claimport_text};
use portcullis::scope::ExprErrorKind;
use portcullis::scope::{MAX_EXPR_DEPTH, MAX_EXPR_LEN, MAX_EXPR_TERMS};
use portcullis::{
    Checker, ExtractError, KeyError, KeyRecord, KeySpec, MemoryStore, Peppers, Policy, Prepared,
    Reason, Request, Requirement, SeededRandom, StoredHash, Timestamp, Warning,
};
use portcullis::{extract_credential, parse_authorization_header};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------
// Helpers

/// Runs `f`, failing if it takes longer than `limit`.
fn bounded<T>(what: &str, limit: Duration, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    let took = start.elapsed();
    assert!(took < limit, "{what} took {took:?} (limit {limit:?})");
    out
}

const FAST: Duration = Duration::from_secs(2);

/// A checker with a live key in a store; returns the key text too.
fn world() -> (Checker, MemoryStore, String) {
    let c = checker();
    let store = MemoryStore::new();
    let issued = c
        .issue_with(
            "sk",
            "live",
            &KeySpec::new("k", "org_1", ["claims:read"]),
            Timestamp(NOW),
            &SeededRandom::new(b"adversarial"),
        )
        .expect("issue");
    let key = issued.key.expose().to_owned();
    store.insert(issued.record).expect("insert");
    (c, store, key)
}

fn decide_header(c: &Checker, store: &MemoryStore, header: &[u8]) -> Reason {
    let mut request = Request::new("GET", "/v1/claims/1").https(true);
    request.authorization = Some(header);
    bounded("check", FAST, || {
        c.check(&request, store, Timestamp(NOW)).reason()
    })
}

// ---------------------------------------------------------------------------------------
// Oversized inputs

#[test]
fn one_mebibyte_headers_are_refused_quickly() {
    let (c, store, _) = world();
    let mib = 1 << 20;
    let long_token = [b"Bearer ".as_slice(), &vec![b'A'; mib]].concat();
    assert_eq!(
        decide_header(&c, &store, &long_token),
        Reason::MalformedKey(KeyError::Length)
    );
    let spaces = [b"Bearer".as_slice(), &vec![b' '; mib], b"x"].concat();
    assert_eq!(
        decide_header(&c, &store, &spaces),
        Reason::MalformedKey(KeyError::Shape)
    );
    let garbage: Vec<u8> = (0..mib).map(|i| (i * 131 % 256) as u8).collect();
    assert_eq!(
        decide_header(&c, &store, &garbage),
        Reason::Credential(ExtractError::WrongScheme)
    );
    let tchars = vec![b'B'; mib];
    assert_eq!(
        decide_header(&c, &store, &tchars),
        Reason::Credential(ExtractError::WrongScheme)
    );
    let equals = [b"Bearer a".as_slice(), &vec![b'='; mib]].concat();
    assert_eq!(
        decide_header(&c, &store, &equals),
        Reason::MalformedKey(KeyError::Length)
    );
    let ows = [
        vec![b'\t'; mib / 2],
        b"Bearer x".to_vec(),
        vec![b' '; mib / 2],
    ]
    .concat();
    assert_eq!(
        decide_header(&c, &store, &ows),
        Reason::MalformedKey(KeyError::Shape)
    );
}

#[test]
fn one_mebibyte_query_strings_are_refused_quickly() {
    let mib = 1 << 20;
    let many_pairs = "a=1&".repeat(mib / 4);
    let r = bounded("extract", FAST, || {
        extract_credential(None, Some(many_pairs.as_bytes()), "api_key", true)
    });
    assert_eq!(r, Err(ExtractError::Missing));
    let repeated = "api_key=x&".repeat(mib / 10);
    let r = bounded("extract", FAST, || {
        extract_credential(None, Some(repeated.as_bytes()), "api_key", true)
    });
    assert_eq!(r, Err(ExtractError::MalformedQuery));
    let ampersands = vec![b'&'; mib];
    let r = bounded("extract", FAST, || {
        extract_credential(None, Some(&ampersands), "api_key", true)
    });
    assert_eq!(r, Err(ExtractError::Missing));
}

#[test]
fn hundred_thousand_character_keys_are_length_errors_in_constant_time() {
    let c = checker();
    let (_, _, key) = world();
    for filler in [b'a', b'_', b'0', 0u8, 0xff] {
        let long = vec![filler; 100_000];
        let r = bounded("parse", Duration::from_millis(50), || c.parse(&long));
        assert_eq!(r.map(|_| ()), Err(KeyError::Length));
    }
    let padded = format!("{key}{}", "A".repeat(100_000));
    assert_eq!(
        c.parse(padded.as_bytes()).map(|_| ()),
        Err(KeyError::Length)
    );
}

// ---------------------------------------------------------------------------------------
// Bytes and characters

#[test]
fn nul_and_non_utf8_bytes_are_typed_errors() {
    let (c, store, key) = world();
    let k = key.as_bytes();
    for at in [0, 2, 3, 7, 8, 20, k.len() - 1] {
        for bad in [0u8, 0xff, 0x80, b'\n'] {
            let mut mutated = k.to_vec();
            mutated[at] = bad;
            assert!(c.parse(&mutated).is_err(), "byte {bad:#x} at {at} accepted");
            let header = [b"Bearer ".as_slice(), &mutated].concat();
            // b64token excludes these bytes: the header itself is malformed.
            assert_eq!(
                decide_header(&c, &store, &header),
                Reason::Credential(ExtractError::MalformedHeader)
            );
        }
    }
    let with_nul = [k, b"\0"].concat();
    assert_eq!(c.parse(&with_nul).map(|_| ()), Err(KeyError::Length));
    assert_eq!(
        parse_authorization_header(b"Bearer\0abc"),
        Err(ExtractError::MalformedHeader),
        "NUL ends the scheme token; no space follows"
    );
    let query = [b"api_key=".as_slice(), &[0xff, 0xfe, 0], k].concat();
    let mut request = Request::new("GET", "/v1/claims/1").https(true);
    request.query = Some(&query);
    let d = c.check(&request, &store, Timestamp(NOW));
    assert_eq!(d.reason(), Reason::Credential(ExtractError::QueryRefused));
    let lenient = lenient_checker();
    let d = lenient.check(&request, &store, Timestamp(NOW));
    assert!(matches!(d.reason(), Reason::MalformedKey(_)), "{d:?}");
}

fn lenient_checker() -> Checker {
    checker_of(TestPolicy::claimport().allow_query_key(true).build())
}

#[test]
fn unicode_look_alikes_of_the_prefix_are_rejected() {
    let (c, store, key) = world();
    let rest = &key["sk_live_".len()..];
    let look_alikes = [
        format!("\u{0455}k_live_{rest}"),        // Cyrillic dze
        format!("s\u{043A}_live_{rest}"),        // Cyrillic ka
        format!("sk_l\u{0456}ve_{rest}"),        // Cyrillic i
        format!("sk_liv\u{0435}_{rest}"),        // Cyrillic ie
        format!("\u{FF53}\u{FF4B}_live_{rest}"), // full-width sk
        format!("sk\u{FF3F}live_{rest}"),        // full-width low line
        format!("sk_live\u{2011}{rest}"),        // non-breaking hyphen
        format!("SK_LIVE_{rest}"),
        format!("sk_live_{}", rest.replacen('0', "\u{0030}\u{0301}", 1)), // combining accent
    ];
    for text in &look_alikes {
        let parsed = c.parse(text.as_bytes());
        assert!(parsed.is_err(), "{text:?} accepted");
        let header = format!("Bearer {text}");
        let reason = decide_header(&c, &store, header.as_bytes());
        assert!(
            matches!(
                reason,
                Reason::MalformedKey(_) | Reason::Credential(ExtractError::MalformedHeader)
            ),
            "{text:?}: {reason:?}"
        );
    }
    // Replacing any one character of the key by a Cyrillic or full-width look-alike fails.
    for (i, ch) in key.char_indices() {
        let alike = match ch {
            'a' => '\u{0430}',
            'o' | 'O' => '\u{043E}',
            'e' => '\u{0435}',
            '0' => '\u{FF10}',
            _ => continue,
        };
        let text = format!("{}{alike}{}", &key[..i], &key[i + 1..]);
        assert!(c.parse(text.as_bytes()).is_err(), "{text:?} accepted");
    }
}

#[test]
fn bearer_spacing_variants_have_defined_outcomes() {
    let (c, store, key) = world();
    let cases: [(String, Result<(), ExtractError>); 9] = [
        (format!("Bearer {key}"), Ok(())),
        (format!("Bearer    {key}"), Ok(())),
        (format!("\t Bearer {key} \t"), Ok(())),
        (format!("bearer {key}"), Ok(())),
        (format!("Bearer\t{key}"), Err(ExtractError::MalformedHeader)),
        (
            format!("Bearer \t{key}"),
            Err(ExtractError::MalformedHeader),
        ),
        (format!("Bearer{key}"), Err(ExtractError::WrongScheme)),
        (
            format!("Bearer {key} extra"),
            Err(ExtractError::MalformedHeader),
        ),
        (
            format!("Bearer\u{00A0}{key}"),
            Err(ExtractError::MalformedHeader),
        ),
    ];
    for (header, expected) in cases {
        let got = parse_authorization_header(header.as_bytes()).map(|_| ());
        assert_eq!(got, expected, "{header:?}");
        let reason = decide_header(&c, &store, header.as_bytes());
        match expected {
            Ok(()) => assert_eq!(reason, Reason::Allowed, "{header:?}"),
            Err(e) => assert_eq!(reason, Reason::Credential(e), "{header:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Requirement expressions

#[test]
fn deep_and_enormous_requirements_hit_documented_limits() {
    let policy = Policy::from_toml(&claimport_text()).expect("policy");
    let cat = policy.catalog();
    let kind = |text: &str| {
        bounded("requirement", FAST, || Requirement::parse(cat, text))
            .map(|_| ())
            .map_err(|e| e.kind)
    };
    let nest = |depth: usize| format!("{}claims:read{}", "(".repeat(depth), ")".repeat(depth));
    assert_eq!(kind(&nest(MAX_EXPR_DEPTH)), Ok(()));
    assert_eq!(kind(&nest(MAX_EXPR_DEPTH + 1)), Err(ExprErrorKind::TooDeep));
    assert_eq!(kind(&"(".repeat(100_000)), Err(ExprErrorKind::TooLong));
    assert_eq!(kind(&"(".repeat(MAX_EXPR_LEN)), Err(ExprErrorKind::TooDeep));
    let long = vec!["claims:read"; 400].join(" & ");
    assert!(long.len() > MAX_EXPR_LEN);
    assert_eq!(kind(&long), Err(ExprErrorKind::TooLong));
    let fits = vec!["claims:read"; 300].join(" ");
    assert!(fits.len() <= MAX_EXPR_LEN);
    assert_eq!(kind(&fits), Ok(()));
    // A product of 200 two-way choices is 2^200 alternatives if expanded naively.
    let blowup = vec!["(claims:read | orders:read)"; 140].join(" ");
    assert!(blowup.len() <= MAX_EXPR_LEN);
    assert_eq!(kind(&blowup), Err(ExprErrorKind::TooManyTerms));
    // The alternative count is bounded before duplicates collapse.
    let wide = |n: usize| vec!["claims:read"; n].join(" | ");
    assert_eq!(kind(&wide(MAX_EXPR_TERMS)), Ok(()));
    assert_eq!(
        kind(&wide(MAX_EXPR_TERMS + 1)),
        Err(ExprErrorKind::TooManyTerms)
    );
    assert!(matches!(
        kind(&"| ".repeat(1000)),
        Err(ExprErrorKind::Unexpected(_))
    ));
}

// ---------------------------------------------------------------------------------------
// Policies

#[test]
fn a_policy_with_ten_thousand_routes_loads_and_checks_quickly() {
    let mut text = claimport_text();
    let base = Policy::from_toml(&text)
        .expect("claimport")
        .routes()
        .routes()
        .len();
    for i in 0..10_000 {
        text.push_str(&format!(
            "\n[[routes]]\nmethod = \"GET\"\npath = \"/gen/r{i}/{{id}}\"\nrequire = \"claims:read | orders:read\"\n"
        ));
    }
    let policy = bounded("10k-route policy", Duration::from_secs(30), || {
        Policy::from_toml(&text)
    })
    .expect("loads");
    assert_eq!(policy.routes().routes().len(), base + 10_000);
    let c = checker_of(policy);
    let (_, store, key) = world();
    let header = format!("Bearer {key}");
    let request = Request::new("GET", "/gen/r9999/7")
        .authorization(&header)
        .https(true);
    let d = bounded("check", FAST, || c.check(&request, &store, Timestamp(NOW)));
    assert_eq!(d.reason(), Reason::Allowed);
    assert_eq!(d.route(), Some(("GET", "/gen/r9999/{id}")));
}

#[test]
fn cyclic_implications_terminate_and_grant_the_cycle() {
    let text = r#"
[[scopes]]
name = "a"
implies = ["b"]
[[scopes]]
name = "b"
implies = ["c"]
[[scopes]]
name = "c"
implies = ["a"]
[[scopes]]
name = "self"
implies = ["self"]
"#;
    let policy = bounded("cyclic policy", FAST, || Policy::from_toml(text)).expect("loads");
    let cat = policy.catalog();
    let granted = cat.grant(&["b"]).set;
    assert_eq!(cat.names(&granted).collect::<Vec<_>>(), ["a", "b", "c"]);
    let granted = cat.grant(&["self"]).set;
    assert_eq!(cat.names(&granted).collect::<Vec<_>>(), ["self"]);
}

#[test]
fn hostile_policy_texts_are_typed_errors() {
    let nested_arrays = format!("x = {}{}", "[".repeat(50_000), "]".repeat(50_000));
    let nested_tables = format!("x = {}1{}", "{a=".repeat(50_000), "}".repeat(50_000));
    let oversized = "#".repeat(5 << 20);
    let many_scopes: String = (0..5000)
        .map(|i| format!("[[scopes]]\nname = \"s{i}\"\n"))
        .collect();
    for (name, text) in [
        ("nested arrays", nested_arrays.as_str()),
        ("nested inline tables", nested_tables.as_str()),
        ("oversized", oversized.as_str()),
        ("too many scopes", many_scopes.as_str()),
        ("NUL", "[service]\nrealm = \"a\0b\"\n"),
        (
            "route bomb",
            "[[routes]]\nmethod = \"GET\"\npath = \"/{a}{b}\"\n",
        ),
    ] {
        let r = bounded(name, Duration::from_secs(10), || Policy::from_toml(text));
        let e = r.expect_err(name);
        assert!(!e.issues.is_empty(), "{name}");
    }
}

// ---------------------------------------------------------------------------------------
// Records

#[test]
fn records_with_unknown_scopes_or_corrupted_hashes() {
    let (c, store, key) = world();
    let header = format!("Bearer {key}");
    let id = c.parse(key.as_bytes()).expect("parses").id();
    let original = store.get(&id).expect("stored");
    let decide = |record: KeyRecord| {
        let request = Request::new("GET", "/v1/claims/1")
            .authorization(&header)
            .https(true);
        let Prepared::Lookup(pending) = c.prepare(&request) else {
            panic!("needs a lookup");
        };
        c.finish(pending, Some(std::sync::Arc::new(record)), Timestamp(NOW))
            .into_outcome()
    };

    let mut unknown = (*original).clone();
    unknown.set_scopes(vec!["claims:read".into(), "gone:scope".into(), "".into()]);
    let o = decide(unknown);
    assert_eq!(o.reason, Reason::Allowed);
    assert!(o.warnings.contains(Warning::UnknownScopes));

    let mut only_unknown = (*original).clone();
    only_unknown.set_scopes(vec!["x".repeat(100_000)]);
    assert_eq!(decide(only_unknown).reason, Reason::InsufficientScope);

    let json = original.to_json();
    let hash = original.hash().to_owned();
    let digest_start = hash.rfind('$').expect("tagged") + 1;
    let mut flipped = hash.clone().into_bytes();
    flipped[digest_start] = if flipped[digest_start] == b'A' {
        b'B'
    } else {
        b'A'
    };
    let flipped = String::from_utf8(flipped).expect("ascii");
    let corruptions = [
        (String::new(), Reason::CorruptRecord),
        ("md5$abc".to_owned(), Reason::CorruptRecord),
        (
            hash.replace("hmac-sha256$p1$", "hmac-sha256$$"),
            Reason::CorruptRecord,
        ),
        (format!("{hash}="), Reason::CorruptRecord),
        (hash[..hash.len() - 1].to_owned(), Reason::CorruptRecord),
        (hash.replace("$p1$", "$p9$"), Reason::UnknownPepper),
        (flipped, Reason::WrongSecret),
        (
            format!("{hash}{}", "A".repeat(1 << 20)),
            Reason::CorruptRecord,
        ),
    ];
    for (bad, expected) in corruptions {
        let text = json.replace(&hash, &bad);
        assert!(
            KeyRecord::from_json(&text).is_err()
                || expected == Reason::UnknownPepper
                || expected == Reason::WrongSecret,
            "from_json accepted {bad:.40}"
        );
        // A host that skips validation (serde directly) still gets a typed decision.
        let record: KeyRecord = serde_json::from_str(&text).expect("serde");
        let o = bounded("corrupt record", FAST, || decide(record));
        assert_eq!(o.reason, expected, "{bad:.40}");
    }
}

#[test]
fn hostile_record_json_is_a_typed_error() {
    let (_, store, key) = world();
    let c = checker();
    let id = c.parse(key.as_bytes()).expect("parses").id();
    let json = store.get(&id).expect("stored").to_json();
    let deep_metadata = json.replacen(
        "\"created_at\"",
        &format!(
            "\"metadata\":{}1{},\"created_at\"",
            "{\"a\":".repeat(10_000),
            "}".repeat(10_000)
        ),
        1,
    );
    let deep_array = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let cases = [
        deep_metadata,
        deep_array,
        json.replace("\"sk\"", "\"SK\""),
        json.replace("\"live\"", "\"li\\u0000ve\""),
        json.replacen('{', "{\"extra\":1,", 1),
        json.replace(id.as_str(), "short"),
        "\u{FEFF}{}".to_owned(),
        String::new(),
    ];
    for text in &cases {
        let r = bounded("from_json", FAST, || KeyRecord::from_json(text));
        assert!(r.is_err(), "accepted {text:.60}");
    }
}

// ---------------------------------------------------------------------------------------
// Secret hygiene

/// The secret part (`{secret}`) of a key text.
fn secret_of(key: &str) -> &str {
    &key[key.len() - 34..key.len() - 6]
}

#[test]
fn the_plaintext_key_never_appears_in_printable_or_serialised_forms() {
    let c = checker();
    let issued = c
        .issue(&KeySpec::new("k", "org", ["claims:read"]), Timestamp(NOW))
        .expect("issue");
    let key = issued.key.expose().to_owned();
    let secret = secret_of(&key).to_owned();
    let parsed = c.parse(key.as_bytes()).expect("parses");
    let header = format!("Bearer {key}");
    let query = format!("api_key={key}");
    let request = Request::new("GET", "/v1/claims/1")
        .authorization(&header)
        .query(&query)
        .https(true);
    let store = MemoryStore::new();
    store.insert(issued.record.clone()).expect("insert");
    let mut outputs = vec![
        format!("{issued:?}"),
        format!("{}", issued.key),
        format!("{:?}", issued.key),
        format!("{parsed:?}"),
        parsed.display().to_string(),
        format!("{request:?}"),
        format!("{:?}", issued.record),
        issued.record.to_json(),
        serde_json::to_string(&issued.record).expect("serde"),
        format!(
            "{:?}",
            extract_credential(Some(header.as_bytes()), None, "api_key", false)
        ),
        format!(
            "{:?}",
            c.prepare(
                &Request::new("GET", "/v1/me")
                    .authorization(&header)
                    .https(true)
            )
        ),
    ];
    let lenient = lenient_checker();
    for (checker, req) in [
        (&c, request),
        (
            &c,
            Request::new("GET", "/v1/me")
                .authorization(&header)
                .https(true),
        ),
        (&c, Request::new("GET", "/v1/me").authorization(&header)),
        (
            &lenient,
            Request::new("GET", "/v1/me")
                .query(&format!("api_key={key}"))
                .https(true),
        ),
    ] {
        let d = checker.check(&req, &store, Timestamp(NOW));
        outputs.push(format!("{d:?}"));
        outputs.push(
            d.www_authenticate()
                .map(|w| w.to_string())
                .unwrap_or_default(),
        );
        outputs.push(d.reason().code().to_owned());
        outputs.push(format!("{:?}", d.outcome()));
    }
    // Errors about a near-miss key never echo it.
    for at in [0, 10, key.len() - 1] {
        let mut wrong = key.clone().into_bytes();
        wrong[at] ^= 1;
        if let Err(e) = c.parse(&wrong) {
            outputs.push(e.to_string());
            outputs.push(format!("{e:?}"));
        }
    }
    // A host that stores the whole key where the id belongs gets an error without it.
    let json = issued.record.to_json();
    let id = issued.record.id().to_string();
    let record_error = KeyRecord::from_json(&json.replace(&id, &key)).expect_err("not an id");
    outputs.push(format!("{record_error:?}"));
    outputs.push(record_error.to_string());
    for out in &outputs {
        assert!(!out.contains(&secret), "secret in: {out}");
    }
}

#[test]
fn the_pepper_never_appears_in_printable_forms_or_errors() {
    let pepper_text = "pepper-0123456789-abcdefghijklmnopqrstuvwxyz";
    let pepper = pepper_text.as_bytes();
    let mut peppers = Peppers::new("p1", pepper).expect("pepper");
    peppers.add("old", &[9u8; 40]).expect("pepper");
    let mut outputs = vec![format!("{peppers:?}")];
    outputs.push(format!(
        "{:?}",
        Peppers::new("short", &pepper[..10]).map(|_| ())
    ));
    outputs.push(format!(
        "{}",
        Peppers::new("short", &pepper[..10])
            .map(|_| ())
            .expect_err("too short")
    ));
    outputs.push(format!("{:?}", peppers.add("p1", pepper)));
    outputs.push(format!("{:?}", Peppers::new("bad id!", pepper).map(|_| ())));
    let c = Checker::new(
        Policy::from_toml(&claimport_text()).expect("policy"),
        peppers,
    );
    outputs.push(format!("{c:?}"));
    let secret_bytes = portcullis::SecretBytes::new(pepper.to_vec());
    outputs.push(format!("{secret_bytes:?}"));
    for out in &outputs {
        assert!(!out.contains("0123456789-abc"), "pepper in: {out}");
        assert!(!out.contains("[9, 9, 9"), "pepper bytes in: {out}");
    }
}

// ---------------------------------------------------------------------------------------
// Zeroization, observed through the allocator: while armed, every heap block freed by any
// thread is scanned for the needle before it goes back to the system.
//
// The scanner is exact: the needle lives in fixed atomics written only while disarmed, so
// a scan takes no lock, allocates nothing and never skips a block, however many threads
// free at once (a `try_lock` here once skipped blocks freed during another thread's scan).

struct Scanning;

/// Longest needle the scanner holds.
const MAX_NEEDLE: usize = 64;

static ARMED: AtomicBool = AtomicBool::new(false);
static FOUND: AtomicBool = AtomicBool::new(false);
static NEEDLE: [AtomicU8; MAX_NEEDLE] = [const { AtomicU8::new(0) }; MAX_NEEDLE];
static NEEDLE_LEN: AtomicUsize = AtomicUsize::new(0);
/// Tests that arm the scanner run one at a time.
static SCAN: Mutex<()> = Mutex::new(());

fn scan(block: &[u8]) {
    let len = NEEDLE_LEN.load(Ordering::SeqCst);
    if len == 0 || block.len() < len {
        return;
    }
    let mut needle = [0u8; MAX_NEEDLE];
    for (b, a) in needle.iter_mut().zip(&NEEDLE[..len]) {
        *b = a.load(Ordering::Relaxed);
    }
    if block.windows(len).any(|w| w == &needle[..len]) {
        FOUND.store(true, Ordering::SeqCst);
    }
}

// SAFETY: forwards every call to the system allocator unchanged; before a block is freed
// it only reads the block's own `layout.size()` bytes, which are still allocated. (Test
// code; the library itself forbids unsafe.)
unsafe impl GlobalAlloc for Scanning {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if ARMED.load(Ordering::SeqCst) {
            // SAFETY: `ptr` is a live block of `layout.size()` bytes until freed below.
            scan(unsafe { std::slice::from_raw_parts(ptr, layout.size()) });
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if ARMED.load(Ordering::SeqCst) {
            // SAFETY: as in `dealloc`; realloc may free the old block.
            scan(unsafe { std::slice::from_raw_parts(ptr, layout.size()) });
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Scanning = Scanning;

/// Whether any heap block freed while `f` ran (by this thread or any other) contained
/// `needle` (at most [`MAX_NEEDLE`] bytes).
fn freed_blocks_contain(needle: &[u8], f: impl FnOnce()) -> bool {
    assert!(
        !needle.is_empty() && needle.len() <= MAX_NEEDLE,
        "needle length"
    );
    let _one_at_a_time = SCAN.lock().unwrap_or_else(|e| e.into_inner());
    for (a, &b) in NEEDLE.iter().zip(needle) {
        a.store(b, Ordering::Relaxed);
    }
    NEEDLE_LEN.store(needle.len(), Ordering::SeqCst);
    FOUND.store(false, Ordering::SeqCst);
    ARMED.store(true, Ordering::SeqCst);
    f();
    ARMED.store(false, Ordering::SeqCst);
    NEEDLE_LEN.store(0, Ordering::SeqCst);
    FOUND.load(Ordering::SeqCst)
}

#[test]
fn the_scanner_sees_a_secret_that_is_not_zeroized() {
    let needle = b"needle-4f1c2b7a9e-not-zeroized";
    assert!(freed_blocks_contain(needle, || {
        drop(std::hint::black_box(needle.to_vec()));
    }));
    assert!(!freed_blocks_contain(needle, || {
        drop(portcullis::SecretString::new(
            String::from_utf8_lossy(needle).into_owned(),
        ));
    }));
}

/// Regression: the scanner skipped blocks freed while another thread was scanning, and so
/// missed a definite leak in a few runs out of hundreds. Two threads free blocks as fast
/// as they can while each of 500 deliberate leaks is armed: every one is seen.
#[test]
fn the_scanner_sees_every_leak_while_other_threads_free_memory() {
    let needle = b"needle-8d3e5a1f0b-while-others-free";
    let stop = AtomicBool::new(false);
    let started = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for size in [64usize, 4096] {
            let (stop, started) = (&stop, &started);
            s.spawn(move || {
                started.fetch_add(1, Ordering::SeqCst);
                while !stop.load(Ordering::Relaxed) {
                    drop(std::hint::black_box(vec![7u8; size]));
                }
            });
        }
        while started.load(Ordering::SeqCst) < 2 {
            std::thread::yield_now();
        }
        let seen = (0..500)
            .filter(|_| {
                freed_blocks_contain(needle, || {
                    // Armed long enough for the other threads to be scanning their blocks.
                    let armed = Instant::now();
                    while armed.elapsed() < Duration::from_micros(200) {
                        std::hint::spin_loop();
                    }
                    drop(std::hint::black_box(needle.to_vec()));
                })
            })
            .count();
        stop.store(true, Ordering::Relaxed);
        assert_eq!(seen, 500, "leaks seen out of 500");
    });
}

#[test]
fn issuing_and_dropping_a_key_leaves_no_plaintext_on_the_heap() {
    let c = checker();
    let spec = KeySpec::new("k", "org", ["claims:read"]);
    let seed = b"zeroize-check";
    let key = c
        .issue_with(
            "sk",
            "live",
            &spec,
            Timestamp(NOW),
            &SeededRandom::new(seed),
        )
        .expect("issue")
        .key
        .expose()
        .to_owned();
    let secret = secret_of(&key).as_bytes().to_vec();
    let leaked = freed_blocks_contain(&secret, || {
        let issued = c
            .issue_with(
                "sk",
                "live",
                &spec,
                Timestamp(NOW),
                &SeededRandom::new(seed),
            )
            .expect("issue");
        assert_eq!(secret_of(issued.key.expose()).as_bytes(), secret.as_slice());
        let rotated = c
            .rotate_with(&issued.record, 60, Timestamp(NOW), &SeededRandom::new(seed))
            .expect("rotate");
        drop(rotated);
        drop(issued);
    });
    assert!(!leaked, "a freed heap block still held the key's secret");
}

#[test]
fn checking_a_key_copies_no_plaintext_to_the_heap() {
    let (c, store, key) = world();
    let secret = secret_of(&key).as_bytes().to_vec();
    let header = format!("Bearer {key}");
    let leaked = freed_blocks_contain(&secret, || {
        for path in ["/v1/claims/1", "/v1/orders", "/nowhere"] {
            let request = Request::new("GET", path).authorization(&header).https(true);
            drop(c.check(&request, &store, Timestamp(NOW)));
            if let Prepared::Lookup(p) = c.prepare(&request) {
                let record = store.get(&p.key_id());
                drop(c.finish(p, record, Timestamp(NOW)));
            }
        }
    });
    assert!(
        !leaked,
        "a freed heap block held the presented key's secret"
    );
}

#[test]
fn dropping_peppers_leaves_no_raw_pepper_on_the_heap() {
    let pepper = b"raw-pepper-bytes-0123456789abcdef-xyz";
    let leaked = freed_blocks_contain(pepper, || {
        let mut peppers = Peppers::new("p1", pepper).expect("pepper");
        peppers.add("p2", pepper).expect("pepper");
        let c = Checker::new(
            Policy::from_toml(&claimport_text()).expect("policy"),
            peppers,
        );
        drop(c);
    });
    assert!(!leaked, "a freed heap block held the raw pepper");
}

/// HMAC's inner state for `key` (at most a block): the SHA-256 state after `key ⊕ ipad`,
/// as its eight words lie in memory. It is as good as the pepper (SECURITY.md).
fn hmac_inner_state(key: &[u8]) -> [u8; 32] {
    const H0: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut block = [0x36u8; 64];
    for (b, k) in block.iter_mut().zip(key) {
        *b ^= k;
    }
    let mut state = H0;
    sha2::block_api::compress256(&mut state, &[block]);
    let mut bytes = [0u8; 32];
    for (chunk, word) in bytes.chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_ne_bytes());
    }
    bytes
}

/// Regression: `Peppers::add` grew its vector by reallocation, which moved the earlier
/// peppers' HMAC states and freed the old buffer without wiping them.
#[test]
fn adding_peppers_frees_no_hmac_state_unwiped() {
    let first = b"first-pepper-0123456789abcdef-0123";
    let state = hmac_inner_state(first);
    let leaked = freed_blocks_contain(&state, || {
        let mut peppers = Peppers::new("p1", first).expect("pepper");
        for i in 2..10u8 {
            peppers.add(&format!("p{i}"), &[i; 32]).expect("pepper");
        }
        let copy = peppers.clone();
        drop(peppers);
        drop(copy);
    });
    assert!(
        !leaked,
        "a freed heap block held the first pepper's HMAC state"
    );
}

/// Regression: `AccessKeys::add` grew its vector by reallocation and `remove` shifted the
/// later keys down, each leaving copies of HMAC states in memory freed unwiped (the first
/// key's by the growth, the last key's by the shift).
#[test]
fn adding_and_removing_access_keys_frees_no_hmac_state_unwiped() {
    use portcullis::oauth::AccessKeys;
    let first = b"first-access-key-0123456789abcdef-01";
    let last = [9u8; 32];
    for (which, key) in [("first", first.as_slice()), ("last", last.as_slice())] {
        let state = hmac_inner_state(key);
        let leaked = freed_blocks_contain(&state, || {
            let mut keys = AccessKeys::new("k1", first).expect("key");
            for i in 2..10u8 {
                keys.add(&format!("k{i}"), &[i; 32]).expect("key");
            }
            keys.remove("k2").expect("removed");
            drop(keys);
        });
        assert!(
            !leaked,
            "a freed heap block held the {which} key's HMAC state"
        );
    }
}

#[test]
fn hash_strings_of_issued_keys_round_trip() {
    let c = checker();
    let issued = c
        .issue(&KeySpec::new("k", "o", ["claims:read"]), Timestamp(NOW))
        .expect("issue");
    let h = StoredHash::parse(&issued.record.hash()).expect("decodes");
    assert_eq!(h.encode(), issued.record.hash());
}

/// A known limit, kept as a test so that a change in either direction is noticed: moving a
/// `Pending` out of a heap allocation (a `Box`, or a future across an `.await`) copies the
/// presented key and frees the old location without zeroizing it. `zeroize` cannot follow
/// moves; see SECURITY.md.
#[test]
fn known_limit_a_pending_moved_out_of_the_heap_leaves_a_copy() {
    let (c, store, key) = world();
    let secret = secret_of(&key).as_bytes().to_vec();
    let header = format!("Bearer {key}");
    let request = Request::new("GET", "/v1/claims/1")
        .authorization(&header)
        .https(true);
    let leaked = freed_blocks_contain(&secret, || {
        let Prepared::Lookup(p) = c.prepare(&request) else {
            panic!("needs a lookup");
        };
        let boxed = Box::new(p);
        let record = store.get(&boxed.key_id());
        drop(c.finish(*boxed, record, Timestamp(NOW)));
    });
    assert!(
        leaked,
        "moved-from heap copies are now cleaned: update SECURITY.md"
    );
}

/// Whoever can write the database could mint a working key without the pepper through a
/// legacy `sha256$` record. The policy refuses such records unless
/// `accept_legacy_sha256 = true` (a migration setting); even then every use carries the
/// `needs_rehash` warning, which hosts can alert on (SECURITY.md).
#[test]
fn a_database_writer_cannot_mint_a_legacy_record_unless_the_policy_accepts_them() {
    let (c, store, key) = world();
    let id = c.parse(key.as_bytes()).expect("parses").id();
    // The attacker makes up a well-formed key (the checksum is public; issue_with is used
    // only for its text, the record it makes is thrown away)...
    let forged = c
        .issue_with(
            "sk",
            "live",
            &KeySpec::new("x", "x", ["claims:read"]),
            Timestamp(NOW),
            &SeededRandom::new(b"attacker"),
        )
        .expect("issue")
        .key
        .expose()
        .to_owned();
    let forged_id = c.parse(forged.as_bytes()).expect("parses").id();
    assert_ne!(forged_id, id);
    // ...and writes an unpeppered record for it.
    let legacy = StoredHash::legacy_sha256(&forged).encode();
    let spec = KeySpec::new("x", "victim_org", ["full_access"]);
    let record =
        KeyRecord::import(forged_id, "sk", "live", &spec, &legacy, Timestamp(NOW)).expect("import");
    store.insert(record).expect("insert");
    let header = format!("Bearer {forged}");
    let d = c.check(
        &Request::new("DELETE", "/v1/claims/1")
            .authorization(&header)
            .https(true),
        &store,
        Timestamp(NOW),
    );
    assert_eq!(d.reason(), Reason::LegacyHashRefused);
    assert_eq!(d.status(), 401);
    let migrating = portcullis::Checker::new(
        TestPolicy::claimport().accept_legacy_sha256(true).build(),
        c.peppers().clone(),
    );
    let d = migrating.check(
        &Request::new("DELETE", "/v1/claims/1")
            .authorization(&header)
            .https(true),
        &store,
        Timestamp(NOW),
    );
    assert_eq!(d.reason(), Reason::Allowed);
    assert!(d.warnings().contains(Warning::NeedsRehash));
}

/// Regression: a record whose hash field holds something other than a hash (here a
/// plaintext key stored in the wrong column) printed that text in full in its `Debug`,
/// which hosts log for corrupt records.
#[test]
fn debug_of_a_record_with_a_corrupted_hash_hides_the_field() {
    let (c, store, key) = world();
    let id = c.parse(key.as_bytes()).expect("parses").id();
    let json = store.get(&id).expect("stored").to_json();
    let hash = store.get(&id).expect("stored").hash().to_owned();
    for bad in [key.clone(), format!("{key}$x"), format!("x{key}")] {
        let record: KeyRecord =
            serde_json::from_str(&json.replace(&hash, &bad)).expect("serde accepts it");
        let shown = format!("{record:?}");
        assert!(!shown.contains(secret_of(&key)), "{shown}");
        assert!(shown.contains("hash: ?$[REDACTED]"), "{shown}");
    }
}

/// Regression (found by the `oauth_token` fuzz target): an access-token-shaped Bearer
/// token whose only dot is the prefix's (`at.` + anything without a dot) made the token
/// splitter slice past its end and panic — reachable from any request's header.
#[test]
fn access_token_prefix_without_parts_is_malformed_not_a_panic() {
    use portcullis::oauth::{AccessKeys, AccessVerifier, TokenError};
    let policy = Policy::from_toml(&claimport_text()).expect("policy");
    let verifier = std::sync::Arc::new(AccessVerifier::new(
        AccessKeys::new("k1", &[7u8; 32]).expect("key"),
        policy.catalog(),
    ));
    for token in [
        "at.",
        "at.x",
        "at.abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    ] {
        assert_eq!(
            verifier
                .verify(token.as_bytes(), Timestamp(NOW))
                .map(|_| ()),
            Err(TokenError::Malformed),
            "{token}"
        );
    }
    let c = checker_of(policy)
        .with_access_tokens(verifier)
        .expect("same catalog");
    let d = c.check(
        &Request::new("GET", "/v1/claims/1")
            .authorization("Bearer at.x")
            .https(true),
        &MemoryStore::new(),
        Timestamp(NOW),
    );
    assert_eq!(d.status(), 401);
}

/// OAuth secrets — client secret, code, access and refresh tokens — never appear in the
/// store's `Debug` (records hold hashes), a response's `Debug`, decisions, or errors about
/// near-miss tokens. (The token response *body* carries them by design: it is the one
/// place they are handed out.)
#[test]
fn oauth_secrets_never_appear_in_printable_forms() {
    use base64::Engine as _;
    use portcullis::oauth::{
        AccessKeys, AccessVerifier, AuthorizeOutcome, Client, MemoryOAuthStore, OAuthConfig,
        OAuthServer, PkceChallenge, Stores,
    };
    let policy = Policy::from_toml(&claimport_text()).expect("policy");
    let verifier = std::sync::Arc::new(AccessVerifier::new(
        AccessKeys::new("k1", &[7u8; 32]).expect("key"),
        policy.catalog(),
    ));
    let server = OAuthServer::new(
        OAuthConfig::default(),
        policy.catalog().clone(),
        verifier.clone(),
        "claimport",
    )
    .expect("same catalog");
    let checker = checker_of(policy)
        .with_access_tokens(verifier.clone())
        .expect("same catalog");
    let rng = portcullis::OsRandom::new();
    let now = Timestamp(NOW);
    let store = MemoryOAuthStore::new();
    let (client, secret) = Client::confidential(
        "webapp",
        &["https://app.example/cb"],
        &["claims:read"],
        &rng,
    )
    .expect("client");
    store.add_client(client);
    let pkce = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let query = format!(
        "response_type=code&client_id=webapp&redirect_uri=https%3A%2F%2Fapp.example%2Fcb\
         &scope=claims:read&state=s1&code_challenge={}&code_challenge_method=S256",
        PkceChallenge::s256(pkce).challenge
    );
    let AuthorizeOutcome::Valid(request) = server.authorize(&query, &store) else {
        panic!("valid request");
    };
    let location = server
        .approve(&request, "user_7", None, &store, &rng, now)
        .expect("approve");
    let code = location
        .split("code=")
        .nth(1)
        .and_then(|s| s.split('&').next())
        .expect("code")
        .to_owned();
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("webapp:{}", secret.expose()))
    );
    let body = format!(
        "grant_type=authorization_code&code={code}\
         &redirect_uri=https%3A%2F%2Fapp.example%2Fcb&code_verifier={pkce}"
    );
    let response = server.token(Some(&basic), &body, Stores::all(&store), &rng, now);
    assert_eq!(response.status, 200);
    let json: serde_json::Value = serde_json::from_str(response.body()).expect("json");
    let access = json["access_token"].as_str().expect("access").to_owned();
    let refresh = json["refresh_token"].as_str().expect("refresh").to_owned();
    let refreshed = server.token(
        Some(&basic),
        &format!("grant_type=refresh_token&refresh_token={refresh}"),
        Stores::all(&store),
        &rng,
        now,
    );
    assert_eq!(refreshed.status, 200);
    // The old refresh token again (reuse): an error, which must not echo it.
    let reused = server.token(
        Some(&basic),
        &format!("grant_type=refresh_token&refresh_token={refresh}"),
        Stores::all(&store),
        &rng,
        now,
    );
    let header = format!("Bearer {access}");
    let tampered = format!("Bearer {}x", &access[..access.len() - 1]);
    let mut outputs = vec![
        format!("{store:?}"),
        format!("{response:?}"),
        format!("{refreshed:?}"),
        format!("{reused:?}"),
        reused.body().to_owned(),
        format!("{request:?}"),
        format!("{:?}", verifier.verify(access.as_bytes(), now)),
        format!("{:?}", verifier.verify(&tampered.as_bytes()[7..], now)),
    ];
    for h in [&header, &tampered] {
        let d = checker.check(
            &Request::new("GET", "/v1/claims/1")
                .authorization(h)
                .https(true),
            &MemoryStore::new(),
            now,
        );
        outputs.push(format!("{d:?}"));
        outputs.push(
            d.www_authenticate()
                .map(|w| w.to_string())
                .unwrap_or_default(),
        );
    }
    let secrets = [
        secret.expose().to_owned(),
        code,
        refresh,
        access[access.len() - 40..].to_owned(),
    ];
    for out in &outputs {
        for s in &secrets {
            assert!(!out.contains(s.as_str()), "secret {s:.8}… in: {out:.300}");
        }
    }
}
