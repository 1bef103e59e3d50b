//! The properties the pseudonymisation scheme promises (DESIGN.md §4), not just round trips.
#![allow(clippy::unwrap_used)] // test helpers panic on fixture errors

use signaalnet_identifier::{Bsn, Identifier, MatchKey, Phone};
use signaalnet_pseudonym::{
    key_ceremony, origin_pseudonym, CoordinatorContext, CoordinatorDecryptor, EncryptedIdentifier,
    HandleKey, KeyShare, MatchingPseudonym, PartnerEncryptor, PseudonymError, SystemPublicKeys,
    Transcryptor, TranscryptorKeys,
};

struct Chain {
    system: SystemPublicKeys,
    transcryptors: Vec<Transcryptor>,
    context: CoordinatorContext,
    coordinator: CoordinatorDecryptor,
}

fn chain(n: usize) -> Chain {
    let rng = &mut rand::rng();
    let (system, keys) = key_ceremony(n, rng).unwrap();
    let transcryptors: Vec<Transcryptor> = keys.iter().map(Transcryptor::new).collect();
    let context = CoordinatorContext::new("coordinator/test-region").unwrap();
    let shares: Vec<KeyShare> = transcryptors
        .iter()
        .map(|t| t.key_share(&context))
        .collect();
    let coordinator = CoordinatorDecryptor::from_shares(&system, &shares).unwrap();
    Chain {
        system,
        transcryptors,
        context,
        coordinator,
    }
}

impl Chain {
    /// Runs a ciphertext through the transcryptors at `order` (indices), one each.
    fn convert(&self, item: EncryptedIdentifier, order: &[usize]) -> EncryptedIdentifier {
        let rng = &mut rand::rng();
        order.iter().fold(item, |acc, &i| {
            self.transcryptors[i].convert_batch(&[acc], &self.context, rng)[0]
        })
    }

    fn all(&self) -> Vec<usize> {
        (0..self.transcryptors.len()).collect()
    }

