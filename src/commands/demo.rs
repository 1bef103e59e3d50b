//! `signaalnet demo`: the whole chain on loopback with a scenario drawn from the seed documents,
//! then what every party learned. Exits 1 if the chain did not produce what the scenario expects.

use crate::chain::Chain;
use anyhow::{bail, Context, Result};
use signaalnet_proto::v1 as pb;
use signaalnet_proto::v1::identifier::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_stream::StreamExt;

const GEMEENTE: &str = "gemeente_groningen";
const POLITIE: &str = "politie_noord_nederland";
const NLA: &str = "nla";
const ZVH: &str = "zvh_groningen";
const RIEC: &str = "riec_noord_nederland";

const DRIELUIK: &str = "signalering_drieluik";
const ZORG: &str = "zorgcoordinatie";
const RIEC_ANALYSE: &str = "riec_integrale_analyse";
const MONITOR: &str = "monitor_aard_omvang";

/// The policy directory: `./policies` when run from a checkout, else the one this binary was
/// built with.
pub fn policies_dir() -> PathBuf {
    let local = PathBuf::from("policies");
    if local.join("purposes.toml").exists() {
        local
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("policies")
    }
}

pub fn run(keep: bool) -> Result<ExitCode> {
    let dir = tempfile::Builder::new()
        .prefix("signaalnet-demo-")
        .tempdir()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(demo(dir.path()));
    if keep {
        let kept = dir.keep();
        println!(
            "\nkept {} (databases in data/, certificates in certs/, keys in keys/)",
            kept.display()
        );
    }
    result
}

// ---- building requests ---------------------------------------------------------------------

fn id(value: Value) -> pb::Identifier {
    pb::Identifier { value: Some(value) }
}
fn person(surname: &str, given: &str, dob: &str) -> pb::Identifier {
    id(Value::Person(pb::Person {
        surname: surname.into(),
        given_names: given.into(),
        date_of_birth: dob.into(),
    }))
}
fn address(postcode: &str, number: &str) -> pb::Identifier {
    id(Value::Address(pb::PostalAddress {
        postcode: postcode.into(),
        huisnummer: number.into(),
        toevoeging: String::new(),
    }))
}
fn handle(platform: &str, name: &str) -> pb::Identifier {
    id(Value::OnlineHandle(pb::OnlineHandle {
        platform: platform.into(),
        handle: name.into(),
    }))
}
fn vehicle(country: &str, plate: &str) -> pb::Identifier {
    id(Value::Vehicle(pb::Vehicle {
        country: country.into(),
        plate: plate.into(),
    }))
}

fn signal(
    case: &str,
    purpose: &str,
    month: &str,
    identifiers: Vec<pb::Identifier>,
    attributes: &[(&str, &str)],
) -> pb::SubmitSignalRequest {
    pb::SubmitSignalRequest {
        idempotency_key: format!("demo/{case}"),
        case_reference: case.into(),
        purpose: purpose.into(),
        observed_month: month.into(),
        identifiers,
        attributes: attributes
            .iter()
            .map(|(id, value)| pb::Attribute {
                id: (*id).into(),
                value: (*value).into(),
            })
            .collect(),
    }
}

