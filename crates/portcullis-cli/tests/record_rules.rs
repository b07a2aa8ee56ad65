//! The CLI shows a key's display form and state exactly as the core computes them.

mod common;

use common::{NOW, Sandbox};
use portcullis::{Checker, KeySpec, Peppers, Policy, Timestamp};

const DAY: u64 = 86_400;

#[test]
fn keys_show_gives_the_cores_display_form_and_state_at_every_boundary() {
    let s = Sandbox::initialised();
    let policy_text = std::fs::read_to_string(s.store().join("policy.toml")).expect("policy");
    let policy = Policy::from_toml(&policy_text).expect("policy parses");
    let created = s.json(
        0,
        &[
            "keys",
            "create",
            "--name",
            "n",
            "--scopes",
            "claims:read",
            "--ttl",
            "1d",
        ],
    );
    let key = created["api_key"].as_str().expect("api_key");
    let id = created["record"]["id"].as_str().expect("id");
    let parsed = policy.format().parse(key.as_bytes()).expect("key parses");
    assert_eq!(created["record"]["display"], parsed.display().to_string());

    let revoke_at = NOW + 2 * DAY;
    assert_eq!(s.run_at(revoke_at, &["keys", "revoke", id]).code, 0);

    // The same lifecycle on a record of the core's own (its hash does not matter here).
    let checker = Checker::new(policy, Peppers::new("p1", &[1u8; 32]).expect("pepper"));
    let spec = KeySpec::new("n", "o", ["claims:read"]).with_ttl(DAY);
    let mut twin = checker.issue(&spec, Timestamp(NOW)).expect("issues").record;
    twin.revoke(Timestamp(revoke_at));

    let instants = [NOW, NOW + DAY - 1, NOW + DAY, revoke_at - 1, revoke_at];
    let mut shown = Vec::new();
    for t in instants {
        let run = common::run_in(&s.store(), t, &["--json", "keys", "show", id]);
        assert_eq!(run.code, 0, "{run:?}");
        let record = &run.json()["record"];
        assert_eq!(
            record["status"],
            twin.state(Timestamp(t)).as_str(),
            "at {t}"
        );
        assert_eq!(record["display"], parsed.display().to_string());
        shown.push(record["status"].as_str().unwrap_or_default().to_owned());
    }
    assert_eq!(
        shown,
        ["active", "active", "expired", "expired", "revoked"],
        "every state boundary is crossed"
    );
}
