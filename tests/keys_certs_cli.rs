//! `signaalnet keys …` (the ceremony's per-party steps) and `signaalnet certs dev`, run as the
//! binary.
#![allow(clippy::unwrap_used)] // test fixtures

mod common;

use common::{mode, signaalnet};
use signaalnet_pseudonym::{
    convert_in_order, CoordinatorDecryptor, DomainCommitments, MatchDomain, Origin,
    PartnerEncryptor, SystemPublicKeys, Transcryptor, TranscryptorKeys,
};

/// The ceremony as separate parties' steps, each in its own directory (its own machine):
/// transcryptors generate their secrets where they run, the record travels in order, each
/// contribution proven; an out-of-order or tampered record is refused.
#[test]
fn the_ceremony_runs_as_separate_parties_steps_and_refuses_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    for party in ["convener", "t1", "t2", "t3", "anyone"] {
        std::fs::create_dir(dir.path().join(party)).unwrap();
    }
    let ok = |args: &[&str]| {
        let (code, stdout, stderr) = signaalnet(args);
        assert_eq!(code, 0, "{args:?}: {stderr}");
        stdout
    };
    let fails = |args: &[&str]| {
        let (code, _, stderr) = signaalnet(args);
        assert_ne!(code, 0, "{args:?} succeeded");
        stderr
    };
    ok(&[
        "keys",
        "open",
        "--context",
        "coordinator/test",
        "--transcryptors",
        "3",
        "--out",
        &path("convener/record-0.json"),
    ]);
    for i in 1..=3 {
        let out = ok(&[
            "keys",
            "generate",
            "--index",
            &i.to_string(),
            "--out",
            &path(&format!("t{i}/secrets.json")),
        ]);
        assert!(out.contains("keep it on this machine only"), "{out}");
        assert_eq!(mode(&dir.path().join(format!("t{i}/secrets.json"))), 0o600);
    }
    // Transcryptor 2 before transcryptor 1: refused, nothing written.
    let stderr = fails(&[
        "keys",
        "contribute",
        "--secrets",
        &path("t2/secrets.json"),
        "--record",
        &path("convener/record-0.json"),
        "--out",
        &path("t2/record-2.json"),
    ]);
    assert!(stderr.contains("it is transcryptor 1's turn"), "{stderr}");
    assert!(!dir.path().join("t2/record-2.json").exists());

    let out = ok(&[
        "keys",
        "contribute",
        "--secrets",
        &path("t1/secrets.json"),
        "--record",
        &path("convener/record-0.json"),
        "--out",
        &path("t1/record-1.json"),
    ]);
    assert!(
        out.contains("hand") && out.contains("to transcryptor 2"),
        "{out}"
    );
    // A record altered on its way to transcryptor 2 is refused, naming the contribution.
    let mut altered: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("t1/record-1.json")).unwrap())
            .unwrap();
    let other = altered["contributions"][0]["points"][1].clone();
    altered["contributions"][0]["points"][0] = other;
    std::fs::write(
        dir.path().join("t2/altered.json"),
        serde_json::to_vec(&altered).unwrap(),
    )
    .unwrap();
    let stderr = fails(&[
        "keys",
        "contribute",
        "--secrets",
        &path("t2/secrets.json"),
        "--record",
        &path("t2/altered.json"),
        "--out",
        &path("t2/record-2.json"),
    ]);
    assert!(
        stderr.contains("contribution of transcryptor 1 is refused"),
        "{stderr}"
    );

    ok(&[
        "keys",
        "contribute",
        "--secrets",
        &path("t2/secrets.json"),
        "--record",
        &path("t1/record-1.json"),
        "--out",
        &path("t2/record-2.json"),
    ]);
    let out = ok(&[
        "keys",
        "contribute",
        "--secrets",
        &path("t3/secrets.json"),
        "--record",
        &path("t2/record-2.json"),
        "--out",
        &path("t3/record-3.json"),
    ]);
    assert!(out.contains("keys finish"), "{out}");
    // Finishing an incomplete record is refused.
    let stderr = fails(&[
        "keys",
        "finish",
        "--record",
        &path("t2/record-2.json"),
        "--out",
        &path("anyone/early.json"),
    ]);
    assert!(stderr.contains("2 of 3 transcryptors"), "{stderr}");
    ok(&[
        "keys",
        "finish",
        "--record",
        &path("t3/record-3.json"),
        "--out",
        &path("anyone/system.json"),
    ]);
    let out = ok(&["keys", "verify", "--record", &path("anyone/system.json")]);
    assert!(out.contains("3 of 3 transcryptor(s) contributed"), "{out}");

    // The parties' files form a working chain: an identifier converted by all three, in order,
    // verifies and decrypts at the coordinator.
    let system: SystemPublicKeys =
        serde_json::from_slice(&std::fs::read(dir.path().join("anyone/system.json")).unwrap())
            .unwrap();
    assert_eq!(system.transcryptors(), 3);
    let transcryptors: Vec<Transcryptor> = (1..=3)
        .map(|i| {
            let keys: TranscryptorKeys = serde_json::from_slice(
                &std::fs::read(dir.path().join(format!("t{i}/secrets.json"))).unwrap(),
            )
            .unwrap();
            Transcryptor::new(&keys, &system).unwrap()
        })
        .collect();
    let rng = &mut rand::rng();
    let shares: Vec<_> = transcryptors
        .iter()
        .map(|t| t.key_share(rng).unwrap())
        .collect();
    let coordinator = CoordinatorDecryptor::from_shares(&system, &shares).unwrap();
    let key = signaalnet_identifier_key();
    let domain = MatchDomain::new("signalering_drieluik", key.kind()).unwrap();
    let origin = Origin {
        partner: "gemeente_groningen",
        purpose: "signalering_drieluik",
        kind: key.kind(),
    };
    let original = PartnerEncryptor::new(system.clone())
        .encrypt(&key, &origin, rng)
        .0;
    let proofs: Vec<_> = convert_in_order(&transcryptors, &original, &domain)
        .unwrap()
        .into_iter()
        .map(|c| c.proof)
        .collect();
    let commitments = DomainCommitments::published_by(&transcryptors, &domain);
    assert!(coordinator
        .verify_and_decrypt(&original, &proofs, &commitments)
        .is_ok());

    // Nothing the ceremony wrote outside the transcryptors' own secret files decrypts a
    // partner ciphertext: no 32-byte value in any of them is the global secret key.
    use libpep::data::elgamal::ElGamalEncrypted;
    use libpep::data::simple::ElGamalEncryptable;
    let origin = signaalnet_pseudonym::origin_pseudonym(&key);
    let wire = original.to_bytes();
    let ciphertext: libpep::data::simple::EncryptedPseudonym =
        libpep::data::simple::EncryptedPseudonym::from_slice(&wire[..64]).unwrap();
    let mut tried = 0;
    for file in [
        "convener/record-0.json",
        "t1/record-1.json",
        "t2/record-2.json",
        "t3/record-3.json",
        "anyone/system.json",
    ] {
        let text = std::fs::read_to_string(dir.path().join(file)).unwrap();
        for candidate in hex_and_base64_scalars(&text) {
            tried += 1;
            let m: libpep::elgamal::arithmetic::group_elements::GroupElement =
                libpep::elgamal::decrypt(ciphertext.value(), &candidate);
            assert_ne!(
                m.to_bytes(),
                origin.to_bytes(),
                "{file} holds the global secret key"
            );
        }
    }
    assert!(
        tried > 20,
        "the scan found the values it should try ({tried})"
    );

    // Nothing is overwritten.
    let before = std::fs::read(dir.path().join("anyone/system.json")).unwrap();
    let stderr = fails(&[
        "keys",
        "finish",
        "--record",
        &path("t3/record-3.json"),
        "--out",
        &path("anyone/system.json"),
    ]);
    assert!(stderr.contains("already exists"), "{stderr}");
    assert_eq!(
        std::fs::read(dir.path().join("anyone/system.json")).unwrap(),
        before
    );
}

