//! A gemeente's node on real SQLite with real libpep keys, no network.
#![allow(clippy::unwrap_used, dead_code)] // test fixtures; each test binary uses part of them

use signaalnet_audit::{Actor, Audit, Signer};
use signaalnet_node::Node;
use signaalnet_policy::{LivePolicy, PolicySet};
use signaalnet_proto::v1 as pb;
use signaalnet_proto::v1::identifier::Value;
use signaalnet_pseudonym::{Ceremony, CoordinatorContext, PartnerEncryptor};
use signaalnet_store::{Clock, Location, Store};
use std::path::Path;

/// The node of `gemeente_groningen` under `dir`, and the gemeente's own actor.
pub async fn gemeente_node(dir: &Path, clock: &Clock) -> (Node, Actor) {
    let policy =
        PolicySet::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies")).unwrap();
    let context = CoordinatorContext::new("coordinator/test").unwrap();
    let (system, _) = Ceremony::run_locally(&context, 1, &mut rand::rng()).unwrap();
    let oin = policy.partner("gemeente_groningen").unwrap().oins[0].clone();
    let actor = Actor {
        oin,
        role: "gemeente".into(),
    };
    let node = Node::open(
        signaalnet_node::open_store(&Location::Sqlite(dir.join("node.db")))
            .await
            .unwrap(),
        LivePolicy::new(policy),
        "gemeente_groningen",
        PartnerEncryptor::new(system),
        &[9u8; 32],
        Audit::new(
            Signer::load_or_create(&dir.join("audit.key")).unwrap(),
            actor.clone(),
            clock.clone(),
        ),
    )
    .await
    .unwrap();
    (node, actor)
}

/// A drieluik signal about an address, with idempotency key `key/<case>`.
pub fn request(case: &str, postcode: &str) -> pb::SubmitSignalRequest {
    pb::SubmitSignalRequest {
        idempotency_key: format!("key/{case}"),
        case_reference: case.into(),
        purpose: "signalering_drieluik".into(),
        observed_month: "2026-10".into(),
        identifiers: vec![pb::Identifier {
            value: Some(Value::Address(pb::PostalAddress {
                postcode: postcode.into(),
                huisnummer: "12".into(),
                toevoeging: String::new(),
            })),
        }],
        attributes: Vec::new(),
    }
}
