//! End-to-end: what a caller sends cannot forge, hide or swell a line in any role's log, and no
//! personal value it sends is logged. The chain runs as processes; requests carry line breaks,
//! a forged log line, NUL, terminal escape sequences, Unicode line separators, a bidi override
//! and megabyte values in every string field that could reach a log, through the partner API
//! (unary and stream) and the analyst API; then every role's log is read line by line.
#![allow(clippy::unwrap_used)] // test fixtures

#[macro_use]
mod common;

use common::*;
use signaalnet_proto::v1 as pb;
use signaalnet_proto::v1::identifier::Value;
use std::time::Duration;

/// What a forged line would start with.
const FORGED_PREFIX: &str = "2026-01-01T00:00:00Z";
/// The longest line a role may write (`signaalnet_telemetry::safe::LINE_MAX`, README "Logs").
const LINE_MAX: usize = 8192;

/// Personal values the requests carry; none may appear in any log.
const BSN: &str = "123456782";
const SURNAME: &str = "Wiśniewska";
const GIVEN: &str = "Agnieszka";
const CASE: &str = "LOGS-CASE-1";
const HOSTILE_CASE: &str = "LOGS-CASE-2";

/// A text that tries everything at once, carrying `personal` so a leak is visible.
fn hostile(personal: &str) -> String {
    format!(
        "{personal}\n{FORGED_PREFIX} ERROR forged\r{FORGED_PREFIX} ERROR forged\0nul \
         \x1b[2J\x1b]0;title\x07\x1b[31mred\u{85}{FORGED_PREFIX} ERROR forged\
         \u{2028}{FORGED_PREFIX} ERROR forged\u{2029}\u{202e}dekovrev\u{200b}\u{feff}"
    )
}

fn megabyte(personal: &str) -> String {
    format!("{}{}", hostile(personal), "m".repeat(1 << 20))
}

/// Whether `c` may not appear raw in a log line: a control character (the line's own newline
/// is not part of a line), a Unicode line or paragraph separator, or an invisible format
/// character (bidi controls, zero-width characters, the byte-order mark).
fn raw_control(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}'
                | '\u{2029}'
                | '\u{200b}'..='\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{206f}'
                | '\u{feff}'
        )
}

fn valid(case: &str) -> pb::SubmitSignalRequest {
    signal(
        case,
        vec![
            person(SURNAME, GIVEN, "1990-05-17"),
            id(Value::Bsn(BSN.into())),
        ],
        &[("woonsituatie", "overbewoning"), ("gemeente", "GM0014")],
    )
}

/// Submissions with a hostile value in each string field a partner system fills in.
fn hostile_submissions() -> Vec<pb::SubmitSignalRequest> {
    let mut out = Vec::new();
    let mut with = |change: &dyn Fn(&mut pb::SubmitSignalRequest)| {
        let mut request = valid(HOSTILE_CASE);
        change(&mut request);
        out.push(request);
    };
    with(&|r| r.purpose = hostile(BSN));
    with(&|r| r.purpose = megabyte(BSN));
    with(&|r| r.case_reference = hostile(HOSTILE_CASE));
    with(&|r| r.case_reference = megabyte(HOSTILE_CASE));
    with(&|r| r.idempotency_key = hostile(HOSTILE_CASE));
    with(&|r| r.idempotency_key = megabyte(HOSTILE_CASE));
    with(&|r| r.observed_month = hostile(BSN));
    with(&|r| {
        r.attributes.push(pb::Attribute {
            id: hostile(BSN),
            value: "x".into(),
        })
    });
    with(&|r| {
        r.attributes.push(pb::Attribute {
            id: megabyte(BSN),
            value: "x".into(),
        })
    });
    with(&|r| r.attributes[0].value = hostile(BSN));
    with(&|r| r.identifiers = vec![person(&hostile(SURNAME), GIVEN, "1990-05-17")]);
    with(&|r| r.identifiers = vec![id(Value::Bsn(hostile(BSN)))]);
    with(&|r| r.identifiers = vec![address(&hostile("9711 AB"), "12")]);
    out
}

