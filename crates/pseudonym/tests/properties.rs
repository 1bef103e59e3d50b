//! The properties the pseudonymisation scheme promises (docs/DESIGN.md §4, docs/THREAT_MODEL.md), not
//! just round trips.
#![allow(clippy::unwrap_used)] // test helpers panic on fixture errors

use libpep::data::elgamal::ElGamalEncrypted;
use libpep::data::simple::ElGamalEncryptable;
use libpep::elgamal::arithmetic::group_elements::{GroupElement, G};
use libpep::elgamal::arithmetic::scalars::ScalarNonZero;
use signaalnet_identifier::{Bsn, Identifier, IdentifierKind, MatchKey, Phone};
use signaalnet_pseudonym::{
    answer_matches_proof, origin_pseudonym, Ceremony, ConversionProof, CoordinatorContext,
    CoordinatorDecryptor, EncryptedIdentifier, HandleKey, KeyShare, LocalChain, MatchDomain,
    MatchingPseudonym, Origin, OriginProof, PartnerEncryptor, PseudonymError, SystemPublicKeys,
    Transcryptor, TranscryptorKeys,
};

/// Where the library tests say a ciphertext comes from; the origin proof is tested on its own.
const ORIGIN: Origin<'static> = Origin {
    partner: "gemeente_test",
    purpose: "signalering",
    kind: IdentifierKind::Bsn,
};

fn context() -> CoordinatorContext {
    CoordinatorContext::new("coordinator/test-region").unwrap()
}

fn chain(n: usize) -> LocalChain {
    LocalChain::new(&context(), n, &mut rand::rng()).unwrap()
}

fn domain(purpose: &str, kind: IdentifierKind) -> MatchDomain {
    MatchDomain::new(purpose, kind).unwrap()
}

/// What the tests ask of a chain beyond the library's.
trait Chain {
    fn proofs(&self, item: EncryptedIdentifier, d: &MatchDomain) -> Vec<ConversionProof>;
    fn matching_in(
        &self,
        partner: &PartnerEncryptor,
        key: &MatchKey,
        d: &MatchDomain,
    ) -> MatchingPseudonym;
    fn matching(&self, partner: &PartnerEncryptor, key: &MatchKey) -> MatchingPseudonym;
}

impl Chain for LocalChain {
    /// Every transcryptor in order; returns the proofs.
    fn proofs(&self, item: EncryptedIdentifier, d: &MatchDomain) -> Vec<ConversionProof> {
        self.convert(&item, d)
            .unwrap()
            .into_iter()
            .map(|c| c.proof)
            .collect()
    }

    fn matching_in(
        &self,
        partner: &PartnerEncryptor,
        key: &MatchKey,
        d: &MatchDomain,
    ) -> MatchingPseudonym {
        let encrypted = partner.encrypt(key, &ORIGIN, &mut rand::rng()).0;
        let proofs = self.proofs(encrypted, d);
        self.coordinator
            .verify_and_decrypt(&encrypted, &proofs, &self.commitments(d))
            .unwrap()
    }

    fn matching(&self, partner: &PartnerEncryptor, key: &MatchKey) -> MatchingPseudonym {
        self.matching_in(partner, key, &domain("signalering", key.kind()))
    }
}

fn bsn(raw: &str) -> MatchKey {
    Identifier::Bsn(Bsn::parse(raw).unwrap())
        .match_keys()
        .remove(0)
}

fn phone(raw: &str) -> MatchKey {
    Identifier::Phone(Phone::parse(raw).unwrap())
        .match_keys()
        .remove(0)
}

#[test]
fn the_same_identifier_from_two_partners_gives_the_same_matching_pseudonym() {
    for n in 1..=3 {
        let chain = chain(n);
        let gemeente = PartnerEncryptor::new(chain.system.clone());
        let politie = PartnerEncryptor::new(chain.system.clone());
        for key in [bsn("111222333"), phone("06 12345678")] {
            assert_eq!(
                chain.matching(&gemeente, &key),
                chain.matching(&politie, &key),
                "{n} transcryptor(s)"
            );
        }
        assert_ne!(
            chain.matching(&gemeente, &bsn("111222333")),
            chain.matching(&gemeente, &bsn("123456782"))
        );
    }
}