    fn matching(&self, partner: &PartnerEncryptor, key: &MatchKey) -> MatchingPseudonym {
        let encrypted = partner.encrypt(key, &mut rand::rng());
        self.coordinator
            .decrypt(&self.convert(encrypted, &self.all()))
            .unwrap()
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
    let chain = chain(3);
    let gemeente = PartnerEncryptor::new(chain.system);
    let politie = PartnerEncryptor::new(chain.system);
    let rng = &mut rand::rng();

    // Spelled differently at each partner, equal after normalisation.
    let a = phone("06-12345678");
    let b = phone("+31 (0)6 1234 5678");
    let ca = gemeente.encrypt(&a, rng);
    let cb = politie.encrypt(&b, rng);
    assert_ne!(
        ca.to_bytes(),
        cb.to_bytes(),
        "encryption must be randomised"
    );

    // The transcryptors may be visited in any order.
    let pa = chain
        .coordinator
        .decrypt(&chain.convert(ca, &[0, 1, 2]))
        .unwrap();
    let pb = chain
        .coordinator
        .decrypt(&chain.convert(cb, &[2, 0, 1]))
        .unwrap();
    assert_eq!(pa, pb);
}

#[test]
fn different_identifiers_give_different_matching_pseudonyms() {
    let chain = chain(2);
    let partner = PartnerEncryptor::new(chain.system);
    let values = [
        "111222333",
        "123456782",
        "010000008",
        "071234561",
        "999999990",
    ];
    let pseudonyms: Vec<_> = values
        .iter()
        .map(|v| chain.matching(&partner, &bsn(v)))
        .collect();
    for i in 0..pseudonyms.len() {
        for j in i + 1..pseudonyms.len() {
            assert_ne!(
                pseudonyms[i], pseudonyms[j],
                "{} vs {}",
                values[i], values[j]
            );
        }
    }
    // The kind is part of the hashed input: the same digits as BSN and as RSIN differ.
    let rsin = Identifier::Organisation(
        signaalnet_identifier::Organisation::parse_rsin("111222333").unwrap(),
    )
    .match_keys()
    .remove(0);
    assert_ne!(chain.matching(&partner, &rsin), pseudonyms[0]);
}

#[test]
fn fewer_than_n_conversions_never_decrypt_to_the_matching_pseudonym() {
    let chain = chain(3);
    let partner = PartnerEncryptor::new(chain.system);
    let key = bsn("111222333");
    let target = chain.matching(&partner, &key);

    let proper_subsets: [&[usize]; 7] = [&[], &[0], &[1], &[2], &[0, 1], &[0, 2], &[1, 2]];
    for subset in proper_subsets {
        let partial = chain.convert(partner.encrypt(&key, &mut rand::rng()), subset);
        assert_eq!(
            chain.coordinator.decrypt(&partial),
            Err(PseudonymError::NotFullyConverted),
            "after {subset:?}"
        );
        assert_ne!(
            chain.coordinator.decrypt_unchecked(&partial),
            target,
            "after {subset:?} the coordinator's key must not open the matching pseudonym"
        );
    }
}

#[test]
fn converting_twice_at_one_transcryptor_breaks_the_match() {
    let chain = chain(2);
    let partner = PartnerEncryptor::new(chain.system);
    let key = bsn("123456782");
    let target = chain.matching(&partner, &key);
    let twice = chain.convert(partner.encrypt(&key, &mut rand::rng()), &[0, 0, 1]);
    assert_ne!(chain.coordinator.decrypt_unchecked(&twice), target);
}

#[test]
fn a_partners_own_material_does_not_give_the_matching_pseudonym() {
    let chain = chain(2);
    let partner = PartnerEncryptor::new(chain.system);
    let key = bsn("111222333");
    let target = chain.matching(&partner, &key);

    // The partner knows the plaintext and its origin pseudonym...
    let origin = origin_pseudonym(&key);
    use libpep::data::simple::{ElGamalEncryptable, ElGamalEncrypted};
    use libpep::keys::PublicKey;
    assert_ne!(origin.to_bytes(), *target.as_bytes());

    // ...and may even encrypt it directly for the coordinator's (public) session key, skipping
    // the transcryptors. That ciphertext passes the key check, but decrypts to the origin
    // pseudonym, which is not the matching pseudonym every other partner's submission gets.
    let rng = &mut rand::rng();
    let coordinator_key =
        libpep::keys::PseudonymSessionPublicKey::from_slice(&chain.coordinator.public_key_bytes())
            .unwrap();
    let direct = libpep::client::encrypt(&origin, &coordinator_key, rng);
    let mut wire = direct.to_bytes();
    wire.extend_from_slice(&chain.coordinator.public_key_bytes());
    let bypass = EncryptedIdentifier::from_bytes(&wire).unwrap();
    let decrypted = chain.coordinator.decrypt(&bypass).unwrap();
    assert_eq!(decrypted.as_bytes(), &origin.to_bytes());
    assert_ne!(decrypted, target);
    let own = partner.encrypt(&key, rng);

    // The global public key and ciphertext bytes carry nothing of the matching pseudonym.
    let wire = own.to_bytes();
    assert!(!wire.windows(32).any(|w| w == target.as_bytes()));
    assert!(!chain
        .system
        .fingerprint()
        .contains(&hex::encode(target.as_bytes())));
}

#[test]
fn a_ciphertext_for_another_coordinator_context_is_refused() {
    let chain = chain(2);
    let partner = PartnerEncryptor::new(chain.system);
    let other = CoordinatorContext::new("coordinator/other-region").unwrap();
    let rng = &mut rand::rng();
    let converted = chain
        .transcryptors
        .iter()
        .fold(partner.encrypt(&bsn("111222333"), rng), |acc, t| {
            t.convert_batch(&[acc], &other, rng)[0]
        });
    assert_eq!(
        chain.coordinator.decrypt(&converted),
        Err(PseudonymError::NotFullyConverted)
    );
}

#[test]
fn batches_keep_their_order() {
    let chain = chain(2);
    let partner = PartnerEncryptor::new(chain.system);
    let rng = &mut rand::rng();
    let keys = [
        bsn("111222333"),
        bsn("123456782"),
        phone("0612345678"),
        bsn("111222333"),
    ];
    let batch: Vec<_> = keys.iter().map(|k| partner.encrypt(k, rng)).collect();
    let converted = chain
        .transcryptors
        .iter()
        .fold(batch, |acc, t| t.convert_batch(&acc, &chain.context, rng));
    let decrypted: Vec<_> = converted
        .iter()
        .map(|c| chain.coordinator.decrypt(c).unwrap())
        .collect();
    for (key, pseudonym) in keys.iter().zip(&decrypted) {
        assert_eq!(*pseudonym, chain.matching(&partner, key));
    }
    assert_eq!(decrypted[0], decrypted[3]);
}

#[test]
fn the_coordinator_needs_a_share_from_every_transcryptor() {
    let chain = chain(3);
    let shares: Vec<_> = chain.transcryptors[..2]
        .iter()
        .map(|t| t.key_share(&chain.context))
        .collect();
    assert_eq!(
        CoordinatorDecryptor::from_shares(&chain.system, &shares).unwrap_err(),
        PseudonymError::WrongShareCount {
            expected: 3,
            got: 2
        }
    );
    assert_eq!(
        key_ceremony(0, &mut rand::rng()).unwrap_err(),
        PseudonymError::NoTranscryptors(0)
    );
}

#[test]
fn handles_are_stable_per_purpose_and_differ_between_purposes() {
    let chain = chain(2);
    let partner = PartnerEncryptor::new(chain.system);
    let p = chain.matching(&partner, &bsn("111222333"));
    let q = chain.matching(&partner, &bsn("123456782"));
    let handles = HandleKey::new(&[7u8; 32]).unwrap();
    use signaalnet_identifier::IdentifierKind::Bsn as K;

    let riec = handles.handle("riec_integrale_analyse", K, &p);
    assert_eq!(riec, handles.handle("riec_integrale_analyse", K, &p));
    assert_ne!(riec, handles.handle("bestuurlijke_aanpak", K, &p));
    assert_ne!(riec, handles.handle("riec_integrale_analyse", K, &q));
    assert_ne!(
        riec,
        HandleKey::new(&[8u8; 32])
            .unwrap()
            .handle("riec_integrale_analyse", K, &p)
    );
    assert!(!riec.as_str().contains(&hex::encode(&p.as_bytes()[..8])));
    assert!(HandleKey::new(&[0u8; 16]).is_err());
}

#[test]
fn key_material_round_trips_and_prints_redacted() {
    let rng = &mut rand::rng();
    let (system, keys) = key_ceremony(2, rng).unwrap();
    let json = serde_json::to_string(&system).unwrap();
    let back: SystemPublicKeys = serde_json::from_str(&json).unwrap();
    assert_eq!(back, system);

    let secret_json = serde_json::to_string(&keys[1]).unwrap();
    let back: TranscryptorKeys = serde_json::from_str(&secret_json).unwrap();
    assert_eq!(back.index(), 2);
    let secret_hex: serde_json::Value = serde_json::from_str(&secret_json).unwrap();
    let secret = secret_hex["rekeying_secret"].as_str().unwrap();
    assert!(!format!("{:?}", keys[1]).contains(secret));

    // A transcryptor restored from its file converts exactly like the original.
    let context = CoordinatorContext::new("c").unwrap();
    assert_eq!(
        Transcryptor::new(&back).key_share(&context),
        Transcryptor::new(&keys[1]).key_share(&context)
    );

    let mut broken: serde_json::Value = serde_json::from_str(&secret_json).unwrap();
    broken["blinding_factor"] = "zz".into();
    let err = serde_json::from_value::<TranscryptorKeys>(broken).unwrap_err();
    assert!(err.to_string().contains("blinding_factor"), "{err}");
}

#[test]
fn wire_bytes_round_trip_and_malformed_bytes_are_refused() {
    let chain = chain(1);
    let partner = PartnerEncryptor::new(chain.system);
    let c = partner.encrypt(&bsn("111222333"), &mut rand::rng());
    assert_eq!(EncryptedIdentifier::from_bytes(&c.to_bytes()).unwrap(), c);
    assert!(EncryptedIdentifier::from_bytes(&[0u8; 95]).is_err());
    assert!(EncryptedIdentifier::from_bytes(&[0xffu8; 96]).is_err());
    let share = chain.transcryptors[0].key_share(&chain.context);
    assert_eq!(KeyShare::from_bytes(&share.to_bytes()).unwrap(), share);
    assert!(KeyShare::from_bytes(&[0xffu8; 32]).is_err());
    assert!(CoordinatorContext::new("").is_err());
    assert!(CoordinatorContext::new("region noord").is_err());
}