/// Every 32-byte value in a text (hex strings, and each 32-byte chunk of base64 strings' bytes)
/// read as a scalar (reduced modulo the group order, so none is skipped).
fn hex_and_base64_scalars(text: &str) -> Vec<libpep::elgamal::arithmetic::scalars::ScalarNonZero> {
    use base64::Engine;
    let mut out = Vec::new();
    for token in text.split('"').filter(|t| t.len() >= 43) {
        let mut blobs = Vec::new();
        if let Ok(bytes) = hex::decode(token) {
            blobs.push(bytes);
        }
        if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(token) {
            blobs.push(bytes);
        }
        for blob in blobs {
            for chunk in blob.chunks(32).filter(|c| c.len() == 32) {
                let mut wide = [0u8; 64];
                wide[..32].copy_from_slice(chunk);
                out.push(libpep::elgamal::arithmetic::scalars::ScalarNonZero::from_hash(&wide));
            }
        }
    }
    out
}

#[test]
fn the_development_setup_writes_working_keys_with_private_modes_and_never_overwrites() {
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
    assert!(
        stdout.contains("every party's step on this machine"),
        "{stdout}"
    );
    for i in 1..=3 {
        assert_eq!(mode(&out.join(format!("transcryptor-{i}.json"))), 0o600);
    }
    assert_eq!(mode(&out.join("coordinator-handle.key")), 0o600);
    let system: SystemPublicKeys =
        serde_json::from_slice(&std::fs::read(out.join("system.json")).unwrap()).unwrap();
    assert_eq!(system.transcryptors(), 3);

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

/// `certs dev` into a directory that already holds a PKI refuses, changing nothing, unless
/// `--force`; then the CA is new.
#[test]
fn dev_certificates_are_not_replaced_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let (code, _, stderr) = signaalnet(&["certs", "dev", "--out", out]);
    assert_eq!(code, 0, "{stderr}");
    let read = |name: &str| std::fs::read(dir.path().join(name)).unwrap();
    let (ca, ca_key, node) = (
        read("ca.pem"),
        read("ca.key"),
        read("gemeente_groningen.pem"),
    );

    let (code, stdout, stderr) = signaalnet(&["certs", "dev", "--out", out]);
    assert_ne!(code, 0, "a second `certs dev` succeeded: {stdout}");
    assert!(
        stderr.contains("already holds a PKI")
            && stderr.contains("ca.pem")
            && stderr.contains("--force"),
        "{stderr}"
    );
    assert_eq!(read("ca.pem"), ca, "the CA was replaced");
    assert_eq!(read("ca.key"), ca_key);
    assert_eq!(read("gemeente_groningen.pem"), node);

    // One organisation's certificate alone is enough to refuse.
    let partial = tempfile::tempdir().unwrap();
    std::fs::write(partial.path().join("politie_noord_nederland.key"), "kept").unwrap();
    let (code, _, stderr) =
        signaalnet(&["certs", "dev", "--out", partial.path().to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(stderr.contains("politie_noord_nederland.key"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(partial.path().join("politie_noord_nederland.key")).unwrap(),
        "kept"
    );

    let (code, _, stderr) = signaalnet(&["certs", "dev", "--out", out, "--force"]);
    assert_eq!(code, 0, "{stderr}");
    assert_ne!(read("ca.pem"), ca, "--force did not make a new CA");
    assert_ne!(read("gemeente_groningen.pem"), node);
}