#[test]
fn one_identifier_in_two_purposes_gives_unlinkable_pseudonyms() {
    let chain = chain(2);
    let partner = PartnerEncryptor::new(chain.system.clone());
    let key = bsn("111222333");
    let drieluik = chain.matching_in(&partner, &key, &domain("signalering_drieluik", key.kind()));
    let riec = chain.matching_in(
        &partner,
        &key,
        &domain("riec_integrale_analyse", key.kind()),
    );
    assert_ne!(drieluik, riec);
    // Equal within each purpose, whoever sends it.
    let again = chain.matching_in(
        &PartnerEncryptor::new(chain.system.clone()),
        &key,
        &domain("signalering_drieluik", key.kind()),
    );
    assert_eq!(drieluik, again);
    // Declared as another kind, it lands in that kind's domain: not the pseudonym of its own.
    let as_phone = chain.matching_in(
        &partner,
        &key,
        &domain("signalering_drieluik", IdentifierKind::Phone),
    );
    assert_ne!(as_phone, drieluik);
}

/// The pseudonym oracle of issue 13, run against the library: with a caller-chosen key `2G` the
/// transcryptor would rerandomise under it and return `k·2G`; each step accepts only its own key.
#[test]
fn a_caller_chosen_key_is_refused_at_every_step() {
    let chain = chain(2);
    let d = domain("signalering", IdentifierKind::Bsn);
    let m = GroupElement::random(&mut rand::rng());
    let two_g = G + G;
    let mut wire = [0u8; 96];
    wire[..32].copy_from_slice(&m.to_bytes());
    wire[32..64].copy_from_slice(&m.to_bytes());
    wire[64..].copy_from_slice(&two_g.to_bytes());
    let crafted = EncryptedIdentifier::from_bytes(&wire).unwrap();
    for t in &chain.transcryptors {
        let err = t.convert(&crafted, &t.factors(&d)).unwrap_err();
        assert_eq!(err, PseudonymError::WrongStepKey { step: t.index() });
    }
    // The key of the generator itself, the identity and every step's key at the wrong step.
    for (i, t) in chain.transcryptors.iter().enumerate() {
        for step in 1..=chain.transcryptors.len() + 1 {
            if step == i + 1 {
                continue;
            }
            wire[64..].copy_from_slice(&chain.system.step_key(step).unwrap().to_bytes());
            let wrong = EncryptedIdentifier::from_bytes(&wire).unwrap();
            assert!(t.convert(&wrong, &t.factors(&d)).is_err());
        }
    }
    wire[64..].copy_from_slice(&G.to_bytes());
    let generator = EncryptedIdentifier::from_bytes(&wire).unwrap();
    assert!(chain.transcryptors[0]
        .convert(&generator, &chain.transcryptors[0].factors(&d))
        .is_err());
}

/// With the right key a partner can still encrypt any point it likes, through the whole chain:
/// it gets a valid encryption of that point's pseudonym, which only the coordinator can open,
/// exactly as for an identifier it submits. The identity point, the same in every domain, is
/// refused at the coordinator; repeated items are each rerandomised.
#[test]
fn chosen_points_under_the_right_key_give_nothing_but_a_submission() {
    let chain = chain(2);
    let d = domain("signalering", IdentifierKind::Bsn);
    let commitments = chain.commitments(&d);
    let rng = &mut rand::rng();
    let global = chain.system.step_key(1).unwrap().to_bytes();
    let y = GroupElement::from_slice(&global).unwrap();
    let encrypt_point = |m: GroupElement, rng: &mut rand::rngs::ThreadRng| {
        let c: libpep::elgamal::ElGamal = libpep::elgamal::encrypt(&m, &y, rng);
        let mut wire = Vec::with_capacity(96);
        wire.extend_from_slice(&c.gb.to_bytes());
        wire.extend_from_slice(&c.gc.to_bytes());
        wire.extend_from_slice(&global);
        EncryptedIdentifier::from_bytes(&wire).unwrap()
    };
    let identity = encrypt_point(GroupElement::identity(), rng);
    let proofs = chain.proofs(identity, &d);
    assert!(matches!(
        chain
            .coordinator
            .verify_and_decrypt(&identity, &proofs, &commitments),
        Err(PseudonymError::Malformed {
            field: "ciphertext",
            ..
        })
    ));
    // A random point: a pseudonym like any other, and the same one as the partner's honest
    // encryption of the same point would give.
    let m = GroupElement::random(rng);
    let a = encrypt_point(m, rng);
    let b = encrypt_point(m, rng);
    let pa = chain
        .coordinator
        .verify_and_decrypt(&a, &chain.proofs(a, &d), &commitments)
        .unwrap();
    let pb = chain
        .coordinator
        .verify_and_decrypt(&b, &chain.proofs(b, &d), &commitments)
        .unwrap();
    assert_eq!(pa, pb);
    assert_ne!(pa.as_bytes(), &m.to_bytes());
    // The same item twice: the same output (the randomness derives from the input, keyed), so a
    // repeat carries nothing new; another domain or another encryption of the same point gives
    // an output unlike it.
    let t = &chain.transcryptors[0];
    let once = t.convert(&a, &t.factors(&d)).unwrap();
    let again = t.convert(&a, &t.factors(&d)).unwrap();
    assert_eq!(once.ciphertext.to_bytes(), again.ciphertext.to_bytes());
    assert_eq!(once.proof.to_bytes(), again.proof.to_bytes());
    let elsewhere = domain("riec", IdentifierKind::Bsn);
    let other_domain = t.convert(&a, &t.factors(&elsewhere)).unwrap();
    assert_ne!(
        once.ciphertext.to_bytes(),
        other_domain.ciphertext.to_bytes()
    );
    let of_b = t.convert(&b, &t.factors(&d)).unwrap();
    assert_ne!(once.ciphertext.to_bytes(), of_b.ciphertext.to_bytes());
    assert_ne!(a.to_bytes()[..64], once.ciphertext.to_bytes()[..64]);
}

