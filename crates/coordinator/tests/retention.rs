//! Retention on the coordinator with a manual clock: an unmatched signal expires after its
//! purpose's `retention_unmatched`, a hit (and every signal in it) after `retention_hits`
//! without change, each partner in the hit is told EXPIRED, and nothing of an expired signal's
//! pseudonyms or attributes stays. Real SQLite, real libpep, no network.
#![allow(clippy::unwrap_used)] // test fixtures

use signaalnet_audit::{Actor, Audit, Filter, Signer};
use signaalnet_coordinator::expiry::Expired;
use signaalnet_coordinator::Coordinator;
use signaalnet_identifier::{Address, Identifier, Phone};
use signaalnet_policy::{LivePolicy, PolicySet};
use signaalnet_proto::v1 as pb;
use signaalnet_pseudonym::{
    key_ceremony, CoordinatorContext, CoordinatorDecryptor, HandleKey, PartnerEncryptor,
    Transcryptor,
};
use signaalnet_service::convert::kind_to_wire;
use signaalnet_store::{Clock, Location, Store};
use sqlx::Row;
use std::path::Path;
use std::time::Duration;

const DRIELUIK: &str = "signalering_drieluik";
const DAY: Duration = Duration::from_secs(86_400);

struct World {
    _dir: tempfile::TempDir,
    core: Coordinator,
    policy: PolicySet,
    encryptor: PartnerEncryptor,
    transcryptor: Transcryptor,
    context: CoordinatorContext,
    clock: Clock,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let policy =
        PolicySet::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies")).unwrap();
    let (system, keys) = key_ceremony(1, &mut rand::rng()).unwrap();
    let transcryptor = Transcryptor::new(&keys[0]);
    let context = CoordinatorContext::new("coordinator/test").unwrap();
    let decryptor =
        CoordinatorDecryptor::from_shares(&system, &[transcryptor.key_share(&context)]).unwrap();
    let clock = Clock::manual(1_790_000_000_000);
    let audit = Audit::new(
        Signer::load_or_create(&dir.path().join("audit.key")).unwrap(),
        Actor {
            oin: "00000099000000000090".into(),
            role: "coordinator".into(),
        },
        clock.clone(),
    );
    let store = Store::open(&Location::Sqlite(dir.path().join("coordinator.db")))
        .await
        .unwrap();
    let core = Coordinator::open(
        store,
        LivePolicy::new(policy.clone()),
        decryptor,
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
        context,
        clock,
    }
}

impl World {
    /// What a node and the transcryptor would deliver for `identifier`.
    async fn deliver(
        &self,
        partner: &str,
        signal_id: &str,
        identifier: Identifier,
    ) -> pb::DeliveryAck {
        let mut rng = rand::rng();
        let identifiers = identifier
            .match_keys()
            .iter()
            .map(|k| {
                let c = self.encryptor.encrypt(k, &mut rng);
                let converted = self
                    .transcryptor
                    .convert_batch(&[c], &self.context, &mut rng)
                    .remove(0);
                pb::EncryptedIdentifier {
                    kind: kind_to_wire(k.kind()),
                    ciphertext: converted.to_bytes().to_vec(),
                }
            })
            .collect();
        let signal = pb::EncryptedSignal {
            signal_id: signal_id.into(),
            purpose: DRIELUIK.into(),
            observed_month: "2026-10".into(),
            identifiers,
            attributes: vec![pb::Attribute {
                id: "gemeente".into(),
                value: "GM0014".into(),
            }],
            policy: None,
            traceparent: String::new(),
        };
        let p = self.policy.partner(partner).unwrap();
        let actor = Actor {
            oin: p.oins[0].clone(),
            role: p.role.as_str().into(),
        };
        let outcome = self.core.deliver(p, &actor, signal).await;
        pb::DeliveryAck {
            signal_id: signal_id.into(),
            code: outcome.code as i32,
            message: outcome.message,
        }
    }

    async fn count(&self, sql: &str) -> i64 {
        sqlx::query(sql)
            .fetch_one(self.core.store().pool())
            .await
            .unwrap()
            .get(0)
    }
}

