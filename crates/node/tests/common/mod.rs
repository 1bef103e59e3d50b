//! A gemeente's node on real SQLite with real libpep keys, no network.
#![allow(clippy::unwrap_used, dead_code)] // test fixtures; each test binary uses part of them

use signaalnet_audit::{Actor, Audit, Signer};
use signaalnet_node::Node;
use signaalnet_policy::{LivePolicy, PolicySet};
use signaalnet_proto::v1 as pb;
use signaalnet_proto::v1::identifier::Value;
use signaalnet_pseudonym::{
    Ceremony, CoordinatorContext, CoordinatorDecryptor, PartnerEncryptor, Transcryptor,
};
use signaalnet_store::{Clock, Location};
use std::path::Path;

/// The coordinator context of the test ceremony.
pub const CONTEXT: &str = "coordinator/test";

/// The node of `gemeente_groningen` under `dir`, and the gemeente's own actor.
pub async fn gemeente_node(dir: &Path, clock: &Clock) -> (Node, Actor) {
    let (node, actor, _) = gemeente_node_in_chain(dir, clock).await;
    (node, actor)
}

/// [`gemeente_node`], and the keys of the one transcryptor of its ceremony (for a stand-in
/// transcryptor).
pub async fn gemeente_node_in_chain(dir: &Path, clock: &Clock) -> (Node, Actor, Transcryptor) {
    let policy =
        PolicySet::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies")).unwrap();
    let (node, actor, transcryptor, _) = gemeente_node_under(dir, clock, policy).await;
    (node, actor, transcryptor)
}

/// [`gemeente_node_in_chain`] under `policy`, and the coordinator's decryptor of its ceremony
/// (to see which matching pseudonyms the node's ciphertexts become).
pub async fn gemeente_node_under(
    dir: &Path,
    clock: &Clock,
    policy: PolicySet,
) -> (Node, Actor, Transcryptor, CoordinatorDecryptor) {
    let context = CoordinatorContext::new(CONTEXT).unwrap();
    let (system, keys) = Ceremony::run_locally(&context, 1, &mut rand::rng()).unwrap();
    let transcryptor = Transcryptor::new(&keys[0], &system).unwrap();
    let decryptor = CoordinatorDecryptor::from_shares(
        &system,
        &[transcryptor.key_share(&mut rand::rng()).unwrap()],
    )
    .unwrap();
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
    (node, actor, transcryptor, decryptor)
}

/// A drieluik signal about an address, with idempotency key `key/<case>`.
pub fn request(case: &str, postcode: &str) -> pb::SubmitSignalRequest {
    pb::SubmitSignalRequest {
        idempotency_key: format!("key/{case}"),
        case_reference: case.into(),
        purpose: "signalering_drieluik".into(),
        observed_month: "2026-09".into(),
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