#[test]
fn skipping_or_repeating_a_transcryptor_is_refused_by_the_coordinator() {
    let chain = chain(3);
    let partner = PartnerEncryptor::new(chain.system.clone());
    let d = domain("signalering", IdentifierKind::Bsn);
    let commitments = chain.commitments(&d);
    let rng = &mut rand::rng();
    let original = partner.encrypt(&bsn("111222333"), &ORIGIN, rng).0;
    let proofs = chain.proofs(original, &d);
    // Too few proofs.
    assert_eq!(
        chain
            .coordinator
            .verify_and_decrypt(&original, &proofs[..2], &commitments)
            .unwrap_err(),
        PseudonymError::WrongProofCount {
            expected: 3,
            got: 2
        }
    );
    // Proofs in another order, or one repeated: the first step that does not follow is named.
    let swapped = vec![proofs[1], proofs[0], proofs[2]];
    assert_eq!(
        chain
            .coordinator
            .verify_and_decrypt(&original, &swapped, &commitments)
            .unwrap_err(),
        PseudonymError::ConversionInvalid { step: 1 }
    );
    let repeated = vec![proofs[0], proofs[0], proofs[2]];
    assert_eq!(
        chain
            .coordinator
            .verify_and_decrypt(&original, &repeated, &commitments)
            .unwrap_err(),
        PseudonymError::ConversionInvalid { step: 2 }
    );
}

#[test]
fn a_cheating_transcryptor_is_caught_and_named() {
    let chain = chain(2);
    let partner = PartnerEncryptor::new(chain.system.clone());
    let d = domain("signalering", IdentifierKind::Bsn);
    let commitments = chain.commitments(&d);
    let rng = &mut rand::rng();
    let a = partner.encrypt(&bsn("111222333"), &ORIGIN, rng).0;
    let b = partner.encrypt(&bsn("123456782"), &ORIGIN, rng).0;
    let pa = chain.proofs(a, &d);
    let pb = chain.proofs(b, &d);
    // Swapping outputs between two ciphertexts at step 2.
    let swapped = vec![pa[0], pb[1]];
    assert_eq!(
        chain
            .coordinator
            .verify_and_decrypt(&a, &swapped, &commitments)
            .unwrap_err(),
        PseudonymError::ConversionInvalid { step: 2 }
    );
    // Converting into another purpose's domain while claiming this one.
    let other = domain("riec_integrale_analyse", IdentifierKind::Bsn);
    let wrong_domain = chain.proofs(a, &other);
    assert_eq!(
        chain
            .coordinator
            .verify_and_decrypt(&a, &wrong_domain, &commitments)
            .unwrap_err(),
        PseudonymError::ConversionInvalid { step: 1 }
    );
    // A transcryptor with other secrets than it committed to cannot even start.
    let stranger = TranscryptorKeys::generate(2, rng);
    assert_eq!(
        Transcryptor::new(&stranger, &chain.system).unwrap_err(),
        PseudonymError::NotInCeremony { index: 2 }
    );
    // A flipped byte in a proof.
    let mut bytes = pa[1].to_bytes();
    let pos = bytes.len() / 2;
    bytes[pos] = if bytes[pos] == b'A' { b'B' } else { b'A' };
    if let Ok(tampered) = ConversionProof::from_bytes(&bytes) {
        assert!(chain
            .coordinator
            .verify_and_decrypt(&a, &[pa[0], tampered], &commitments)
            .is_err());
    }
}