fn address() -> Identifier {
    Identifier::Address(Address::parse_postal("9711 AB", "12", "").unwrap())
}

#[tokio::test]
async fn unmatched_signals_and_then_hits_expire_after_their_retention() {
    let w = world().await;
    assert_eq!(
        w.deliver("gemeente_groningen", "g1", address()).await.code,
        0
    );
    assert_eq!(w.deliver("nla", "n1", address()).await.code, 0);
    let phone = Identifier::Phone(Phone::parse("+31 6 1234 5678").unwrap());
    assert_eq!(
        w.deliver("politie_noord_nederland", "p1", phone).await.code,
        0
    );
    assert_eq!(
        w.core.notifications("nla", 0, 10).await.unwrap()[0].change,
        pb::HitChange::Formed as i32
    );

    // Nothing is due before the retention ends.
    w.clock.advance(DAY * 179);
    assert_eq!(w.core.expire().await.unwrap(), Expired::default());

    // After P6M (180 days) the unmatched police signal goes; the hit stays (P2Y).
    w.clock.advance(DAY * 2);
    assert_eq!(
        w.core.expire().await.unwrap(),
        Expired {
            hits: 0,
            signals: 1
        }
    );
    assert_eq!(
        w.count("SELECT COUNT(*) FROM coord_signals WHERE withdrawn_at IS NULL")
            .await,
        2
    );
    let held = w
        .count("SELECT COUNT(*) FROM coord_keys k JOIN coord_signals s ON s.seq = k.seq WHERE s.signal_id = 'p1'")
        .await;
    assert_eq!(held, 0, "no pseudonym of the expired signal is kept");

    // A late re-delivery of the expired signal does not bring it back.
    let phone = Identifier::Phone(Phone::parse("+31 6 1234 5678").unwrap());
    let again = w.deliver("politie_noord_nederland", "p1", phone).await;
    assert_eq!(again.code, 0);
    assert!(again.message.contains("ignored"), "{}", again.message);

    // A new member 400 days in refreshes the hit: its retention counts from its last change.
    w.clock.advance(DAY * 219);
    assert_eq!(w.deliver("zvh_groningen", "z1", address()).await.code, 0);
    w.clock.advance(DAY * 400);
    assert_eq!(w.core.expire().await.unwrap(), Expired::default());

    // Two years after the last change the hit and all three signals go; every partner in it
    // is told EXPIRED, with its own signal ids only.
    w.clock.advance(DAY * 331);
    assert_eq!(
        w.core.expire().await.unwrap(),
        Expired {
            hits: 1,
            signals: 3
        }
    );
    for (partner, own) in [
        ("gemeente_groningen", "g1"),
        ("nla", "n1"),
        ("zvh_groningen", "z1"),
    ] {
        let last = w
            .core
            .notifications(partner, 0, 100)
            .await
            .unwrap()
            .pop()
            .unwrap();
        assert_eq!(last.change, pb::HitChange::Expired as i32, "{partner}");
        assert_eq!(last.own_signal_ids, vec![own.to_owned()], "{partner}");
        assert!(last.attributes.is_empty());
    }
    assert_eq!(w.count("SELECT COUNT(*) FROM coord_keys").await, 0);
    assert_eq!(w.count("SELECT COUNT(*) FROM coord_hits").await, 0);
    assert_eq!(
        w.count(
            "SELECT COUNT(*) FROM coord_signals WHERE attributes <> '[]' OR observed_month <> ''"
        )
        .await,
        0,
        "no attribute or month of an expired signal is kept"
    );

    // Both runs are in the audit trail, naming the signals and the hit.
    let expiries = signaalnet_audit::entries(
        w.core.store(),
        &Filter {
            step: Some(signaalnet_audit::Step::Expire),
            ..Filter::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(expiries.len(), 2);
    assert!(expiries[0]
        .refs
        .contains("signal:politie_noord_nederland/p1"));
    assert!(expiries[1].refs.contains("hit:hit-"));
    assert!(expiries[1].detail.contains("3 signal(s) deleted"));
    assert_eq!(expiries[1].processing_activity, "signaalnet-va-001");
}