/// The scenario: (partner, signal). Cases A–D must form hits; the rest must not.
fn scenario() -> Vec<(&'static str, pb::SubmitSignalRequest)> {
    let gm = ("gemeente", "GM0014");
    let mut s = vec![
        // A. Labour exploitation: the NLA's employer at an address, the gemeente's overcrowded
        // address with a registered worker, a police contact with the same worker.
        (
            NLA,
            signal(
                "NLA-INS-2026-0412",
                DRIELUIK,
                "2026-10",
                vec![id(Value::Kvk("68750110".into())), address("9711 AB", "12")],
                &[
                    ("vorm_uitbuiting", "arbeidsuitbuiting"),
                    ("sector", "land_en_tuinbouw"),
                    ("woonsituatie", "huisvesting_via_werkgever"),
                    gm,
                    ("bron_signaal", "inspectie"),
                ],
            ),
        ),
        (
            GEMEENTE,
            signal(
                "GRO-HH-2026-88123",
                DRIELUIK,
                "2026-10",
                vec![
                    address("9711ab", "12"),
                    person("Wisniewski", "P.", "12-03-1994"),
                ],
                &[
                    ("woonsituatie", "overbewoning"),
                    ("barriere_fase", "huisvesting"),
                    gm,
                    ("bron_signaal", "handhaving"),
                ],
            ),
        ),
        (
            POLITIE,
            signal(
                "PL0100-2026-771203",
                DRIELUIK,
                "2026-09",
                vec![
                    person("WIŚNIEWSKI", "Piotr", "1994-03-12"),
                    id(Value::Phone("+48 601 234 567".into())),
                ],
                &[
                    ("vorm_uitbuiting", "arbeidsuitbuiting"),
                    ("politie_registratie", "true"),
                    gm,
                    ("bron_signaal", "politiecontact"),
                ],
            ),
        ),
        // B. Sexual exploitation: the ZVH's client and a police signal share an online handle
        // and a phone number (spelled differently). The ZVH later withdraws its signal.
        (
            ZVH,
            signal(
                "ZVH-GRN-2026-0193",
                DRIELUIK,
                "2026-09",
                vec![
                    handle("Instagram", "@Lisa.Model_99"),
                    id(Value::Phone("06-12345678".into())),
                ],
                &[
                    ("vorm_uitbuiting", "seksuele_uitbuiting"),
                    ("bron_signaal", "hulpverlening"),
                    gm,
                ],
            ),
        ),
        (
            POLITIE,
            signal(
                "PL0100-2026-755001",
                DRIELUIK,
                "2026-09",
                vec![
                    handle("insta", "lisa.model_99"),
                    id(Value::Phone("+31 6 1234 5678".into())),
                ],
                &[
                    ("vorm_uitbuiting", "seksuele_uitbuiting"),
                    ("minderjarig", "false"),
                    gm,
                ],
            ),
        ),
        // C. Criminal exploitation of a minor: the gemeente and the ZVH coordinate care.
        (
            GEMEENTE,
            signal(
                "GRO-JZ-2026-0311",
                ZORG,
                "2026-10",
                vec![id(Value::Bsn("123456782".into()))],
                &[("minderjarig", "true"), ("zorgbehoefte", "true"), gm],
            ),
        ),
        (
            ZVH,
            signal(
                "ZVH-GRN-2026-0201",
                ZORG,
                "2026-10",
                vec![id(Value::Bsn("1234 56 782".into()))],
                &[
                    ("vorm_uitbuiting", "criminele_uitbuiting"),
                    ("minderjarig", "true"),
                    gm,
                ],
            ),
        ),
        // D. For the RIEC's integral analysis: wages paid into one account, workers driven in
        // one van, the employer known to the gemeente.
        (
            NLA,
            signal(
                "NLA-INS-2026-0398",
                RIEC_ANALYSE,
                "2026-08",
                vec![
                    id(Value::Iban("NL91 ABNA 0417 1643 00".into())),
                    vehicle("", "12-AB-34"),
                ],
                &[
                    ("vorm_uitbuiting", "arbeidsuitbuiting"),
                    ("sector", "land_en_tuinbouw"),
                    gm,
                ],
            ),
        ),
        (
            POLITIE,
            signal(
                "PL0100-2026-771210",
                RIEC_ANALYSE,
                "2026-09",
                vec![vehicle("NL", "12ab34"), id(Value::Kvk("6875 0110".into()))],
                &[
                    ("vorm_uitbuiting", "arbeidsuitbuiting"),
                    ("politie_registratie", "true"),
                    gm,
                ],
            ),
        ),
        (
            GEMEENTE,
            signal(
                "GRO-RIEC-2026-0044",
                RIEC_ANALYSE,
                "2026-10",
                vec![id(Value::Kvk("68750110".into())), address("9711AB", "12")],
                &[("barriere_fase", "arbeid"), gm],
            ),
        ),
        // One partner alone never forms a hit: two NLA inspections of the same employer.
        (
            NLA,
            signal(
                "NLA-INS-2026-0501",
                DRIELUIK,
                "2026-10",
                vec![id(Value::Kvk("40123456".into()))],
                &[
                    ("vorm_uitbuiting", "arbeidsuitbuiting"),
                    ("sector", "schoonmaak"),
                    gm,
                ],
            ),
        ),
        (
            NLA,
            signal(
                "NLA-INS-2026-0502",
                DRIELUIK,
                "2026-10",
                vec![id(Value::Kvk("40123456".into()))],
                &[
                    ("vorm_uitbuiting", "arbeidsuitbuiting"),
                    ("sector", "schoonmaak"),
                    gm,
                ],
            ),
        ),
    ];
    // Background: many signals that share nothing, for the monitor.
    for i in 0..12 {
        s.push((
            NLA,
            signal(
                &format!("NLA-INS-2026-06{i:02}"),
                DRIELUIK,
                "2026-10",
                vec![id(Value::Kvk(format!("7{:07}", 100 + i)))],
                &[
                    ("vorm_uitbuiting", "arbeidsuitbuiting"),
                    ("sector", "land_en_tuinbouw"),
                    gm,
                ],
            ),
        ));
        s.push((
            POLITIE,
            signal(
                &format!("PL0100-2026-7800{i:02}"),
                DRIELUIK,
                "2026-09",
                vec![id(Value::Phone(format!("+31 6 2000 01{i:02}")))],
                &[("vorm_uitbuiting", "seksuele_uitbuiting"), gm],
            ),
        ));
    }
    for i in 0..10 {
        s.push((
            GEMEENTE,
            signal(
                &format!("GRO-HH-2026-900{i:02}"),
                DRIELUIK,
                "2026-10",
                vec![address("9712 CD", &format!("{}", i + 1))],
                &[
                    ("vorm_uitbuiting", "arbeidsuitbuiting"),
                    ("sector", "uitzendbranche"),
                    ("woonsituatie", "overbewoning"),
                    gm,
                ],
            ),
        ));
    }
    for i in 0..6 {
        s.push((
            ZVH,
            signal(
                &format!("ZVH-GRN-2026-03{i:02}"),
                DRIELUIK,
                "2026-09",
                vec![handle("telegram", &format!("werk_in_nl_{i}"))],
                &[
                    ("vorm_uitbuiting", "seksuele_uitbuiting"),
                    ("gemeente", "GM0363"),
                ],
            ),
        ));
    }
    s
}

