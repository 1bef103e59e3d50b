//! Probing limits at the source: a signal over its partner's per-signal cap or daily quota is
//! refused before anything is encrypted or stored, naming `identifiers`, the quota and its rule.
#![allow(clippy::unwrap_used)] // test fixtures

mod common;

use common::{gemeente_node, request};
use prost::Message;
use signaalnet_policy::{PolicySet, Source};
use signaalnet_proto::v1 as pb;
use signaalnet_proto::v1::identifier::Value;
use signaalnet_store::Clock;
use std::path::Path;
use std::time::Duration;
use tonic::Code;
use tonic_types::StatusExt;

fn person(surname: &str) -> pb::Identifier {
    pb::Identifier {
        value: Some(Value::Person(pb::Person {
            surname: surname.into(),
            given_names: "Piotr".into(),
            date_of_birth: "1994-03-12".into(),
        })),
    }
}

/// The example set with the gemeente's drieluik limits replaced by `limits`.
fn with_limits(limits: &str) -> PolicySet {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    let mut sources = Vec::new();
    let mut add = |path: String| {
        let mut content = std::fs::read_to_string(dir.join(&path)).unwrap();
        if path == "partners/gemeente-groningen.toml" {
            content = content.replacen(
                "limits = { identifiers_per_signal = 8, identifiers_per_day = 2_000 }",
                limits,
                1,
            );
        }
        sources.push(Source { path, content });
    };
    for f in signaalnet_policy::REQUIRED_FILES {
        add(f.to_owned());
    }
    for e in std::fs::read_dir(dir.join("partners")).unwrap() {
        add(format!(
            "partners/{}",
            e.unwrap().file_name().to_string_lossy()
        ));
    }
    PolicySet::from_sources(sources).unwrap()
}

async fn stored(node: &signaalnet_node::Node) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM node_signals")
        .fetch_one(node.store().pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn three_persons_are_over_the_cap_of_eight_match_keys() {
    let dir = tempfile::tempdir().unwrap();
    let (node, actor) = gemeente_node(dir.path(), &Clock::manual(1_790_000_000_000)).await;
    let mut r = request("GRO-1", "9711 AB");
    r.identifiers = vec![person("Nowak"), person("Kowalski"), person("Wiśniewski")];
    let status = tonic::Status::from(node.submit(actor.clone(), r).await.unwrap_err());
    assert_eq!(status.code(), Code::ResourceExhausted);
    // The details are the standard google.rpc.Status: the quota as a QuotaFailure.
    let details = status.get_error_details();
    let quota = details.quota_failure().unwrap();
    assert_eq!(quota.violations.len(), 1);
    assert_eq!(quota.violations[0].subject, "identifiers");
    assert_eq!(
        quota.violations[0].quota_id,
        "limits.identifiers_per_signal"
    );
    let info = details.error_info().unwrap();
    assert_eq!(info.reason, "OVER_QUOTA");
    assert_eq!(info.metadata["rules"], "limits.identifiers_per_signal");
    for needle in [
        "over quota: identifiers: 9 identifier(s)",
        "limits.identifiers_per_signal of 8 per signal",
        "partners/gemeente-groningen.toml",
    ] {
        assert!(
            status.message().contains(needle),
            "{needle} not in {}",
            status.message()
        );
    }
    // Two persons and two addresses (8 match keys) fit.
    let mut r = request("GRO-2", "9711 AB");
    r.identifiers = vec![person("Nowak"), person("Kowalski")];
    r.identifiers.extend(request("x", "9712 CD").identifiers);
    r.identifiers.extend(request("x", "9713 EF").identifiers);
    node.submit(actor, r).await.unwrap();
    assert_eq!(stored(&node).await, 1);
}

#[tokio::test]
async fn the_daily_quota_refuses_until_it_frees_up_and_a_bulk_grant_lifts_it() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(1_790_000_000_000);
    let (node, actor) = gemeente_node(dir.path(), &clock).await;
    node.live_policy().replace(with_limits(
        "limits = { identifiers_per_signal = 2, identifiers_per_day = 3 }",
    ));
    for (i, postcode) in ["9711 AB", "9712 CD", "9713 EF"].iter().enumerate() {
        node.submit(actor.clone(), request(&format!("GRO-{i}"), postcode))
            .await
            .unwrap();
    }
    let status = tonic::Status::from(
        node.submit(actor.clone(), request("GRO-4", "9714 GH"))
            .await
            .unwrap_err(),
    );
    assert_eq!(status.code(), Code::ResourceExhausted);
    for needle in [
        "identifiers: quota limits.identifiers_per_day of 3 identifiers per 24 hours",
        "3 used, 1 more asked",
        "frees up at",
    ] {
        assert!(
            status.message().contains(needle),
            "{needle} not in {}",
            status.message()
        );
    }
    assert_eq!(stored(&node).await, 3);
    // A replay stores nothing new and takes no quota: it is answered even with the day used up.
    let replay = node
        .submit(actor.clone(), request("GRO-0", "9711 AB"))
        .await
        .unwrap();
    assert!(replay.replayed);
    // A day later the quota is free again.
    clock.advance(Duration::from_secs(24 * 3600 + 120));
    node.submit(actor.clone(), request("GRO-4", "9714 GH"))
        .await
        .unwrap();
    node.submit(actor.clone(), request("GRO-5", "9715 GH"))
        .await
        .unwrap();
    node.submit(actor.clone(), request("GRO-6", "9716 GH"))
        .await
        .unwrap();
    assert_eq!(
        node.submit(actor.clone(), request("GRO-7", "9717 GH"))
            .await
            .unwrap_err()
            .code(),
        Code::ResourceExhausted
    );
    // The privacy officer grants a bulk cross-check: the same partner goes on.
    node.live_policy().replace(with_limits(
        "limits = { identifiers_per_signal = 2, identifiers_per_day = 3 }\n\
         bulk = { identifiers_per_signal = 8, identifiers_per_day = 1_000, reason = \"test\" }",
    ));
    node.submit(actor, request("GRO-7", "9717 GH"))
        .await
        .unwrap();
    assert_eq!(stored(&node).await, 7);
}

/// A refusal is bounded however much was wrong: at most 8 violations and how many more, each
/// text cut short with control characters escaped, so the message and the details stay far below
/// what a default gRPC client reads (16 KiB of metadata for both).
#[test]
fn a_refusal_is_bounded_in_count_and_length() {
    // Megabyte texts in the violations that are reported, short ones after them.
    let huge = "é\n".repeat(500_000);
    let text = |i: usize| if i < 20 { huge.clone() } else { "x".into() };
    let refused = signaalnet_node::input::Refused {
        code: Code::InvalidArgument,
        violations: (0..10_000)
            .map(|i| pb::FieldViolation {
                field: format!("attributes[{i}].{}", text(i)),
                rule: "attribute.duplicate".into(),
                description: text(i),
            })
            .collect(),
    };
    let message = refused.message();
    assert!(message.len() < 4 * 1024, "{} bytes", message.len());
    assert!(!message.contains('\n'), "control characters escaped");
    assert!(
        message.contains("9992 more violation(s) not listed"),
        "{message}"
    );
    let details = refused.to_error();
    assert_eq!(details.violations.len(), 9);
    assert!(
        details.encoded_len() < 8 * 1024,
        "{} bytes",
        details.encoded_len()
    );
}