#[test]
fn a_wrong_key_share_is_refused_naming_its_transcryptor() {
    let chain = chain(2);
    let rng = &mut rand::rng();
    // Transcryptor 2 of another ceremony hands a share with a valid-looking proof.
    let (other_system, other_keys) = Ceremony::run_locally(&context(), 2, rng).unwrap();
    let other = Transcryptor::new(&other_keys[1], &other_system).unwrap();
    let shares = vec![
        chain.transcryptors[0].key_share(rng).unwrap(),
        other.key_share(rng).unwrap(),
    ];
    assert_eq!(
        CoordinatorDecryptor::from_shares(&chain.system, &shares).unwrap_err(),
        PseudonymError::KeyShareInvalid { index: 2 }
    );
    assert_eq!(
        CoordinatorDecryptor::from_shares(&chain.system, &shares[..1]).unwrap_err(),
        PseudonymError::WrongShareCount {
            expected: 2,
            got: 1
        }
    );
}

/// What a single party holds never decrypts a partner ciphertext; all blinding factors together
/// would (which is what the test would catch if one party ever held them all).
#[test]
fn no_single_party_holds_the_global_secret_key() {
    let chain = chain(3);
    let partner = PartnerEncryptor::new(chain.system.clone());
    let key = bsn("111222333");
    let origin = origin_pseudonym(&key);
    let ciphertext = partner.encrypt(&key, &ORIGIN, &mut rand::rng()).0;
    let decrypts_with = |secret: ScalarNonZero| {
        let wire = ciphertext.to_bytes();
        let c: libpep::data::simple::EncryptedPseudonym =
            libpep::data::simple::EncryptedPseudonym::from_slice(&wire[..64]).unwrap();
        let m: GroupElement = libpep::elgamal::decrypt(c.value(), &secret);
        m.to_bytes() == origin.to_bytes()
    };
    let blinding = |k: &TranscryptorKeys| -> ScalarNonZero {
        let v: serde_json::Value = serde_json::to_value(k).unwrap();
        ScalarNonZero::from_hex(v["blinding_factor"].as_str().unwrap()).unwrap()
    };
    let factors: Vec<ScalarNonZero> = chain.keys.iter().map(blinding).collect();
    for (i, f) in factors.iter().enumerate() {
        assert!(!decrypts_with(*f), "transcryptor {}'s own factor", i + 1);
        let all_but: ScalarNonZero = factors
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .fold(ScalarNonZero::one(), |acc, (_, f)| acc * *f);
        assert!(!decrypts_with(all_but), "all but transcryptor {}", i + 1);
    }
    let all = factors.iter().fold(ScalarNonZero::one(), |acc, f| acc * *f);
    assert!(decrypts_with(all), "the product of all factors is the key");
    // The public record holds no scalar at all.
    let record = serde_json::to_string(&chain.system).unwrap();
    for k in &chain.keys {
        let v: serde_json::Value = serde_json::to_value(k).unwrap();
        assert!(!record.contains(v["blinding_factor"].as_str().unwrap()));
    }
}

