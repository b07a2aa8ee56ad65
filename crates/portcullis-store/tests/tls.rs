//! TLS to PostgreSQL (`src/tls.rs`) against a real server with TLS turned on: a certificate
//! chain made here (a test CA and a server certificate for 127.0.0.1).
//! - `sslmode=require` with the CA as `sslrootcert` connects, and the server sees TLS;
//! - the same without the CA (system roots) is refused with a typed error and the hint,
//!   as is a CA that did not sign the server's certificate;
//! - `prefer` with the CA uses TLS; `disable` connects in plaintext;
//! - a missing or empty `sslrootcert` is a bad URL.

mod common;

use common::pg::Pg;
use common::{NOW, checker, spec};
use portcullis::KeyLookup;
use portcullis_store::Store;

/// A CA and a server certificate it signed for 127.0.0.1: (CA PEM, chain PEM, key PEM).
fn chain() -> (String, String, String) {
    let ca_key = rcgen::KeyPair::generate().expect("CA key");
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "portcullis test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca, ca_key).expect("CA");
    let key = rcgen::KeyPair::generate().expect("server key");
    let server = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .expect("server params")
        .signed_by(&key, &ca)
        .expect("server certificate");
    (ca.pem(), server.pem(), key.serialize_pem())
}

/// Whether a connection of the store (application name `portcullis`) uses TLS, as the
/// server sees it.
fn server_sees_tls(pg: &Pg) -> bool {
    let mut admin =
        postgres::Client::connect(&pg.url("postgres"), postgres::NoTls).expect("admin connection");
    let row = admin
        .query_one(
            "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) \
             WHERE application_name = 'portcullis' AND ssl",
            &[],
        )
        .expect("pg_stat_ssl");
    row.get::<_, i64>(0) > 0
}

#[test]
fn tls_to_postgresql_is_verified_or_refused() {
    let Some(pg) = Pg::start() else { return };
    let (ca, server, key) = chain();
    pg.enable_tls(&server, &key);
    let dir = tempfile::tempdir().expect("tempdir");
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca).expect("CA file");
    let url = pg.database("tls");

    let verified = format!("{url}?sslmode=require&sslrootcert={}", ca_file.display());
    let store = Store::open(&verified).expect("TLS with the test CA");
    let issued = checker().issue(&spec("tls"), NOW).expect("issue");
    store
        .insert_key(&issued.record, NOW)
        .expect("insert over TLS");
    let id = issued.record.id();
    assert!(store.lookup(&id).expect("lookup").is_some());
    assert!(server_sees_tls(&pg), "the store's connection is not TLS");
    drop(store);

    // The system's roots do not know the test CA.
    let e = Store::open(&format!("{url}?sslmode=verify-full")).expect_err("unknown CA");
    assert_eq!(e.code(), "store_unreachable", "{}", e.message());
    assert!(e.message().contains("sslrootcert"), "{}", e.message());
    assert!(!e.message().contains(common::pg::PASSWORD));

    // Another CA did not sign the server's certificate.
    let (other_ca, _, _) = chain();
    let other = dir.path().join("other.pem");
    std::fs::write(&other, other_ca).expect("other CA");
    let e = Store::open(&format!(
        "{url}?sslmode=require&sslrootcert={}",
        other.display()
    ))
    .expect_err("wrong CA");
    assert_eq!(e.code(), "store_unreachable", "{}", e.message());

    // `prefer` takes the offered TLS; `disable` (the loopback default) does not.
    let prefer = format!("{url}?sslmode=prefer&sslrootcert={}", ca_file.display());
    let store = Store::open(&prefer).expect("prefer");
    assert!(store.lookup(&id).expect("lookup").is_some());
    assert!(server_sees_tls(&pg));
    drop(store);
    let store = Store::open(&url).expect("plaintext on loopback");
    assert!(store.lookup(&id).expect("lookup").is_some());
    drop(store);

    // A root file that is missing or holds no certificate is a bad URL.
    for bad in [dir.path().join("absent.pem"), dir.path().to_path_buf()] {
        let e = Store::open(&format!(
            "{url}?sslmode=require&sslrootcert={}",
            bad.display()
        ))
        .expect_err("bad root file");
        assert_eq!(e.code(), "store_bad_url", "{}", e.message());
    }
}
