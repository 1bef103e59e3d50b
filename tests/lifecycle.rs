//! Nothing kept past its time: after a withdrawal, after the end of retention and after the
//! time what is left of an ended signal is kept, every byte every role stored (SQLite: the
//! database files themselves, write-ahead log included; PostgreSQL: every row) and every log
//! line is searched for the case references and the pseudonyms of those signals. The chain
//! runs as processes over mTLS; "later" is made by moving the signals' stored times back, as a
//! role's clock moving on would, while the roles run their retention every second.
#![allow(clippy::unwrap_used)] // test fixtures

#[macro_use]
mod common;

use common::*;
use common::{postgres_url, Chain, Options};
use signaalnet_proto::v1 as pb;
use signaalnet_proto::v1::identifier::Value;
use sqlx::Row;
use std::time::{Duration, Instant};

const DAY: i64 = 86_400;

/// Waits until `query` (one row, one integer column) on `role`'s database gives `want`.
async fn until_count(chain: &Chain, role: &str, query: &str, want: i64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut conn = chain.connect(role).await.unwrap();
        let n: i64 = sqlx::query(query)
            .fetch_one(&mut conn)
            .await
            .unwrap()
            .get(0);
        if n == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{role}: `{query}` gave {n}, not {want}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The matching pseudonyms the coordinator holds of `signal_id`.
async fn pseudonyms(chain: &Chain, signal_id: &str) -> Vec<Vec<u8>> {
    let mut conn = chain.connect("coordinator").await.unwrap();
    sqlx::query(
        "SELECT k.pseudonym FROM coord_keys k JOIN coord_signals s ON s.seq = k.seq \
         WHERE s.signal_id = $1",
    )
    .bind(signal_id)
    .fetch_all(&mut conn)
    .await
    .unwrap()
    .iter()
    .map(|r| r.get::<Vec<u8>, _>("pseudonym"))
    .collect()
}

/// Every role's storage and log, by name.
async fn everything(chain: &Chain) -> Vec<(String, Vec<u8>)> {
    let mut places = Vec::new();
    for role in every_role() {
        places.push((
            format!("{role} log"),
            chain.log(&role).unwrap().into_bytes(),
        ));
        places.push((
            format!("{role} storage"),
            chain.stored_bytes(&role).await.unwrap(),
        ));
    }
    places
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Asserts that none of `needles` (text, or bytes also searched as hex as PostgreSQL's text
/// form of a byte column shows them) is anywhere in `places`.
fn nowhere(places: &[(String, Vec<u8>)], texts: &[&str], bytes: &[Vec<u8>], when: &str) {
    for (place, stored) in places {
        for text in texts {
            assert!(
                !contains(stored, text.as_bytes()),
                "{when}: `{text}` found in {place}"
            );
        }
        for b in bytes {
            assert!(!contains(stored, b), "{when}: a pseudonym found in {place}");
            assert!(
                !contains(stored, hex::encode(b).as_bytes()),
                "{when}: a pseudonym (hex) found in {place}"
            );
        }
    }
}

async fn nothing_of_a_signal_outlives_its_withdrawal_retention_or_tombstone(
    postgres: Option<&str>,
) {
    let chain = common::start_with(
        postgres,
        Options {
            retention_check_seconds: Some(1),
            ..Options::default()
        },
    )
    .await;
    // The police, the gemeente and the ZVH see the same person: a hit of three. The NLA's
    // signal about an employer matches nothing.
    let p = submit(
        &chain,
        POLITIE,
        signal(
            "PL-LC-0001",
            vec![person("Kowalczyk", "Anna", "1991-07-04")],
            &[("vorm_uitbuiting", "arbeidsuitbuiting")],
        ),
    )
    .await
    .unwrap();
    let g = submit(
        &chain,
        GEMEENTE,
        signal(
            "GRO-LC-0193",
            vec![
                person("KOWALCZYK", "A.", "04-07-1991"),
                address("9712 CD", "7"),
            ],
            &[("woonsituatie", "overbewoning"), ("gemeente", "GM0014")],
        ),
    )
    .await
    .unwrap();
    let z = submit(
        &chain,
        ZVH,
        signal(
            "ZVH-LC-0042",
            vec![person("Kowalczyk", "Anna", "1991-07-04")],
            &[],
        ),
    )
    .await
    .unwrap();
    let n = submit(
        &chain,
        NLA,
        signal("NLA-LC-0077", vec![id(Value::Kvk("40123456".into()))], &[]),
    )
    .await
    .unwrap();
    wait_delivered(&chain, POLITIE, std::slice::from_ref(&p))
        .await
        .unwrap();
    wait_delivered(&chain, GEMEENTE, std::slice::from_ref(&g))
        .await
        .unwrap();
    wait_delivered(&chain, NLA, std::slice::from_ref(&n))
        .await
        .unwrap();
    wait_delivered(&chain, ZVH, std::slice::from_ref(&z))
        .await
        .unwrap();
    // The three signals arrive in any order: the hit is whole when a partner's latest notice
    // names three kinds of partner.
    let whole = |h: &[pb::HitNotification]| h.last().is_some_and(|n| n.partner_roles.len() == 3);
    hits_until(&chain, POLITIE, whole).await;
    hits_until(&chain, GEMEENTE, whole).await;
    hits_until(&chain, ZVH, |h| !h.is_empty()).await;
    // The person's pseudonyms are the police signal's too (that is the hit); the address's
    // are the gemeente's signal's alone.
    let live_keys = pseudonyms(&chain, &p).await;
    let withdrawn_keys: Vec<Vec<u8>> = pseudonyms(&chain, &g)
        .await
        .into_iter()
        .filter(|k| !live_keys.contains(k))
        .collect();
    let unmatched_keys = pseudonyms(&chain, &n).await;
    assert!(!withdrawn_keys.is_empty(), "the address's match keys");
    assert!(!unmatched_keys.is_empty());
    // Positive controls: the search sees what is stored.
    let before = everything(&chain).await;
    let found = |text: &[u8]| before.iter().any(|(_, b)| contains(b, text));
    assert!(found(b"GRO-LC-0193"), "the case reference is stored");
    assert!(found(b"NLA-LC-0077"));
    assert!(
        withdrawn_keys
            .iter()
            .all(|k| found(k) || found(hex::encode(k).as_bytes())),
        "the pseudonyms are stored"
    );

    // 1. The gemeente withdraws its signal (by case reference): the hit shrinks to the police
    // and the ZVH, and ends for the gemeente, which is told SHRANK too (naming its signal as
    // withdrawn) and whose notices of it are replaced.
    chain
        .partner(GEMEENTE)
        .unwrap()
        .withdraw_signals(pb::WithdrawSignalsRequest {
            idempotency_key: "w-lc-1".into(),
            target: Some(pb::withdraw_signals_request::Target::CaseReference(
                "GRO-LC-0193".into(),
            )),
            reason: "correctie".into(),
        })
        .await
        .unwrap();
    let last_is = |change: pb::HitChange| {
        move |h: &[pb::HitNotification]| h.last().is_some_and(|n| n.change == change as i32)
    };
    hits_until(&chain, POLITIE, last_is(pb::HitChange::Shrank)).await;
    let told = hits_until(&chain, GEMEENTE, last_is(pb::HitChange::Shrank)).await;
    let own = &told.last().unwrap().own_signals;
    assert!(
        own.len() == 1 && own[0].signal_id == g && own[0].withdrawn,
        "{own:?}"
    );
    until_count(&chain, GEMEENTE, "SELECT COUNT(*) FROM node_hits", 1).await;
    until_count(
        &chain,
        GEMEENTE,
        "SELECT COUNT(*) FROM node_signals WHERE state = 'withdrawn'",
        1,
    )
    .await;
    let after = everything(&chain).await;
    nowhere(
        &after,
        &["GRO-LC-0193"],
        &withdrawn_keys,
        "after the withdrawal",
    );
    assert!(
        after.iter().any(|(_, b)| contains(b, b"PL-LC-0001")),
        "the police's live signal is still there (the search works)"
    );

    // 2. A year and more later the NLA's unmatched signal is past its retention (P6M).
    chain
        .execute(
            NLA,
            &format!(
                "UPDATE node_signals SET created_at = created_at - {} WHERE signal_id = '{n}'",
                400 * DAY
            ),
        )
        .await
        .unwrap();
    chain
        .execute(
            "coordinator",
            &format!(
                "UPDATE coord_signals SET received_at = received_at - {} WHERE signal_id = '{n}'",
                400 * DAY
            ),
        )
        .await
        .unwrap();
    until_count(
        &chain,
        NLA,
        "SELECT COUNT(*) FROM node_signals WHERE state = 'expired'",
        1,
    )
    .await;
    until_count(&chain, "coordinator", "SELECT COUNT(*) FROM coord_keys k JOIN coord_signals s ON s.seq = k.seq WHERE s.withdrawn_at IS NOT NULL", 0).await;
    until_count(
        &chain,
        "coordinator",
        &format!(
            "SELECT COUNT(*) FROM coord_signals WHERE signal_id = '{n}' AND withdrawn_at IS NULL"
        ),
        0,
    )
    .await;
    nowhere(
        &everything(&chain).await,
        &["GRO-LC-0193", "NLA-LC-0077"],
        &[withdrawn_keys.clone(), unmatched_keys.clone()].concat(),
        "after retention",
    );

    // 3. What is left of them (the rows that answer a status question, tombstones, the
    // dissolved hit, the notices that it ended, the withdrawal request) goes 30 days on.
    let month = 31 * DAY;
    for (role, statements) in [
        (
            GEMEENTE,
            vec![
                "UPDATE node_signals SET ended_at = ended_at - {m} WHERE ended_at IS NOT NULL",
                "UPDATE node_hits SET ended_at = ended_at - {m} WHERE ended_at IS NOT NULL",
                "UPDATE node_withdrawals SET created_at = created_at - {m}",
            ],
        ),
        (
            NLA,
            vec!["UPDATE node_signals SET ended_at = ended_at - {m} WHERE ended_at IS NOT NULL"],
        ),
        (
            POLITIE,
            vec!["UPDATE node_hits SET ended_at = ended_at - {m} WHERE ended_at IS NOT NULL"],
        ),
        (
            "coordinator",
            vec![
                "UPDATE coord_signals SET withdrawn_at = withdrawn_at - {m} WHERE withdrawn_at IS NOT NULL",
                "UPDATE coord_hits SET dissolved_at = dissolved_at - {m} WHERE dissolved_at IS NOT NULL",
                "UPDATE coord_notifications SET ended_at = ended_at - {m} WHERE ended_at IS NOT NULL",
            ],
        ),
    ] {
        for sql in statements {
            chain
                .execute(role, &sql.replace("{m}", &month.to_string()))
                .await
                .unwrap();
        }
    }
    until_count(&chain, GEMEENTE, "SELECT COUNT(*) FROM node_signals", 0).await;
    until_count(&chain, GEMEENTE, "SELECT COUNT(*) FROM node_withdrawals", 0).await;
    until_count(
        &chain,
        GEMEENTE,
        "SELECT COUNT(*) FROM node_hits WHERE ended_at IS NOT NULL",
        0,
    )
    .await;
    until_count(&chain, NLA, "SELECT COUNT(*) FROM node_signals", 0).await;
    until_count(
        &chain,
        POLITIE,
        "SELECT COUNT(*) FROM node_hits WHERE ended_at IS NOT NULL",
        0,
    )
    .await;
    until_count(
        &chain,
        "coordinator",
        &format!("SELECT COUNT(*) FROM coord_signals WHERE signal_id IN ('{g}', '{n}')"),
        0,
    )
    .await;
    until_count(
        &chain,
        "coordinator",
        "SELECT COUNT(*) FROM coord_hits WHERE dissolved_at IS NOT NULL",
        0,
    )
    .await;
    // The gemeente keeps nothing of the hit its signal left; the hit lives on for the others.
    until_count(&chain, GEMEENTE, "SELECT COUNT(*) FROM node_hits", 0).await;
    until_count(&chain, "coordinator", "SELECT COUNT(*) FROM coord_hits", 1).await;
    until_count(
        &chain,
        "coordinator",
        "SELECT COUNT(*) FROM coord_notifications WHERE ended_at IS NOT NULL",
        0,
    )
    .await;
    let status = chain
        .partner(GEMEENTE)
        .unwrap()
        .get_signal_status(pb::GetSignalStatusRequest {
            signal_id: g.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::NotFound);
    // The police's own signal is still live, still in the hit with the ZVH, still its own.
    let police = chain
        .partner(POLITIE)
        .unwrap()
        .get_signal_status(pb::GetSignalStatusRequest { signal_id: p })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(police.case_reference, "PL-LC-0001");
    // No role's log ever held a case reference.
    for role in every_role() {
        let log = chain.log(&role).unwrap();
        for case in ["GRO-LC-0193", "NLA-LC-0077", "PL-LC-0001", "ZVH-LC-0042"] {
            assert!(!log.contains(case), "`{case}` in the log of {role}");
        }
    }
}

on_both_databases!(nothing_of_a_signal_outlives_its_withdrawal_retention_or_tombstone);
