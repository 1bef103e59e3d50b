//! A coordinator on real SQLite with real libpep keys and one transcryptor, no network: what a
//! node and the transcryptor would deliver is built here.
#![allow(clippy::unwrap_used, dead_code)] // test fixtures; each test binary uses part of them

use signaalnet_audit::{Actor, Audit, Signer};
use signaalnet_coordinator::{Commitments, Coordinator};
use signaalnet_identifier::IdentifierKind;
use signaalnet_identifier::{Address, Identifier, Phone};
use signaalnet_policy::{LivePolicy, Partner, PolicySet};
use signaalnet_proto::v1 as pb;
use signaalnet_pseudonym::{
    Ceremony, CoordinatorContext, CoordinatorDecryptor, DomainCommitments, HandleKey, MatchDomain,
    Origin, PartnerEncryptor, Transcryptor,
};
use signaalnet_service::convert::kind_to_wire;
use signaalnet_store::{Clock, Location};
use sqlx::Row;
use std::collections::HashMap;
use std::path::Path;

pub const DRIELUIK: &str = "signalering_drieluik";

pub struct World {
    _dir: tempfile::TempDir,
    pub core: Coordinator,
    pub policy: PolicySet,
    encryptor: PartnerEncryptor,
    transcryptor: Transcryptor,
    pub clock: Clock,
}

pub async fn world() -> World {
    world_with(&|_| {}).await
}

/// A world whose policy set is the example set with `change` applied to its files (in a copy).
pub async fn world_with(change: &dyn Fn(&Path)) -> World {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies"),
        &policies,
    );
    change(&policies);
    let policy = PolicySet::load(&policies).unwrap();
    let context = CoordinatorContext::new("coordinator/test").unwrap();
    let rng = &mut rand::rng();
    let (system, keys) = Ceremony::run_locally(&context, 1, rng).unwrap();
    let transcryptor = Transcryptor::new(&keys[0], &system).unwrap();
    let decryptor =
        CoordinatorDecryptor::from_shares(&system, &[transcryptor.key_share(rng).unwrap()])
            .unwrap();
    // What the transcryptor would publish for every purpose and kind of the policy set.
    let mut known = HashMap::new();
    for purpose in policy.purposes() {
        for kind in IdentifierKind::ALL {
            let domain = MatchDomain::new(&purpose.id, kind).unwrap();
            let commitment = transcryptor.reshuffle_commitment(&domain).to_vec();
            known.insert(
                domain,
                DomainCommitments::from_bytes(&[commitment]).unwrap(),
            );
        }
    }
    let clock = Clock::manual(1_790_000_000_000);
    let audit = Audit::new(
        Signer::load_or_create(&dir.path().join("audit.key")).unwrap(),
        Actor {
            oin: "00000099000000000090".into(),
            role: "coordinator".into(),
        },
        clock.clone(),
    );
    let store =
        signaalnet_coordinator::open_store(&Location::Sqlite(dir.path().join("coordinator.db")))
            .await
            .unwrap();
    let core = Coordinator::open(
        store,
        LivePolicy::new(policy.clone()),
        decryptor,
        Commitments::fixed(known),
        HandleKey::new(&[7u8; 32]).unwrap(),
        audit,
    )
    .await
    .unwrap();
    World {
        _dir: dir,
        core,
        policy,
        encryptor: PartnerEncryptor::new(system),
        transcryptor,
        clock,
    }
}

impl World {
    /// What the gemeente's node and the transcryptor would deliver for `identifier`.
    pub fn signal(&self, signal_id: &str, identifier: Identifier) -> pb::EncryptedSignal {
        self.signal_from("gemeente_groningen", signal_id, identifier)
    }

    /// What `partner`'s node and the transcryptor would deliver for `identifier`.
    pub fn signal_from(
        &self,
        partner: &str,
        signal_id: &str,
        identifier: Identifier,
    ) -> pb::EncryptedSignal {
        self.signal_with(
            partner,
            signal_id,
            identifier,
            "2026-10",
            &[("gemeente", "GM0014")],
        )
    }

    /// What `partner`'s node and the transcryptor would deliver for a drieluik signal on
    /// `identifier` observed in `month` with `attributes`.
    pub fn signal_with(
        &self,
        partner: &str,
        signal_id: &str,
        identifier: Identifier,
        month: &str,
        attributes: &[(&str, &str)],
    ) -> pb::EncryptedSignal {
        let mut rng = rand::rng();
        let identifiers = identifier
            .match_keys()
            .iter()
            .map(|k| {
                let origin = Origin {
                    partner,
                    purpose: DRIELUIK,
                    kind: k.kind(),
                };
                let (c, origin_proof) = self.encryptor.encrypt(k, &origin, &mut rng);
                let domain = MatchDomain::new(DRIELUIK, k.kind()).unwrap();
                let converted = self
                    .transcryptor
                    .convert(&c, &self.transcryptor.factors(&domain))
                    .unwrap();
                pb::EncryptedIdentifier {
                    kind: kind_to_wire(k.kind()),
                    ciphertext: c.to_bytes().to_vec(),
                    proofs: vec![converted.proof.to_bytes()],
                    origin_proof: origin_proof.to_bytes(),
                }
            })
            .collect();
        pb::EncryptedSignal {
            signal_id: signal_id.into(),
            purpose: DRIELUIK.into(),
            observed_month: month.into(),
            identifiers,
            attributes: attributes
                .iter()
                .map(|(id, value)| pb::Attribute {
                    id: (*id).into(),
                    value: (*value).into(),
                })
                .collect(),
            policy: None,
            traceparent: String::new(),
        }
    }

    /// `partner` as it appears in the policy set, and its actor.
    pub fn partner(&self, partner: &str) -> (&Partner, Actor) {
        let p = self.policy.partner(partner).unwrap();
        let actor = Actor {
            oin: p.oins[0].clone(),
            role: p.role.as_str().into(),
        };
        (p, actor)
    }

    /// Delivers `signal` for `identifier` from `partner`.
    pub async fn deliver(
        &self,
        partner: &str,
        signal_id: &str,
        identifier: Identifier,
    ) -> pb::DeliveryAck {
        let signal = self.signal_from(partner, signal_id, identifier);
        let (p, actor) = self.partner(partner);
        let outcome = self.core.deliver(p, &actor, signal).await;
        pb::DeliveryAck {
            signal_id: signal_id.into(),
            code: outcome.code as i32,
            message: outcome.message,
        }
    }

    /// Delivers a drieluik signal from `partner` observed in `month` with `attributes`;
    /// panics unless the coordinator accepts it.
    pub async fn deliver_with(
        &self,
        partner: &str,
        signal_id: &str,
        identifier: Identifier,
        month: &str,
        attributes: &[(&str, &str)],
    ) {
        let signal = self.signal_with(partner, signal_id, identifier, month, attributes);
        let (p, actor) = self.partner(partner);
        let outcome = self.core.deliver(p, &actor, signal).await;
        assert_eq!(outcome.code as i32, 0, "{signal_id}: {}", outcome.message);
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query(sql)
            .fetch_one(self.core.store().pool())
            .await
            .unwrap()
            .get(0)
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// An address in Groningen.
pub fn address() -> Identifier {
    Identifier::Address(Address::parse_postal("9711 AB", "12", "").unwrap())
}

/// A Dutch mobile number.
pub fn phone() -> Identifier {
    Identifier::Phone(Phone::parse("+31 6 1234 5678").unwrap())
}
