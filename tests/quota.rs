//! End-to-end: the probing limits of the policy on the whole chain as separate processes over
//! mTLS. A partner over its per-signal cap or its daily quota is refused RESOURCE_EXHAUSTED
//! naming the quota, at its node and again at the coordinator; an explicit bulk grant lifts
//! it; withdrawing signals right after their hits raises an audited alarm at the coordinator.
#![allow(clippy::unwrap_used)] // test fixtures

mod common;

use common::{postgres_url, Chain};
use common::{settled, DRIELUIK, GEMEENTE, POLITIE};
use signaalnet_proto::v1 as pb;
use signaalnet_proto::v1::identifier::Value;
use std::time::{Duration, Instant};
use tonic::Code;

const GEMEENTE_FILE: &str = "partners/gemeente-groningen.toml";
const EXAMPLE_LIMITS: &str = "limits = { identifiers_per_signal = 8, identifiers_per_day = 2_000 }";

fn person(surname: &str) -> pb::Identifier {
    pb::Identifier {
        value: Some(Value::Person(pb::Person {
            surname: surname.into(),
            given_names: "Piotr".into(),
            date_of_birth: "1994-03-12".into(),
        })),
    }
}

fn phone(i: usize) -> pb::Identifier {
    pb::Identifier {
        value: Some(Value::Phone(format!("+31 6 5000 {i:04}"))),
    }
}

fn signal(case: &str, identifiers: Vec<pb::Identifier>) -> pb::SubmitSignalRequest {
    pb::SubmitSignalRequest {
        idempotency_key: format!("key/{case}"),
        case_reference: case.into(),
        purpose: DRIELUIK.into(),
        observed_month: "2026-10".into(),
        identifiers,
        attributes: Vec::new(),
    }
}

/// Two phone numbers: two match keys.
fn two(case: &str, i: usize) -> pb::SubmitSignalRequest {
    signal(case, vec![phone(2 * i), phone(2 * i + 1)])
}

async fn submit(
    chain: &Chain,
    partner: &str,
    r: pb::SubmitSignalRequest,
) -> Result<String, tonic::Status> {
    chain
        .partner(partner)
        .unwrap()
        .submit_signal(r)
        .await
        .map(|a| a.into_inner().signal_id)
}

fn assert_names(status: &tonic::Status, needles: &[&str]) {
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    for needle in needles {
        assert!(
            status.message().contains(needle),
            "{needle} not in {}",
            status.message()
        );
    }
}