#[test]
fn the_ceremony_refuses_a_turn_out_of_order_and_a_tampered_record() {
    let rng = &mut rand::rng();
    let keys: Vec<TranscryptorKeys> = (1..=3)
        .map(|i| TranscryptorKeys::generate(i, rng))
        .collect();
    let mut ceremony = Ceremony::open(&context(), 3).unwrap();
    assert_eq!(
        ceremony.contribute(&keys[1], rng).unwrap_err(),
        PseudonymError::CeremonyTurn {
            expected: 1,
            got: 2,
            of: 3
        }
    );
    ceremony.contribute(&keys[0], rng).unwrap();
    assert_eq!(
        ceremony.contribute(&keys[0], rng).unwrap_err(),
        PseudonymError::CeremonyTurn {
            expected: 2,
            got: 1,
            of: 3
        }
    );
    assert_eq!(
        ceremony.finish().unwrap_err(),
        PseudonymError::CeremonyIncomplete {
            contributed: 1,
            of: 3
        }
    );
    ceremony.contribute(&keys[1], rng).unwrap();

    // Transcryptor 2's point replaced by a point it cannot prove.
    let mut json: serde_json::Value = serde_json::to_value(&ceremony).unwrap();
    let forged = GroupElement::random(rng);
    let forged_proof = libpep::elgamal::zkps::create_proof::<
        libpep::elgamal::arithmetic::Ristretto255Sha512,
        _,
    >(&ScalarNonZero::random(rng), &forged, rng)
    .1;
    json["contributions"][1]["points"][0] = serde_json::to_value(forged_proof).unwrap();
    let tampered: Ceremony = serde_json::from_value(json).unwrap();
    assert_eq!(
        tampered.verify().unwrap_err(),
        PseudonymError::Ceremony {
            transcryptor: 2,
            problem: "a point proof does not verify"
        }
    );
    let mut tampered = tampered;
    assert!(tampered.contribute(&keys[2], rng).is_err());

    ceremony.contribute(&keys[2], rng).unwrap();
    let system = ceremony.finish().unwrap();
    let json = serde_json::to_string(&system).unwrap();
    let back: SystemPublicKeys = serde_json::from_str(&json).unwrap();
    assert_eq!(back, system);
    // A record cut short is refused when loaded as system keys.
    let mut cut: serde_json::Value = serde_json::from_str(&json).unwrap();
    cut["contributions"].as_array_mut().unwrap().pop();
    assert!(serde_json::from_value::<SystemPublicKeys>(cut).is_err());
}

#[test]
fn handles_are_stable_per_purpose_and_differ_between_purposes() {
    let chain = chain(1);
    let partner = PartnerEncryptor::new(chain.system.clone());
    let p = chain.matching(&partner, &bsn("111222333"));
    let key = HandleKey::new(&[7u8; 32]).unwrap();
    let drieluik = key.handle("signalering_drieluik", IdentifierKind::Bsn, &p);
    let riec = key.handle("riec_integrale_analyse", IdentifierKind::Bsn, &p);
    assert_eq!(
        drieluik,
        key.handle("signalering_drieluik", IdentifierKind::Bsn, &p)
    );
    assert_ne!(drieluik, riec);
    assert!(!riec.as_str().contains(&hex::encode(&p.as_bytes()[..8])));
    assert!(HandleKey::new(&[0u8; 16]).is_err());
}

#[test]
fn key_material_round_trips_and_prints_redacted() {
    let chain = chain(2);
    let rng = &mut rand::rng();
    let secret_json = serde_json::to_string(&chain.keys[1]).unwrap();
    let back: TranscryptorKeys = serde_json::from_str(&secret_json).unwrap();
    assert_eq!(back.index(), 2);
    let secret_hex: serde_json::Value = serde_json::from_str(&secret_json).unwrap();
    let secret = secret_hex["rekeying_secret"].as_str().unwrap();
    assert!(!format!("{:?}", chain.keys[1]).contains(secret));
    // A transcryptor restored from its file is accepted by the record and converts alike.
    let restored = Transcryptor::new(&back, &chain.system).unwrap();
    let d = domain("signalering", IdentifierKind::Bsn);
    assert_eq!(
        restored.reshuffle_commitment(&d),
        chain.transcryptors[1].reshuffle_commitment(&d)
    );
    let share = restored.key_share(rng).unwrap();
    assert_eq!(
        KeyShare::from_bytes(&share.share_bytes(), &share.proof_bytes()).unwrap(),
        share
    );

    let mut broken: serde_json::Value = serde_json::from_str(&secret_json).unwrap();
    broken["blinding_factor"] = "zz".into();
    let err = serde_json::from_value::<TranscryptorKeys>(broken).unwrap_err();
    assert!(err.to_string().contains("blinding_factor"), "{err}");
}