// ---- running it ------------------------------------------------------------------------------

type Seen = Arc<Mutex<BTreeMap<String, Vec<pb::HitNotification>>>>;

async fn demo(dir: &Path) -> Result<ExitCode> {
    let started = Instant::now();
    let chain = Chain::start(dir, &policies_dir(), None).await?;
    chain.ready(Duration::from_secs(30)).await?;
    println!("signaalnet demo — the whole chain on loopback, mTLS with generated certificates");
    println!(
        "  partner nodes: {}",
        chain.nodes.keys().cloned().collect::<Vec<_>>().join(", ")
    );
    println!(
        "  coordinator:   {}   policy {}",
        chain.coordinator,
        short(chain.policy.version())
    );
    println!("  data:          {}", dir.display());

    // Every partner system follows its own hit stream from the start.
    let seen: Seen = Arc::default();
    let mut followers = Vec::new();
    for partner in chain.nodes.keys() {
        let mut client = chain.partner(partner)?;
        let seen = Arc::clone(&seen);
        let partner = partner.clone();
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

    let signals = scenario();
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
    wait_delivered(&chain, &submitted).await?;
    settle(&seen, |s| count_formed(s) >= 8).await;

    println!("\nThe ZVH withdraws ZVH-GRN-2026-0193 (the client's situation was misjudged).");
    chain
        .partner(ZVH)?
        .withdraw_signals(pb::WithdrawSignalsRequest {
            idempotency_key: "demo/withdraw-0193".into(),
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
    for partner in chain.nodes.keys() {
        let name = chain
            .policy
            .partner(partner)
            .map_or(partner.as_str(), |p| p.name.as_str());
        println!("\n{name}");
        let notes = learned.get(partner).cloned().unwrap_or_default();
        if notes.is_empty() {
            println!("  nothing: none of its signals is in a hit");
        }
        for n in &notes {
            println!("  {}", describe(n));
        }
    }

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
    for dims in [vec!["gemeente", "vorm_uitbuiting"], vec![]] {
        let table = riec
            .get_monitor(pb::GetMonitorRequest {
                purpose: MONITOR.into(),
                dimensions: dims.iter().map(|d| (*d).into()).collect(),
            })
            .await?
            .into_inner();
        print_table(&table);
    }

    println!("\n=== What is refused, and how the partner is told ===");
    let mut refused = Vec::new();
    let attempts = [
        (
            GEMEENTE,
            "a gemeente may not share a police registration",
            signal(
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
            signal(
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
            signal(
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
        let channel = signaalnet_service::channel(&chain.nodes[GEMEENTE], &chain.tls(POLITIE))?;
        signaalnet_proto::v1::partner_service_client::PartnerServiceClient::new(channel)
            .submit_signal(signal(
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
    let mut problems = Vec::new();
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
    if refused.len() != 3 || impersonation.is_none() {
        problems.push("a refusal was accepted".into());
    }
    if let Some(failed) = chain.failed() {
        problems.push(failed);
    }
    for follower in followers {
        follower.abort();
    }
    chain.stop().await?;
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

async fn wait_delivered(chain: &Chain, submitted: &BTreeMap<String, (&str, String)>) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    for (case, (partner, signal_id)) in submitted {
        let mut client = chain.partner(partner)?;
        loop {
            let status = client
                .get_signal_status(pb::GetSignalStatusRequest {
                    signal_id: signal_id.clone(),
                })
                .await?
                .into_inner();
            if status.state != pb::SignalState::Pending as i32 {
                if status.state == pb::SignalState::Refused as i32 {
                    bail!("{case} was refused by the coordinator: {}", status.detail);
                }
                break;
            }
            if Instant::now() > deadline {
                bail!("{case} still pending after 60 s: {}", status.detail);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(())
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

fn short(version: &str) -> &str {
    &version[..version.len().min(19)]
}

fn kind(value: i32) -> &'static str {
    signaalnet_service::convert::kind_from_wire(value).map_or("?", |k| k.as_str())
}

fn roles(values: &[i32]) -> String {
    values
        .iter()
        .map(|r| match pb::PartnerRole::try_from(*r) {
            Ok(pb::PartnerRole::Gemeente) => "gemeente",
            Ok(pb::PartnerRole::Politie) => "politie",
            Ok(pb::PartnerRole::Nla) => "NLA",
            Ok(pb::PartnerRole::Zvh) => "ZVH",
            Ok(pb::PartnerRole::Riec) => "RIEC",
            _ => "?",
        })
        .collect::<Vec<_>>()
        .join(" + ")
}

fn attrs(values: &[pb::Attribute]) -> String {
    if values.is_empty() {
        return "(none visible)".into();
    }
    values
        .iter()
        .map(|a| format!("{}={}", a.id, a.value))
        .collect::<Vec<_>>()
        .join(", ")
}

fn describe(n: &pb::HitNotification) -> String {
    let change = match pb::HitChange::try_from(n.change) {
        Ok(pb::HitChange::Formed) => "FORMED",
        Ok(pb::HitChange::Grew) => "GREW",
        Ok(pb::HitChange::Shrank) => "SHRANK",
        Ok(pb::HitChange::Dissolved) => "DISSOLVED",
        _ => "?",
    };
    let own: Vec<&str> = n
        .own_signals
        .iter()
        .map(|s| s.case_reference.as_str())
        .collect();
    let kinds: Vec<&str> = n.matched_kinds.iter().map(|k| kind(*k)).collect();
    let mut line = format!(
        "{} {:<9} {:<22} your case {}",
        n.hit_id,
        change,
        n.purpose,
        own.join(", ")
    );
    if !n.partner_roles.is_empty() {
        line.push_str(&format!("; partners {}", roles(&n.partner_roles)));
    }
    if !kinds.is_empty() {
        line.push_str(&format!("; linked through {}", kinds.join(", ")));
    }
    if !n.attributes.is_empty() {
        line.push_str(&format!("\n      {}", attrs(&n.attributes)));
    }
    line
}

fn print_table(table: &pb::MonitorTable) {
    println!(
        "\n  {} (cells below {} suppressed: {} of the finest table; totals count published cells only)",
        table.dimensions.join(" × "),
        table.min_cell_size,
        table.suppressed_cells
    );
    let mut total = 0;
    for row in &table.rows {
        println!("    {:<60} {:>5}", row.values.join(" | "), row.count);
        total += row.count;
    }
    println!("    {:<60} {:>5}", "total (published)", total);
}