/// Rewrites the gemeente's drieluik limits and waits until `roles` enforce the new set.
async fn set_limits(chain: &Chain, limits: &str, roles: &[&str]) {
    let before: Vec<String> = {
        let mut v = Vec::new();
        for role in roles {
            v.push(chain.role_info(role).await.unwrap().policy_version);
        }
        v
    };
    let path = chain.policies().join(GEMEENTE_FILE);
    let text = std::fs::read_to_string(&path).unwrap();
    let start = text.find("limits = {").unwrap();
    let end = start + text[start..].find("\n[[share]]").unwrap();
    let edited = format!("{}{limits}\n{}", &text[..start], &text[end..]);
    std::fs::write(&path, edited).unwrap();
    for (role, old) in roles.iter().zip(before) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let info = chain.role_info(role).await.unwrap();
            assert!(
                info.last_refused_reload.is_empty(),
                "{role}: {}",
                info.last_refused_reload
            );
            if info.policy_version != old {
                break;
            }
            assert!(Instant::now() < deadline, "{role} did not reload");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Waits until the signal has left the outbox; returns its status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotas_refuse_at_the_node_and_again_at_the_coordinator_and_a_bulk_grant_lifts_them() {
    quotas_and_alarms(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotas_and_alarms_on_postgres() {
    let Some(url) = postgres_url() else {
        return;
    };
    quotas_and_alarms(Some(&url)).await;
}

async fn quotas_and_alarms(postgres: Option<&str>) {
    let mut chain = common::start(postgres).await;

    // Three persons are nine match keys: over the example's cap of eight per signal.
    let status = submit(
        &chain,
        GEMEENTE,
        signal(
            "GRO-1",
            vec![person("Nowak"), person("Kowalski"), person("Lewandowski")],
        ),
    )
    .await
    .unwrap_err();
    assert_names(
        &status,
        &[
            "identifiers",
            "limits.identifiers_per_signal of 8 per signal",
            GEMEENTE_FILE,
        ],
    );

    // A small daily quota: three signals of two keys fit, the fourth does not.
    set_limits(
        &chain,
        "limits = { identifiers_per_signal = 4, identifiers_per_day = 6 }",
        &[GEMEENTE, "coordinator"],
    )
    .await;
    let mut accepted = Vec::new();
    for i in 0..3 {
        accepted.push(
            submit(&chain, GEMEENTE, two(&format!("GRO-D{i}"), i))
                .await
                .unwrap(),
        );
    }
    let status = submit(&chain, GEMEENTE, two("GRO-D3", 3))
        .await
        .unwrap_err();
    assert_names(
        &status,
        &[
            "identifiers: quota limits.identifiers_per_day of 6 identifiers per 24 hours",
            "6 used, 2 more asked",
            "frees up at",
        ],
    );
    for id in &accepted {
        let s = settled(&chain, GEMEENTE, id).await.unwrap();
        assert_eq!(s.state, pb::SignalState::Unmatched as i32, "{}", s.detail);
    }

    // The privacy officer grants a bulk cross-check: both the fourth signal and a signal of
    // nine keys go through, node and coordinator alike.
    set_limits(
        &chain,
        "limits = { identifiers_per_signal = 4, identifiers_per_day = 6 }\n\
         bulk = { identifiers_per_signal = 16, identifiers_per_day = 1_000, reason = \"e2e\" }",
        &[GEMEENTE, "coordinator"],
    )
    .await;
    let fourth = submit(&chain, GEMEENTE, two("GRO-D3", 3)).await.unwrap();
    let nine = submit(
        &chain,
        GEMEENTE,
        signal(
            "GRO-B1",
            vec![person("Nowak"), person("Kowalski"), person("Lewandowski")],
        ),
    )
    .await
    .unwrap();
    for id in [&fourth, &nine] {
        let s = settled(&chain, GEMEENTE, id).await.unwrap();
        assert_ne!(s.state, pb::SignalState::Refused as i32, "{}", s.detail);
    }
    // The coordinator counted 6 + 2 + 9 = 17 keys of the gemeente today.

    // Defence in depth: while the coordinator is down the node accepts two signals under the
    // bulk grant; the grant is then withdrawn (20 a day). On its return the coordinator, its
    // window restored from its database, takes the first (19) and refuses the second (21).
    chain.kill("coordinator").unwrap();
    let a = submit(&chain, GEMEENTE, two("GRO-C1", 10)).await.unwrap();
    let b = submit(&chain, GEMEENTE, two("GRO-C2", 11)).await.unwrap();
    // Both converted by the transcryptors under the grant (their delivery failed for want of a
    // coordinator) before the grant goes: the transcryptors count them then, once.
    for id in [&a, &b] {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let status = chain
                .partner(GEMEENTE)
                .unwrap()
                .get_signal_status(pb::GetSignalStatusRequest {
                    signal_id: id.clone(),
                })
                .await
                .unwrap()
                .into_inner();
            if status.detail.starts_with("coordinator:") {
                break;
            }
            assert!(Instant::now() < deadline, "{id}: {}", status.detail);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    set_limits(
        &chain,
        "limits = { identifiers_per_signal = 4, identifiers_per_day = 20 }",
        &[GEMEENTE],
    )
    .await;
    chain.restart("coordinator").await.unwrap();
    // (The outbox orders signals of one second by id: either may arrive first.)
    let mut states = [
        settled(&chain, GEMEENTE, &a).await.unwrap(),
        settled(&chain, GEMEENTE, &b).await.unwrap(),
    ];
    states.sort_by_key(|s| s.state);
    let [first, second] = [&states[0], &states[1]];
    assert_eq!(
        first.state,
        pb::SignalState::Unmatched as i32,
        "{}",
        first.detail
    );
    assert_eq!(
        second.state,
        pb::SignalState::Refused as i32,
        "{}",
        second.detail
    );
    for needle in [
        "limits.identifiers_per_day of 20 identifiers per 24 hours",
        "19 used, 2 more asked",
        "frees up at",
    ] {
        assert!(
            second.detail.contains(needle),
            "{needle} not in {}",
            second.detail
        );
    }
    // The coordinator audited the refusal with its quota, and stored nothing of it.
    let (_, out, _) = chain
        .audit("show", "coordinator", &["--step", "refuse"])
        .unwrap();
    assert!(out.contains("limits.identifiers_per_day"), "{out}");
    assert!(chain.log("coordinator").unwrap().contains("over quota"));

    // The example set's limits again, for what follows.
    set_limits(&chain, EXAMPLE_LIMITS, &[GEMEENTE, POLITIE, "coordinator"]).await;

    // Probing: the police submits on three of the gemeente's numbers, sees each hit, and
    // withdraws it at once. The third raises an alarm at the coordinator, with counts only.
    for i in 0..3 {
        let case = format!("PL-P{i}");
        let id = submit(&chain, POLITIE, signal(&case, vec![phone(2 * i)]))
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let s = settled(&chain, POLITIE, &id).await.unwrap();
            if s.state == pb::SignalState::InHit as i32 {
                break;
            }
            assert!(Instant::now() < deadline, "{case} not in a hit: {s:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        chain
            .partner(POLITIE)
            .unwrap()
            .withdraw_signals(pb::WithdrawSignalsRequest {
                idempotency_key: format!("w/{case}"),
                target: Some(pb::withdraw_signals_request::Target::CaseReference(case)),
                reason: "test".into(),
            })
            .await
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let shown = loop {
        let (code, out, err) = chain
            .audit("show", "coordinator", &["--step", "alarm"])
            .unwrap();
        assert_eq!(code, 0, "{err}");
        if out.contains("alarm") && out.contains("withdrew 3 signal(s)") {
            break out;
        }
        assert!(Instant::now() < deadline, "no alarm in the trail: {out}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert!(
        shown.contains(POLITIE) && shown.contains(DRIELUIK),
        "{shown}"
    );
    for leak in ["PL-P", "sig-", "+31"] {
        assert!(!shown.contains(leak), "{leak} in {shown}");
    }
    let log = chain.log("coordinator").unwrap();
    let line = log
        .lines()
        .find(|l| l.contains("alarm withdrawn_after_hit"))
        .unwrap_or_else(|| panic!("the alarm is not logged: {log}"));
    assert!(line.contains("WARN"), "{line}");
    let (code, out, _) = chain.audit("verify", "coordinator", &[]).unwrap();
    assert_eq!(code, 0, "{out}");
}
