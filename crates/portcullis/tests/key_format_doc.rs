//! `docs/key-format.md` is a public contract: its numbers, alphabet, pattern and worked
//! example are checked here against the code, so the document cannot drift from it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portcullis::limits::{CHECK_LEN, ID_LEN, MAX_KEY_LEN, MAX_LABEL_LEN, SECRET_LEN};
use portcullis::{KeyError, KeyFormat, Peppers, StoredHash};
use ring::hmac;

const DOC: &str = include_str!("../../../docs/key-format.md");

/// The value of a row `| field | `value` |` of the worked example (the first backquoted
/// text after the field).
fn example(field: &str) -> &'static str {
    let section = &DOC[DOC
        .find("## Worked example")
        .expect("worked example section")..];
    let prefix = format!("| {field} | ");
    let line = section
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no row {field:?} in the worked example"));
    let rest = &line[prefix.len()..];
    let start = rest.find('`').map_or(0, |i| i + 1);
    let len = rest[start..].find(['`', ' ']).unwrap_or(rest.len() - start);
    &rest[start..start + len]
}

/// The alphabet the document gives, in value order.
fn doc_alphabet() -> &'static str {
    let alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    assert!(
        DOC.contains(&format!("```\n{alphabet}\n```")),
        "the document states the alphabet"
    );
    alphabet
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

#[test]
fn the_documented_lengths_and_pattern_are_the_parsers() {
    assert_eq!(
        (ID_LEN, SECRET_LEN, CHECK_LEN, MAX_LABEL_LEN),
        (16, 28, 6, 8)
    );
    let table_rows = [
        "| `kind` | 1–8 |",
        "| `env` | 1–8 |",
        "| `id` | 16 |",
        "| `secret` | 28 |",
        "| `check` | 6 |",
    ];
    for row in table_rows {
        assert!(DOC.contains(row), "the grammar table has {row}");
    }
    let fixed = ID_LEN + 1 + SECRET_LEN + CHECK_LEN + 2;
    assert!(DOC.contains(&format!("`len(kind) + len(env) + {fixed}` characters")));
    assert!(DOC.contains(&format!("at most {MAX_KEY_LEN}")));
    assert!(DOC.contains(&format!(
        "the {} ASCII\n  bytes `{{id}}_{{secret}}`",
        ID_LEN + 1 + SECRET_LEN
    )));
    let label = format!("[a-z][a-z0-9]{{0,{}}}", MAX_LABEL_LEN - 1);
    let pattern = format!(
        "(?<![A-Za-z0-9_]){label}_{label}_[0-9A-Za-z]{{{ID_LEN}}}_[0-9A-Za-z]{{{}}}(?![A-Za-z0-9_])",
        SECRET_LEN + CHECK_LEN
    );
    assert_eq!(
        DOC.matches(pattern.as_str()).count(),
        2,
        "the pattern, in prose and in the Python snippet: {pattern}"
    );
}

#[test]
fn the_documented_crc_is_crc32_iso_hdlc() {
    assert!(DOC.contains("`CRC-32(\"123456789\") = 0xCBF43926`"));
    assert_eq!(crc32fast::hash(b"123456789"), 0xCBF4_3926);
}

#[test]
fn the_worked_example_parses_and_its_checksum_is_the_crc32_of_the_documented_input() {
    let key = example("key");
    let format = KeyFormat::new(["sk", "rk"], ["live", "test"]).expect("format");
    let parsed = format
        .parse(key.as_bytes())
        .expect("the example is a valid key");
    assert_eq!(parsed.kind(), example("kind"));
    assert_eq!(parsed.env(), example("env"));
    assert_eq!(parsed.id().as_str(), example("id"));
    assert_eq!(parsed.display().to_string(), example("display"));
    assert_eq!(
        format!(
            "{}_{}_{}_{}{}",
            example("kind"),
            example("env"),
            example("id"),
            example("secret"),
            example("check")
        ),
        key,
        "the parts make the key"
    );

    let input = example("checksum input");
    assert_eq!(format!("{input}{}", example("check")), key);
    let crc = crc32fast::hash(input.as_bytes());
    assert_eq!(format!("0x{crc:08X}"), example("CRC-32"));
    assert!(DOC.contains(&format!("`0x{crc:08X}` ({crc})")));

    // the documented alphabet and digit order decode the check to the CRC
    let alphabet = doc_alphabet();
    let digits: Vec<u64> = example("check")
        .chars()
        .map(|c| alphabet.find(c).expect("base62") as u64)
        .collect();
    let listed: Vec<u64> = DOC
        .lines()
        .find(|l| l.starts_with("| base62 digits | "))
        .expect("digits row")
        .trim_start_matches("| base62 digits | ")
        .trim_end_matches(" |")
        .split(", ")
        .map(|d| d.parse().expect("digit"))
        .collect();
    assert_eq!(digits, listed);
    assert_eq!(digits.iter().fold(0, |acc, d| acc * 62 + d), u64::from(crc));

    // one changed checksum character is refused offline
    let mut typo = key.as_bytes().to_vec();
    let last = typo.len() - 1;
    typo[last] = if typo[last] == b'A' { b'B' } else { b'A' };
    assert_eq!(format.parse(&typo).err(), Some(KeyError::Checksum));
}

#[test]
fn the_worked_examples_hashes_are_the_hmac_and_sha256_of_the_documented_bytes() {
    let key = example("key");
    let pepper = hex(example("pepper p1 (hex)"));
    let format = KeyFormat::new(["sk"], ["live"]).expect("format");
    let parsed = format.parse(key.as_bytes()).expect("key");

    let mac_input = example("HMAC input");
    assert_eq!(
        mac_input,
        format!("{}_{}", example("id"), example("secret"))
    );
    let tag = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, &pepper),
        mac_input.as_bytes(),
    );
    let expected = format!("hmac-sha256$p1${}", URL_SAFE_NO_PAD.encode(tag.as_ref()));
    assert_eq!(
        expected,
        example("stored hash"),
        "HMAC-SHA256 of the documented input"
    );
    let peppers = Peppers::new("p1", &pepper).expect("pepper");
    assert_eq!(
        StoredHash::compute(&peppers, &parsed).encode(),
        expected,
        "what portcullis stores"
    );

    let legacy = StoredHash::legacy_sha256(key).encode();
    assert_eq!(legacy, example("legacy hash"));
    let digest = ring::digest::digest(&ring::digest::SHA256, key.as_bytes());
    assert_eq!(
        legacy,
        format!("sha256${}", URL_SAFE_NO_PAD.encode(digest.as_ref()))
    );
    assert_eq!(
        legacy.len() - "sha256$".len(),
        43,
        "unpadded base64url of 32 bytes"
    );
}
