//! A purpose's `person_match_keys` at the node: a person is sent only as the keys the purpose
//! lets link. Two different people who share only the `initial` key (Jan and Johan Jansen, born
//! the same day) meet at the coordinator by default, and do not for a purpose that links on
//! `full` alone: their signals become matching pseudonyms with nothing in common. A person known
//! by initials only is refused for such a purpose, naming the rule.
#![allow(clippy::unwrap_used)] // test fixtures

mod common;

use common::{gemeente_node_under, request};
use prost::Message;
use signaalnet_identifier::IdentifierKind;
use signaalnet_node::{Node, SubmitError};
use signaalnet_policy::PolicySet;
use signaalnet_proto::v1 as pb;
use signaalnet_proto::v1::identifier::Value;
use signaalnet_pseudonym::{
    CoordinatorDecryptor, EncryptedIdentifier, MatchDomain, MatchingPseudonym, Transcryptor,
};
use signaalnet_store::Clock;
use std::collections::BTreeSet;
use std::path::Path;

const DRIELUIK: &str = "signalering_drieluik";

/// The example set, with `setting` added to the drieluik purpose when given.
fn policy(setting: Option<&str>) -> (tempfile::TempDir, PolicySet) {
    let dir = tempfile::tempdir().unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    std::fs::create_dir(dir.path().join("partners")).unwrap();
    for entry in walk(&example) {
        let relative = entry.strip_prefix(&example).unwrap();
        let mut text = std::fs::read_to_string(&entry).unwrap();
        if let (Some(setting), true) = (setting, relative == Path::new("purposes.toml")) {
            let anchor = "processing_activity_id = \"signaalnet-va-001\"";
            assert!(text.contains(anchor));
            text = text.replacen(anchor, &format!("{setting}\n{anchor}"), 1);
        }
        std::fs::write(dir.path().join(relative), text).unwrap();
    }
    let set = PolicySet::load(dir.path()).unwrap();
    (dir, set)
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn person_signal(case: &str, given: &str) -> pb::SubmitSignalRequest {
    let mut r = request(case, "9711 AB");
    r.identifiers = vec![pb::Identifier {
        value: Some(Value::Person(pb::Person {
            surname: "Jansen".into(),
            given_names: given.into(),
            date_of_birth: "1990-03-14".into(),
        })),
    }];
    r
}

/// The matching pseudonyms the coordinator would decrypt from `signal_id`'s ciphertexts.
async fn pseudonyms(
    node: &Node,
    signal_id: &str,
    transcryptor: &Transcryptor,
    decryptor: &CoordinatorDecryptor,
) -> BTreeSet<MatchingPseudonym> {
    let payload: Vec<u8> =
        sqlx::query_scalar("SELECT payload FROM node_signals WHERE signal_id = $1")
            .bind(signal_id)
            .fetch_one(node.store().pool())
            .await
            .unwrap();
    let signal = pb::EncryptedSignal::decode(payload.as_slice()).unwrap();
    let domain = MatchDomain::new(DRIELUIK, IdentifierKind::Person).unwrap();
    signal
        .identifiers
        .iter()
        .map(|i| {
            let ciphertext = EncryptedIdentifier::from_bytes(&i.ciphertext).unwrap();
            let converted = transcryptor
                .convert(&ciphertext, &transcryptor.factors(&domain))
                .unwrap();
            decryptor.decrypt_unchecked(&converted.ciphertext)
        })
        .collect()
}

/// The pseudonyms of Jan's and of Johan's signal under `policy`.
async fn jan_and_johan(
    policy: PolicySet,
) -> (BTreeSet<MatchingPseudonym>, BTreeSet<MatchingPseudonym>) {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(1_790_000_000_000);
    let (node, actor, transcryptor, decryptor) =
        gemeente_node_under(dir.path(), &clock, policy).await;
    let jan = node
        .submit(actor.clone(), person_signal("GRO-JAN", "Jan"))
        .await
        .unwrap();
    let johan = node
        .submit(actor, person_signal("GRO-JOHAN", "Johan"))
        .await
        .unwrap();
    (
        pseudonyms(&node, &jan.signal_id, &transcryptor, &decryptor).await,
        pseudonyms(&node, &johan.signal_id, &transcryptor, &decryptor).await,
    )
}

#[tokio::test]
async fn by_default_two_jansens_born_the_same_day_meet_on_the_initial_key() {
    let (_dir, set) = policy(None);
    let (jan, johan) = jan_and_johan(set).await;
    assert_eq!(jan.len(), 3);
    // The initial and the loose key: what the coordinator would link them on.
    assert_eq!(jan.intersection(&johan).count(), 2);
}

#[tokio::test]
async fn a_purpose_without_initial_does_not_link_them() {
    let (_dir, set) = policy(Some("person_match_keys = [\"full\"]"));
    let (jan, johan) = jan_and_johan(set).await;
    assert_eq!(jan.len(), 1, "only the full key is sent");
    assert_eq!(jan.intersection(&johan).count(), 0);
}

#[tokio::test]
async fn a_person_with_initials_only_is_refused_where_only_full_links() {
    let (_dir, set) = policy(Some("person_match_keys = [\"full\"]"));
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(1_790_000_000_000);
    let (node, actor, _, _) = gemeente_node_under(dir.path(), &clock, set).await;
    let refused = node
        .submit(actor.clone(), person_signal("GRO-J", "J."))
        .await
        .unwrap_err();
    let SubmitError::Refused(refused) = refused else {
        panic!("{refused}");
    };
    assert_eq!(refused.code, tonic::Code::PermissionDenied);
    let rules: Vec<(&str, &str)> = refused
        .violations
        .iter()
        .map(|v| (v.field.as_str(), v.rule.as_str()))
        .collect();
    assert_eq!(rules, [("identifiers[0]", "policy.person_match_keys")]);
    assert!(refused.violations[0]
        .description
        .contains("first given name"));
    // The same person with a given name is accepted.
    node.submit(actor, person_signal("GRO-J2", "Jan"))
        .await
        .unwrap();
}
