//! Property tests: issue → parse → verify round trips, mutation rejection, and totality of
//! every parser on arbitrary input.

mod common;

use portcullis::{
    Checker, KeyFormat, KeySpec, MemoryStore, Peppers, Policy, Request, SeededRandom, Timestamp,
};
use proptest::prelude::*;

fn label() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9]{0,7}"
}

fn checker_for(kind: &str, env: &str) -> Checker {
    let text = format!(
        "[service]\nkinds = [\"{kind}\"]\nenvironments = [\"{env}\"]\ndeployment_env = \"{env}\"\n"
    );
    Checker::new(
        Policy::from_toml(&text).expect("policy"),
        Peppers::new("p", &[9; 32]).expect("pepper"),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn issue_parse_verify_round_trip(kind in label(), env in label(), seed in any::<[u8; 16]>()) {
        let c = checker_for(&kind, &env);
        let rng = SeededRandom::new(&seed);
        let issued = c.issue_with(&kind, &env, &KeySpec::new("n", "o", Vec::<String>::new()), Timestamp(1), &rng).expect("issue");
        let text = issued.key.expose();
        let parsed = c.parse(text.as_bytes()).expect("issued keys parse");
        prop_assert_eq!(parsed.kind(), kind.as_str());
        prop_assert_eq!(parsed.env(), env.as_str());
        prop_assert_eq!(parsed.id(), issued.record.id());
        prop_assert_eq!(parsed.display().to_string(), format!("{kind}_{env}_{}_…", issued.record.id()));
        prop_assert!(c.verify(text.as_bytes(), &issued.record, Timestamp(2)).is_valid());
        let json = issued.record.to_json();
        let back = portcullis::KeyRecord::from_json(&json).expect("json");
        prop_assert!(c.verify(text.as_bytes(), &back, Timestamp(2)).is_valid());
    }

    #[test]
    fn every_single_character_change_is_rejected(seed in any::<[u8; 16]>(), pos_frac in 0.0f64..1.0, byte in 0x20u8..0x7f) {
        let c = checker_for("sk", "live");
        let issued = c.issue_with("sk", "live", &KeySpec::new("n", "o", Vec::<String>::new()), Timestamp(1), &SeededRandom::new(&seed)).expect("issue");
        let mut bytes = issued.key.expose().as_bytes().to_vec();
        let pos = ((bytes.len() as f64) * pos_frac) as usize % bytes.len();
        prop_assume!(bytes[pos] != byte);
        bytes[pos] = byte;
        prop_assert!(c.parse(&bytes).is_err());
        prop_assert!(!c.verify(&bytes, &issued.record, Timestamp(2)).is_valid());
    }

    #[test]
    fn key_parser_is_total(input in proptest::collection::vec(any::<u8>(), 0..120)) {
        let format = KeyFormat::new(["sk", "rk"], ["live", "test"]).expect("format");
        let _ = format.parse(&input);
    }

    #[test]
    fn key_parser_is_total_near_valid_shapes(input in "(sk|rk|xk|s)_(live|test|lve)_[A-Za-z0-9_]{0,60}") {
        let format = KeyFormat::new(["sk", "rk"], ["live", "test"]).expect("format");
        let _ = format.parse(input.as_bytes());
    }

    #[test]
    fn check_is_total(method in "[A-Z]{0,7}", path in ".{0,40}", auth in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..100)),
                      query in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..100)), https in any::<bool>()) {
        let c = common::checker();
        let store = MemoryStore::new();
        let request = Request { method: &method, path: &path, authorization: auth.as_deref(), query: query.as_deref(), https, client: None };
        let d = c.check(&request, &store, Timestamp(common::NOW));
        prop_assert!(matches!(d.status(), 200 | 400 | 401 | 403));
        if d.allowed() {
            prop_assert_eq!(d.reason(), portcullis::Reason::Public);
        }
    }
}

#[test]
fn every_single_character_change_is_rejected_exhaustively() {
    let c = checker_for("sk", "live");
    let issued = c
        .issue_with(
            "sk",
            "live",
            &KeySpec::new("n", "o", Vec::<String>::new()),
            Timestamp(1),
            &SeededRandom::new(b"x"),
        )
        .expect("issue");
    let key = issued.key.expose().as_bytes().to_vec();
    let mut tried = 0;
    for pos in 0..key.len() {
        for byte in (0u8..=255).filter(|&b| b != key[pos]) {
            let mut m = key.clone();
            m[pos] = byte;
            assert!(
                c.parse(&m).is_err(),
                "mutation at {pos} to {byte:#x} accepted"
            );
            tried += 1;
        }
        let mut deleted = key.clone();
        deleted.remove(pos);
        assert!(c.parse(&deleted).is_err());
    }
    assert_eq!(tried, key.len() * 255);
}
