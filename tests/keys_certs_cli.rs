//! `signaalnet keys setup` and `signaalnet certs dev`, run as the binary.
#![allow(clippy::unwrap_used)] // test fixtures

mod common;

use common::{mode, signaalnet};
use signaalnet_pseudonym::{
    CoordinatorContext, CoordinatorDecryptor, PartnerEncryptor, SystemPublicKeys, Transcryptor,
    TranscryptorKeys,
};

#[test]
fn the_key_ceremony_writes_working_keys_with_private_modes_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("keys");
    let (code, stdout, stderr) = signaalnet(&[
        "keys",
        "setup",
        "--transcryptors",
        "3",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("global secret key was discarded"));
    for i in 1..=3 {
        assert_eq!(mode(&out.join(format!("transcryptor-{i}.json"))), 0o600);
    }
    assert_eq!(mode(&out.join("coordinator-handle.key")), 0o600);

    // The files form a working ceremony: an identifier converted by all three decrypts.
    let system: SystemPublicKeys =
        serde_json::from_slice(&std::fs::read(out.join("system.json")).unwrap()).unwrap();
    assert_eq!(system.transcryptors(), 3);
    let transcryptors: Vec<Transcryptor> = (1..=3)
        .map(|i| {
            let keys: TranscryptorKeys = serde_json::from_slice(
                &std::fs::read(out.join(format!("transcryptor-{i}.json"))).unwrap(),
            )
            .unwrap();
            Transcryptor::new(&keys)
        })
        .collect();
    let context = CoordinatorContext::new("coordinator/test").unwrap();
    let shares: Vec<_> = transcryptors
        .iter()
        .map(|t| t.key_share(&context))
        .collect();
    let coordinator = CoordinatorDecryptor::from_shares(&system, &shares).unwrap();
    let key = signaalnet_identifier_key();
    let rng = &mut rand::rng();
    let converted = transcryptors.iter().fold(
        PartnerEncryptor::new(system).encrypt(&key, rng),
        |acc, t| t.convert_batch(&[acc], &context, rng)[0],
    );
    assert!(coordinator.decrypt(&converted).is_ok());

    // A second ceremony into the same directory is refused and changes nothing.
    let before = std::fs::read(out.join("system.json")).unwrap();
    let (code, _, stderr) = signaalnet(&["keys", "setup", "--out", out.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("already exists"), "{stderr}");
    assert_eq!(std::fs::read(out.join("system.json")).unwrap(), before);
}

fn signaalnet_identifier_key() -> signaalnet_identifier::MatchKey {
    signaalnet_identifier::Identifier::Bsn(signaalnet_identifier::Bsn::parse("111222333").unwrap())
        .match_keys()
        .remove(0)
}

#[test]
fn dev_certificates_carry_each_partners_oin() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) =
        signaalnet(&["certs", "dev", "--out", dir.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("not for production"));
    for (name, oin) in [
        ("gemeente_groningen", "00000099000000000014"),
        ("politie_noord_nederland", "00000099000000000021"),
        ("transcryptor_vng", "00000099000000000076"),
        ("coordinator_riec", "00000099000000000090"),
    ] {
        use rustls::pki_types::pem::PemObject;
        let der = rustls::pki_types::CertificateDer::from_pem_file(
            dir.path().join(format!("{name}.pem")),
        )
        .unwrap();
        assert_eq!(
            signaalnet_tls::oin_from_der(der.as_ref()).unwrap().as_str(),
            oin
        );
        assert_eq!(mode(&dir.path().join(format!("{name}.key"))), 0o600);
    }
}