async fn no_caller_value_reaches_a_log_raw(postgres: Option<&str>) {
    let chain = common::start(postgres).await;
    // One valid signal, so the chain logs the ordinary path too (accepted, forwarded, matched).
    let accepted = submit(&chain, GEMEENTE, valid(CASE)).await.unwrap();
    wait_delivered(&chain, GEMEENTE, std::slice::from_ref(&accepted))
        .await
        .unwrap();

    let mut partner = chain.partner(GEMEENTE).unwrap();
    for request in hostile_submissions() {
        // Refused or accepted: what matters here is what the roles log of it.
        let _ = partner.submit_signal(request).await;
    }
    if let Ok(results) = partner
        .submit_signals(tokio_stream::iter(hostile_submissions()))
        .await
    {
        let mut results = results.into_inner();
        while let Ok(Some(_)) = results.message().await {}
    }
    use pb::withdraw_signals_request::Target;
    for target in [
        Target::CaseReference(hostile(HOSTILE_CASE)),
        Target::CaseReference(megabyte(HOSTILE_CASE)),
        Target::SignalId(hostile(HOSTILE_CASE)),
        Target::Identifier(id(Value::Bsn(hostile(BSN)))),
    ] {
        let _ = partner
            .withdraw_signals(pb::WithdrawSignalsRequest {
                idempotency_key: hostile(HOSTILE_CASE),
                target: Some(target),
                reason: hostile(SURNAME),
            })
            .await;
    }
    for (purpose, page_token) in [
        (hostile(BSN), String::new()),
        (megabyte(BSN), String::new()),
        (DRIELUIK.to_owned(), hostile(BSN)),
        (DRIELUIK.to_owned(), megabyte(BSN)),
    ] {
        let _ = partner
            .list_hits(pb::ListHitsRequest {
                purpose,
                page_size: 10,
                page_token,
            })
            .await;
    }
    let _ = partner
        .get_signal_status(pb::GetSignalStatusRequest {
            signal_id: megabyte(HOSTILE_CASE),
        })
        .await;

    let mut analyst = chain.analyst(RIEC).unwrap();
    for (purpose, filter) in [
        (hostile(BSN), String::new()),
        (megabyte(BSN), String::new()),
        (RIEC_ANALYSE.to_owned(), hostile(BSN)),
    ] {
        let _ = analyst
            .list_hits(pb::AnalystListHitsRequest {
                purpose,
                filter: vec![pb::Attribute {
                    id: filter.clone(),
                    value: filter,
                }],
                page_size: 10,
                page_token: hostile(BSN),
            })
            .await;
    }
    for (purpose, hit_id) in [
        (hostile(BSN), String::new()),
        (RIEC_ANALYSE.to_owned(), hostile(BSN)),
        (RIEC_ANALYSE.to_owned(), megabyte(BSN)),
    ] {
        let _ = analyst.get_hit(pb::GetHitRequest { purpose, hit_id }).await;
    }
    for (purpose, dimension, period) in [
        (hostile(BSN), "gemeente".to_owned(), String::new()),
        (MONITOR.to_owned(), hostile(BSN), String::new()),
        (MONITOR.to_owned(), "gemeente".to_owned(), hostile(BSN)),
    ] {
        let _ = analyst
            .get_monitor(pb::GetMonitorRequest {
                purpose,
                dimensions: vec![dimension],
                period,
            })
            .await;
    }

    // A last valid signal after everything else: once it is delivered, the roles have logged
    // what they did with the requests before it.
    let last = submit(&chain, GEMEENTE, valid("LOGS-CASE-3"))
        .await
        .unwrap();
    wait_delivered(&chain, GEMEENTE, std::slice::from_ref(&last))
        .await
        .unwrap();
    chain
        .wait_for_log(GEMEENTE, "signal refused", Duration::from_secs(30))
        .await
        .unwrap();

    let mut roles: Vec<String> = chain.nodes().map(str::to_owned).collect();
    roles.push("coordinator".to_owned());
    roles.extend(TRANSCRYPTORS.iter().map(|t| (*t).to_owned()));
    for role in &roles {
        let log = chain.log(role).unwrap();
        assert!(!log.is_empty(), "{role} logged nothing");
        for line in log.split('\n') {
            let shown = || line.chars().take(300).collect::<String>();
            assert!(
                line.len() <= LINE_MAX,
                "{role}: a line of {} bytes: {:?}…",
                line.len(),
                shown()
            );
            assert!(
                !line.chars().any(raw_control),
                "{role}: a raw control character in {:?}…",
                shown()
            );
            // Whatever a reader takes for a line break, no line is forged.
            for part in line.split(['\r', '\u{85}', '\u{2028}', '\u{2029}', '\u{b}', '\u{c}']) {
                assert!(
                    !part.starts_with(FORGED_PREFIX),
                    "{role}: a forged line {:?}…",
                    shown()
                );
            }
        }
        for personal in [
            BSN,
            SURNAME,
            "wisniewska",
            "WISNIEWSKA",
            GIVEN,
            CASE,
            HOSTILE_CASE,
            "LOGS-CASE-3",
            "9711 AB",
            "9711AB",
        ] {
            assert!(!log.contains(personal), "{role}'s log holds `{personal}`");
        }
    }
    // Positive control: the node logged the refusals the test looks at.
    let node = chain.log(GEMEENTE).unwrap();
    assert!(node.contains("signal refused"), "{node}");
    assert!(node.contains("signal accepted into the outbox"), "{node}");
}

on_both_databases!(no_caller_value_reaches_a_log_raw);
