//! The key parser on arbitrary bytes: total, and every accepted key is consistent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::KeyFormat;
use portcullis::limits::MAX_KEY_LEN;
use std::sync::LazyLock;

static FORMAT: LazyLock<KeyFormat> =
    LazyLock::new(|| KeyFormat::new(["sk", "rk", "k1"], ["live", "test"]).expect("valid labels"));

fuzz_target!(|data: &[u8]| {
    let _ = portcullis::KeyId::parse(&String::from_utf8_lossy(data));
    let Ok(key) = FORMAT.parse(data) else {
        return;
    };
    assert!(data.len() <= MAX_KEY_LEN);
    let text = std::str::from_utf8(data).expect("accepted keys are ASCII");
    assert!(text.starts_with(&format!("{}_{}_{}_", key.kind(), key.env(), key.id())));
    // The loggable forms never carry the secret part.
    let secret = &text[text.len() - 34..];
    assert!(!format!("{key:?}").contains(secret));
    assert!(!key.display().to_string().contains(secret));
});
