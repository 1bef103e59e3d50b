//! `signaalnet demo`: the whole chain on loopback with a scenario drawn from the seed documents,
//! then what every party learned. Exits 1 if the chain did not produce what the scenario expects.

pub mod report;
mod scenario;

use crate::chain::{Chain, Options, Run};
use crate::partners::{DRIELUIK, GEMEENTE, MONITOR, NLA, POLITIE, RIEC, RIEC_ANALYSE, ZORG, ZVH};
use crate::requests::{address, id, signal_for, wait_delivered};
use anyhow::{bail, Context, Result};
use report::{attrs, describe, kind, print_table, roles, short};
use signaalnet_proto::v1 as pb;
use signaalnet_proto::v1::identifier::Value;
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_stream::StreamExt;

/// Runs the demo in a temporary directory, kept (and printed) with `keep`; with `stay`, the
/// chain keeps running after the scenario until Ctrl-C, for the analyst CLI.
pub fn run(keep: bool, stay: bool) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(demo(keep, stay))
}

type Seen = Arc<Mutex<BTreeMap<String, Vec<pb::HitNotification>>>>;

async fn demo(keep: bool, stay: bool) -> Result<ExitCode> {
    let started = Instant::now();
    let mut chain = Chain::start(Options::default(), Run::InProcess).await?;
    let history = crate::history::seed_drenthe_2023(&chain).await?;
    let dir = if keep {
        chain.keep()
    } else {
        chain.dir().to_owned()
    };
    println!("signaalnet demo — the whole chain on loopback, mTLS with generated certificates");
    println!(
        "  partner nodes: {}",
        chain.nodes().collect::<Vec<_>>().join(", ")
    );
    println!(
        "  coordinator:   {}   policy {}",
        chain.roles["coordinator"].url,
        short(chain.policy.version())
    );
    println!("  data:          {}", dir.display());

    // Every partner system follows its own hit stream from the start.
    let seen: Seen = Arc::default();
    let mut followers = Vec::new();
    for partner in chain.nodes() {
        let mut client = chain.partner(partner)?;
        let seen = Arc::clone(&seen);
        let partner = partner.to_owned();
        followers.push(tokio::spawn(async move {
            loop {
                if let Ok(response) = client.watch_hits(pb::WatchHitsRequest::default()).await {
                    let mut stream = response.into_inner();
                    while let Some(Ok(n)) = stream.next().await {
                        if let Ok(mut seen) = seen.lock() {
                            seen.entry(partner.clone()).or_default().push(n);
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }));
    }

    let signals = scenario::scenario();
    let mut submitted: BTreeMap<String, (&str, String)> = BTreeMap::new();
    for (partner, request) in &signals {
        let case = request.case_reference.clone();
        let response = submit_retrying(&chain, partner, request.clone()).await?;
        submitted.insert(case, (*partner, response.signal_id));
    }
    println!(
        "\n{} signals submitted by four partners; waiting for delivery …",
        signals.len()
    );
    for (partner, id) in submitted.values() {
        wait_delivered(&chain, partner, std::slice::from_ref(id)).await?;
    }
    settle(&seen, |s| count_formed(s) >= 8).await;

    println!("\nThe ZVH withdraws ZVH-GRN-2026-0193 (the client's situation was misjudged).");
    chain
        .partner(ZVH)?
        .withdraw_signals(pb::WithdrawSignalsRequest {
            idempotency_key: "key/withdraw-0193".into(),
            target: Some(pb::withdraw_signals_request::Target::CaseReference(
                "ZVH-GRN-2026-0193".into(),
            )),
            reason: "correctie".into(),
        })
        .await
        .context("withdrawal")?;
    settle(&seen, |s| {
        s.get(POLITIE).is_some_and(|n| {
            n.iter()
                .any(|h| h.change == pb::HitChange::Dissolved as i32)
        })
    })
    .await;

    let learned = seen.lock().map(|s| s.clone()).unwrap_or_default();
    println!("\n=== What each partner learned (only through its own signals) ===");
    for partner in chain.nodes() {
        let name = chain
            .policy
            .partner(partner)
            .map_or(partner, |p| p.name.as_str());
        println!("\n{name}");
        let notes = learned.get(partner).cloned().unwrap_or_default();
        if notes.is_empty() {
            println!("  nothing: none of its signals is in a hit");
        }
        for n in &notes {
            println!("  {}", describe(n));
        }
    }

    let consulted = consultation(&chain, &seen).await;

    println!(
        "\n=== RIEC analyst (purpose {RIEC_ANALYSE}: per-purpose handles, never identities) ==="
    );
    let mut riec = chain.analyst(RIEC)?;
    let hits = riec
        .list_hits(pb::AnalystListHitsRequest {
            purpose: RIEC_ANALYSE.into(),
            ..Default::default()
        })
        .await?
        .into_inner()
        .hits;
    for hit in &hits {
        println!(
            "  {} formed {}  {} signals from {}",
            hit.hit_id,
            hit.formed_month,
            hit.signal_count,
            roles(&hit.partner_roles)
        );
        for h in &hit.handles {
            println!("    {:<13} {}", kind(h.kind), h.handle);
        }
        println!("    attributes: {}", attrs(&hit.attributes));
    }
    println!("\n=== ZVH as ketenregisseur (purpose {DRIELUIK}) ===");
    let drieluik = chain
        .analyst(ZVH)?
        .list_hits(pb::AnalystListHitsRequest {
            purpose: DRIELUIK.into(),
            ..Default::default()
        })
        .await?
        .into_inner()
        .hits;
    for hit in &drieluik {
        let kinds: std::collections::BTreeSet<&str> =
            hit.handles.iter().map(|h| kind(h.kind)).collect();
        let kinds: Vec<&str> = kinds.into_iter().collect();
        println!(
            "  {} {} signals from {}; linked through {}",
            hit.hit_id,
            hit.signal_count,
            roles(&hit.partner_roles),
            kinds.join(", ")
        );
        println!("    attributes: {}", attrs(&hit.attributes));
    }

    println!("\n=== Regional monitor ({MONITOR}), as the RIEC sees it ===");
    let mut monitor_problems = Vec::new();
    println!(
        "  History: the {history} signals of the ZVH Drenthe annual report on 2023 (by form 28 / 11 \
         / 7 / 21, by origin Assen 11, Emmen 15, …, unknown 12), written into the coordinator's \
         store as if they arrived {ago} days ago: a signal counts only after the monitor's delay, \
         so this demo's own signals are not in it yet."
        ,
        ago = 50,
    );
    for (dims, period) in [
        (vec!["vorm_uitbuiting"], "2023"),
        (vec!["gemeente"], "2023"),
        (vec!["gemeente", "vorm_uitbuiting"], "2023"),
        (vec!["maand_waarneming"], ""),
    ] {
        let table = riec
            .get_monitor(pb::GetMonitorRequest {
                purpose: MONITOR.into(),
                dimensions: dims.iter().map(|d| (*d).into()).collect(),
                period: period.into(),
            })
            .await?
            .into_inner();
        print_table(&table);
        if dims == ["vorm_uitbuiting"] {
            let published = |form: &str| {
                table
                    .rows
                    .iter()
                    .find(|r| r.values == [form])
                    .map(|r| i64::from(r.count))
            };
            let bound = table
                .method
                .as_ref()
                .map_or(0, |m| i64::from(m.noise_bound));
            for (form, n) in signaalnet_coordinator::monitor::drenthe::FORMS {
                let n = i64::try_from(n).unwrap_or(i64::MAX);
                let ok = match published(form) {
                    Some(shown) => n >= 10 && (shown - n).abs() <= bound,
                    None => n < 10,
                };
                if !ok {
                    monitor_problems.push(format!(
                        "monitor: {form} ({n}) not shown as the method says"
                    ));
                }
            }
        }
    }

    println!("\n=== What is refused, and how the partner is told ===");
    let mut refused = Vec::new();
    let attempts = [
        (
            GEMEENTE,
            "a gemeente may not share a police registration",
            signal_for(
                "GRO-HH-2026-99999",
                DRIELUIK,
                "2026-10",
                vec![address("9711AB", "12")],
                &[("politie_registratie", "true")],
            ),
        ),
        (
            GEMEENTE,
            "a BSN that fails the elfproef",
            signal_for(
                "GRO-JZ-2026-99999",
                ZORG,
                "2026-10",
                vec![id(Value::Bsn("123456789".into()))],
                &[],
            ),
        ),
        (
            NLA,
            "the NLA does not take part in zorgcoördinatie",
            signal_for(
                "NLA-INS-2026-99999",
                ZORG,
                "2026-10",
                vec![id(Value::Bsn("111222333".into()))],
                &[],
            ),
        ),
    ];
    for (partner, what, request) in attempts {
        let status = chain.partner(partner)?.submit_signal(request).await.err();
        println!("  {what}:");
        match status {
            Some(s) => {
                println!("    {:?}: {}", s.code(), s.message());
                refused.push(s.code());
            }
            None => println!("    ACCEPTED (unexpected)"),
        }
    }
    let impersonation = {
        let channel = chain.channel(GEMEENTE, POLITIE)?;
        signaalnet_proto::v1::partner_service_client::PartnerServiceClient::new(channel)
            .submit_signal(signal_for(
                "X-1",
                DRIELUIK,
                "2026-10",
                vec![address("9711AB", "12")],
                &[],
            ))
            .await
            .err()
    };
    println!("  the police certificate at the gemeente's node:");
    if let Some(s) = &impersonation {
        println!("    {:?}: {}", s.code(), s.message());
    }

    // The scenario's expectations.
    let mut problems = monitor_problems;
    let formed = |p: &str, purpose: &str| {
        learned.get(p).is_some_and(|n| {
            n.iter()
                .any(|h| h.purpose == purpose && h.change != pb::HitChange::Dissolved as i32)
        })
    };
    for (p, purpose) in [
        (NLA, DRIELUIK),
        (GEMEENTE, DRIELUIK),
        (POLITIE, DRIELUIK),
        (ZVH, DRIELUIK),
        (GEMEENTE, ZORG),
        (ZVH, ZORG),
        (NLA, RIEC_ANALYSE),
        (POLITIE, RIEC_ANALYSE),
        (GEMEENTE, RIEC_ANALYSE),
    ] {
        if !formed(p, purpose) {
            problems.push(format!("{p} did not learn of a hit for {purpose}"));
        }
    }
    if hits.len() != 1 || hits[0].partner_roles.len() != 3 {
        problems.push(format!(
            "the RIEC should see one hit of three partners, saw {}",
            hits.len()
        ));
    }
    if drieluik.len() != 1 {
        problems.push(format!(
            "after the withdrawal one drieluik hit should remain, saw {}",
            drieluik.len()
        ));
    }
    let noise_in_hit = learned
        .values()
        .flatten()
        .flat_map(|n| &n.own_signals)
        .any(|s| {
            [
                "NLA-INS-2026-05",
                "NLA-INS-2026-06",
                "PL0100-2026-7800",
                "GRO-HH-2026-900",
                "ZVH-GRN-2026-03",
            ]
            .iter()
            .any(|prefix| s.case_reference.starts_with(prefix))
        });
    if noise_in_hit {
        problems.push("a background signal ended up in a hit".into());
    }
    if let Err(e) = consulted {
        problems.push(format!("the consultation: {e}"));
    }
    if refused.len() != 3 || impersonation.is_none() {
        problems.push("a refusal was accepted".into());
    }
    if let Some(failed) = chain.failed() {
        problems.push(failed);
    }
    for follower in followers {
        follower.abort();
    }
    if stay {
        let config = chain.analyst_config(RIEC)?;
        println!(
            "\nThe chain keeps running until Ctrl-C. Ask it as the RIEC (exit codes: 0 answered, 1 \
             refused, 2 usage, 3 unreachable):\n  \
             signaalnet analyst --config {c} hits --purpose {RIEC_ANALYSE}\n  \
             signaalnet analyst --config {c} hit --purpose {RIEC_ANALYSE} HIT_ID --json\n  \
             signaalnet analyst --config {c} monitor --purpose {MONITOR} --dimension gemeente --format csv",
            c = config.display()
        );
        let console = crate::console::start_demo_console(&chain, RIEC).await?;
        println!("{console}");
        tokio::signal::ctrl_c().await?;
    }
    chain.stop().await?;
    if keep {
        println!(
            "\nkept {} (databases in data/, certificates in certs/, keys in keys/)",
            dir.display()
        );
    }
    println!("\ndone in {:.1} s", started.elapsed().as_secs_f64());
    if problems.is_empty() {
        println!("every expectation of the scenario held");
        Ok(ExitCode::SUCCESS)
    } else {
        for p in &problems {
            println!("UNEXPECTED: {p}");
        }
        Ok(ExitCode::FAILURE)
    }
}

/// After a hit (docs/DESIGN.md §6b): the gemeente asks the other partners of its drieluik hit
/// about the overcrowded address for a case consultation; the NLA accepts, anyone else declines
/// (already in contact). Prints what each partner is told.
async fn consultation(chain: &Chain, seen: &Seen) -> Result<()> {
    println!("\n=== After a hit: the gemeente asks for a case consultation ===");
    let mut gemeente = chain.partner(GEMEENTE)?;
    let listed = gemeente
        .list_hits(pb::ListHitsRequest {
            purpose: DRIELUIK.into(),
            ..Default::default()
        })
        .await?
        .into_inner();
    let hit = listed
        .hits
        .iter()
        .find(|h| {
            h.own_signals
                .iter()
                .any(|o| o.case_reference == "GRO-HH-2026-88123")
        })
        .context("the gemeente's hit about the address")?;
    println!(
        "  contact points the gemeente sees: {}",
        hit.contact_points.join(", ")
    );
    let asked = gemeente
        .request_consultation(pb::RequestConsultationRequest {
            idempotency_key: "key/consult-88123".into(),
            hit_id: hit.hit_id.clone(),
            purpose: DRIELUIK.into(),
            reason: pb::ConsultationReason::Drieluik as i32,
        })
        .await
        .context("the consultation request")?
        .into_inner();
    let asked_of = |s: &BTreeMap<String, Vec<pb::HitNotification>>| -> Vec<String> {
        s.iter()
            .filter(|(_, notes)| {
                notes.iter().any(|n| {
                    n.consultation
                        .as_ref()
                        .is_some_and(|c| c.consultation_id == asked.consultation_id)
                })
            })
            .map(|(p, _)| p.clone())
            .collect()
    };
    settle(seen, |s| asked_of(s).len() + 1 >= hit.partner_roles.len()).await;
    let addressees = seen.lock().map(|s| asked_of(&s)).unwrap_or_default();
    if addressees.is_empty() {
        bail!("no partner was sent the request");
    }
    for partner in &addressees {
        let (answer, reason) = if partner == NLA {
            (
                pb::ConsultationAnswer::Accepted,
                pb::DeclineReason::Unspecified,
            )
        } else {
            (
                pb::ConsultationAnswer::Declined,
                pb::DeclineReason::AlreadyInContact,
            )
        };
        chain
            .partner(partner)?
            .answer_consultation(pb::AnswerConsultationRequest {
                consultation_id: asked.consultation_id.clone(),
                hit_id: hit.hit_id.clone(),
                answer: answer as i32,
                decline_reason: reason as i32,
            })
            .await
            .with_context(|| format!("{partner}'s answer"))?;
    }
    let answers = |s: &BTreeMap<String, Vec<pb::HitNotification>>| {
        s.get(GEMEENTE).map_or(0, |notes| {
            notes
                .iter()
                .filter(|n| {
                    n.consultation.as_ref().is_some_and(|c| {
                        c.consultation_id == asked.consultation_id
                            && c.event == pb::ConsultationEvent::Answered as i32
                    })
                })
                .count()
        })
    };
    settle(seen, |s| answers(s) == addressees.len()).await;
    let now = seen.lock().map(|s| s.clone()).unwrap_or_default();
    for partner in std::iter::once(GEMEENTE).chain(addressees.iter().map(String::as_str)) {
        println!("\n{partner}");
        for n in now.get(partner).into_iter().flatten().filter(|n| {
            n.consultation
                .as_ref()
                .is_some_and(|c| c.consultation_id == asked.consultation_id)
        }) {
            println!("  {}", describe(n));
        }
    }
    if answers(&now) != addressees.len() {
        bail!("the gemeente did not see every answer");
    }
    Ok(())
}

/// Submits, retrying while the node is still starting.
async fn submit_retrying(
    chain: &Chain,
    partner: &str,
    request: pb::SubmitSignalRequest,
) -> Result<pb::SubmitSignalResponse> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match chain.partner(partner)?.submit_signal(request.clone()).await {
            Ok(r) => return Ok(r.into_inner()),
            Err(s) if s.code() == tonic::Code::Unavailable && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(s) => bail!(
                "{partner} {}: {:?}: {}",
                request.case_reference,
                s.code(),
                s.message()
            ),
        }
    }
}

fn count_formed(seen: &BTreeMap<String, Vec<pb::HitNotification>>) -> usize {
    seen.values()
        .flatten()
        .filter(|n| n.change == pb::HitChange::Formed as i32)
        .count()
}

/// Waits until `done` holds for what the partners have seen (at most 10 s), then a little
/// longer for stragglers.
async fn settle(seen: &Seen, done: impl Fn(&BTreeMap<String, Vec<pb::HitNotification>>) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if seen.lock().map(|s| done(&s)).unwrap_or(false) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
}