#[test]
fn wire_bytes_round_trip_and_malformed_bytes_are_refused() {
    let chain = chain(1);
    let partner = PartnerEncryptor::new(chain.system.clone());
    let c = partner
        .encrypt(&bsn("111222333"), &ORIGIN, &mut rand::rng())
        .0;
    assert_eq!(EncryptedIdentifier::from_bytes(&c.to_bytes()).unwrap(), c);
    assert!(EncryptedIdentifier::from_bytes(&[0u8; 95]).is_err());
    assert!(EncryptedIdentifier::from_bytes(&[0xffu8; 96]).is_err());
    assert!(KeyShare::from_bytes(&[0xffu8; 32], b"{}").is_err());
    assert!(ConversionProof::from_bytes(&[b'x'; 4096]).is_err());
    assert!(ConversionProof::from_bytes(b"{}").is_err());
    assert!(CoordinatorContext::new("").is_err());
    assert!(CoordinatorContext::new("region noord").is_err());
    assert!(MatchDomain::new("a/b", IdentifierKind::Bsn).is_err());
}

#[test]
fn a_conversion_proof_is_well_below_its_bound() {
    let chain = chain(1);
    let partner = PartnerEncryptor::new(chain.system.clone());
    let d = domain("signalering", IdentifierKind::Bsn);
    let proofs = chain.proofs(
        partner
            .encrypt(&bsn("111222333"), &ORIGIN, &mut rand::rng())
            .0,
        &d,
    );
    let len = proofs[0].to_bytes().len();
    println!("conversion proof: {len} bytes");
    assert!(len <= ConversionProof::MAX_LEN, "{len} bytes");
}

/// The origin proof binds a ciphertext to the partner that made it, its purpose and its kind; a
/// rerandomised copy (the same plaintext, randomness unknown to whoever copied it) has none.
#[test]
fn an_origin_proof_holds_only_for_its_maker_purpose_kind_and_ciphertext() {
    let chain = chain(1);
    let partner = PartnerEncryptor::new(chain.system.clone());
    let rng = &mut rand::rng();
    let made = Origin {
        partner: "gemeente_groningen",
        purpose: "signalering_drieluik",
        kind: IdentifierKind::Bsn,
    };
    let (c, proof) = partner.encrypt(&bsn("111222333"), &made, rng);
    assert_eq!(made.verify(&c, &proof), Ok(()));
    for other in [
        Origin {
            partner: "nla",
            ..made
        },
        Origin {
            purpose: "riec_integrale_analyse",
            ..made
        },
        Origin {
            kind: IdentifierKind::Phone,
            ..made
        },
    ] {
        assert_eq!(other.verify(&c, &proof), Err(PseudonymError::OriginInvalid));
    }
    let wire = c.to_bytes();
    let point = |b: &[u8]| GroupElement::from_slice(b).unwrap();
    let t = ScalarNonZero::random(rng);
    let mut copy = wire;
    copy[..32].copy_from_slice(&(point(&wire[..32]) + t * G).to_bytes());
    copy[32..64].copy_from_slice(&(point(&wire[32..64]) + t * point(&wire[64..])).to_bytes());
    let copy = EncryptedIdentifier::from_bytes(&copy).unwrap();
    assert_eq!(
        made.verify(&copy, &proof),
        Err(PseudonymError::OriginInvalid)
    );
    assert_eq!(OriginProof::from_bytes(&proof.to_bytes()).unwrap(), proof);
    assert!(OriginProof::from_bytes(&[0u8; 127]).is_err());
    assert!(OriginProof::from_bytes(&[0xffu8; 128]).is_err());
}

/// The node passes on a step's answer only if it is the ciphertext that step's proof converts to.
#[test]
fn an_answer_matches_its_proof_and_nothing_else() {
    let chain = chain(2);
    let partner = PartnerEncryptor::new(chain.system.clone());
    let d = domain("signalering", IdentifierKind::Bsn);
    let rng = &mut rand::rng();
    let item = partner.encrypt(&bsn("111222333"), &ORIGIN, rng).0;
    let t = &chain.transcryptors[0];
    let one = t.convert(&item, &t.factors(&d)).unwrap();
    let another = partner.encrypt(&bsn("111222333"), &ORIGIN, rng).0;
    let other = t.convert(&another, &t.factors(&d)).unwrap();
    let proof = one.proof.to_bytes();
    assert!(answer_matches_proof(&one.ciphertext.to_bytes(), &proof));
    assert!(!answer_matches_proof(&other.ciphertext.to_bytes(), &proof));
    assert!(!answer_matches_proof(&[0u8; 96], &proof));
    assert!(!answer_matches_proof(&one.ciphertext.to_bytes(), b"{}"));
}
