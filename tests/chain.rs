//! End-to-end: the whole chain as separate processes over mTLS on loopback (two transcryptors,
//! a coordinator, four partner nodes). Every test runs on SQLite and, when
//! `SIGNAALNET_TEST_POSTGRES_URL` is set, again on PostgreSQL with a fresh database per role.
#![allow(clippy::unwrap_used)] // test fixtures

#[macro_use]
mod common;

use common::*;
use common::{postgres_url, Chain};
use signaalnet_proto::v1 as pb;
use signaalnet_proto::v1::identifier::Value;
use signaalnet_proto::v1::transcryptor_service_client::TranscryptorServiceClient;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};
use tonic::Code;
use tonic_types::StatusExt;

fn changes(hits: &[pb::HitNotification]) -> Vec<i32> {
    hits.iter().map(|h| h.change).collect()
}

const FORMED: i32 = pb::HitChange::Formed as i32;
const GREW: i32 = pb::HitChange::Grew as i32;
const DISSOLVED: i32 = pb::HitChange::Dissolved as i32;

// ---- the behaviours ----------------------------------------------------------------------------

async fn hits_form_across_partners_and_dissolve_on_withdrawal(postgres: Option<&str>) {
    let chain = common::start(postgres).await;
    // One partner alone: two NLA signals on the same employer never form a hit.
    let a = submit(
        &chain,
        NLA,
        signal("NLA-1", vec![id(Value::Kvk("40123456".into()))], &[]),
    )
    .await
    .unwrap();
    let b = submit(
        &chain,
        NLA,
        signal("NLA-2", vec![id(Value::Kvk("4012 3456".into()))], &[]),
    )
    .await
    .unwrap();
    wait_delivered(&chain, NLA, &[a.clone(), b.clone()])
        .await
        .unwrap();

    // The police person and the gemeente's registration at an address (different spellings).
    let p = submit(
        &chain,
        POLITIE,
        signal(
            "PL-1",
            vec![person("WIŚNIEWSKI", "Piotr", "1994-03-12")],
            &[("vorm_uitbuiting", "arbeidsuitbuiting")],
        ),
    )
    .await
    .unwrap();
    let g = submit(
        &chain,
        GEMEENTE,
        signal(
            "GRO-1",
            vec![
                person("Wisniewski", "P.", "12-03-1994"),
                address("9711 AB", "12"),
            ],
            &[("woonsituatie", "overbewoning"), ("gemeente", "GM0014")],
        ),
    )
    .await
    .unwrap();
    wait_delivered(&chain, POLITIE, std::slice::from_ref(&p))
        .await
        .unwrap();
    wait_delivered(&chain, GEMEENTE, std::slice::from_ref(&g))
        .await
        .unwrap();
    let police = hits_until(&chain, POLITIE, |h| changes(h) == [FORMED]).await;
    let hit = police[0].hit_id.clone();
    assert_eq!(police[0].own_signals.len(), 1);
    assert_eq!(police[0].own_signals[0].case_reference, "PL-1");
    assert_eq!(police[0].purpose, DRIELUIK);
    assert_eq!(
        police[0]
            .partner_roles
            .iter()
            .copied()
            .collect::<BTreeSet<_>>(),
        BTreeSet::from([
            pb::PartnerRole::Gemeente as i32,
            pb::PartnerRole::Politie as i32
        ])
    );
    assert_eq!(
        police[0].matched_kinds,
        vec![pb::IdentifierKind::Person as i32]
    );
    // The partner view of the drieluik shows gemeente, not woonsituatie (recipients.toml).
    assert!(police[0]
        .attributes
        .iter()
        .any(|a| a.id == "gemeente" && a.value == "GM0014"));
    assert!(police[0].attributes.iter().all(|a| a.id != "woonsituatie"));
    // Never another partner's reference.
    let encoded = format!("{police:?}");
    assert!(!encoded.contains("GRO-1") && !encoded.contains(&g));

    // The NLA's employer at the same address joins the hit.
    let n = submit(
        &chain,
        NLA,
        signal(
            "NLA-3",
            vec![address("9711AB", "12"), id(Value::Kvk("68750110".into()))],
            &[],
        ),
    )
    .await
    .unwrap();
    wait_delivered(&chain, NLA, std::slice::from_ref(&n))
        .await
        .unwrap();
    let gemeente = hits_until(&chain, GEMEENTE, |h| changes(h) == [FORMED, GREW]).await;
    assert!(gemeente.iter().all(|h| h.hit_id == hit));
    assert_eq!(gemeente[1].partner_roles.len(), 3);
    let nla = hits_until(&chain, NLA, |h| !h.is_empty()).await;
    assert_eq!(
        nla.len(),
        1,
        "the NLA learns of the hit only through NLA-3: {nla:?}"
    );
    assert_eq!(nla[0].own_signals[0].case_reference, "NLA-3");
    let status = chain
        .partner(NLA)
        .unwrap()
        .get_signal_status(pb::GetSignalStatusRequest {
            signal_id: a.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        status.state,
        pb::SignalState::Unmatched as i32,
        "NLA-1 is in no hit"
    );

    // Resubmitting with the same idempotency key changes nothing.
    let again = chain
        .partner(POLITIE)
        .unwrap()
        .submit_signal(signal(
            "PL-1",
            vec![person("WIŚNIEWSKI", "Piotr", "1994-03-12")],
            &[("vorm_uitbuiting", "arbeidsuitbuiting")],
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(again.replayed);
    assert_eq!(again.signal_id, p);

    // Withdrawal: the gemeente withdraws its signal by case reference; it was the bridge, so
    // the hit dissolves (police and NLA share no identifier).
    let withdrawn = chain
        .partner(GEMEENTE)
        .unwrap()
        .withdraw_signals(pb::WithdrawSignalsRequest {
            idempotency_key: "w/GRO-1".into(),
            target: Some(pb::withdraw_signals_request::Target::CaseReference(
                "GRO-1".into(),
            )),
            reason: "correctie".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(withdrawn.withdrawn_signal_ids, vec![g.clone()]);
    let police = hits_until(&chain, POLITIE, |h| {
        h.last().is_some_and(|l| l.change == DISSOLVED)
    })
    .await;
    assert_eq!(police.last().unwrap().hit_id, hit);
    hits_until(&chain, NLA, |h| {
        h.last().is_some_and(|l| l.change == DISSOLVED)
    })
    .await;
    let listed = chain
        .partner(POLITIE)
        .unwrap()
        .list_hits(pb::ListHitsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(
        listed.hits.is_empty(),
        "no current hit after the withdrawal: {listed:?}"
    );

    // Withdrawal by identifier (an objection): the NLA's signals about employer 40123456.
    let by_identifier = chain
        .partner(NLA)
        .unwrap()
        .withdraw_signals(pb::WithdrawSignalsRequest {
            idempotency_key: "w/kvk".into(),
            target: Some(pb::withdraw_signals_request::Target::Identifier(id(
                Value::Kvk("40 12 34 56".into()),
            ))),
            reason: "bezwaar".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        by_identifier
            .withdrawn_signal_ids
            .iter()
            .collect::<BTreeSet<_>>(),
        BTreeSet::from([&a, &b])
    );
}

async fn refusals_name_the_field_purpose_and_rule(postgres: Option<&str>) {
    let chain = common::start(postgres).await;
    let mut gemeente = chain.partner(GEMEENTE).unwrap();
    // Policy: a gemeente may not share a police registration.
    let status = gemeente
        .submit_signal(signal(
            "GRO-9",
            vec![address("9711AB", "12")],
            &[("politie_registratie", "true")],
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    for needle in [
        "attributes.politie_registratie",
        DRIELUIK,
        "policy.attribute_not_allowed",
    ] {
        assert!(
            status.message().contains(needle),
            "{needle} missing in: {}",
            status.message()
        );
    }
    // The details are the standard google.rpc.Status (what grpcio's rpc_status, Java's
    // StatusProto and Go's status read): the reason and rule, and the field violation.
    let details = status.get_error_details();
    let info = details.error_info().unwrap();
    assert_eq!(info.reason, "POLICY_REFUSED");
    assert_eq!(info.domain, "signaalnet.nl");
    assert_eq!(info.metadata["rules"], "policy.attribute_not_allowed");
    let violations = &details.bad_request().unwrap().field_violations;
    assert_eq!(violations.len(), 1);
    assert_eq!(violations[0].field, "attributes.politie_registratie");
    assert!(violations[0]
        .description
        .ends_with("[policy.attribute_not_allowed]"));

    // Input: every broken field is named, and none of the values is echoed.
    let status = gemeente
        .submit_signal(pb::SubmitSignalRequest {
            idempotency_key: "k".into(),
            case_reference: "GRO-10".into(),
            purpose: DRIELUIK.into(),
            observed_month: "oktober".into(),
            identifiers: vec![id(Value::Bsn("123456789".into())), address("97110", "12")],
            attributes: vec![],
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let details = status.get_error_details();
    assert_eq!(details.error_info().unwrap().reason, "INVALID_SIGNAL");
    let fields: BTreeSet<&str> = details
        .bad_request()
        .unwrap()
        .field_violations
        .iter()
        .map(|v| v.field.as_str())
        .collect();
    assert!(fields.contains("observed_month"), "{fields:?}");
    assert!(fields.contains("identifiers[0].bsn"), "{fields:?}");
    assert!(
        fields
            .iter()
            .any(|f| f.starts_with("identifiers[1].address")),
        "{fields:?}"
    );
    assert!(!status.message().contains("123456789") && !status.message().contains("97110"));

    // A purpose the partner does not take part in.
    let mut request = signal("NLA-9", vec![id(Value::Bsn("111222333".into()))], &[]);
    request.purpose = "zorgcoordinatie".into();
    let status = chain
        .partner(NLA)
        .unwrap()
        .submit_signal(request)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert!(
        status.message().contains("zorgcoordinatie")
            && status.message().contains("policy.purpose_not_shared"),
        "{}",
        status.message()
    );

    // Nothing was stored for a refused signal, and a reused key with other content is refused.
    let ok = gemeente
        .submit_signal(signal("GRO-11", vec![address("9711AB", "12")], &[]))
        .await
        .unwrap()
        .into_inner();
    assert!(!ok.replayed);
    let mut other = signal("GRO-11", vec![address("9711AB", "14")], &[]);
    other.idempotency_key = "key/GRO-11".into();
    assert_eq!(
        gemeente.submit_signal(other).await.unwrap_err().code(),
        Code::AlreadyExists
    );
    let listed = chain
        .partner(GEMEENTE)
        .unwrap()
        .get_signal_status(pb::GetSignalStatusRequest {
            signal_id: "sig-00000000000000000000".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(listed.code(), Code::NotFound);
}

async fn certificates_act_only_as_themselves(postgres: Option<&str>) {
    let chain = common::start(postgres).await;
    let request = signal("X-1", vec![address("9711AB", "12")], &[]);
    // Impersonation: the police certificate at the gemeente's node.
    let mut as_police = signaalnet_proto::v1::partner_service_client::PartnerServiceClient::new(
        chain.channel(GEMEENTE, POLITIE).unwrap(),
    );
    let status = as_police.submit_signal(request.clone()).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert!(
        status.message().contains("gemeente_groningen"),
        "{}",
        status.message()
    );
    // Wrong role: an analyst cannot submit; a coordinator cannot convert; a gemeente cannot
    // read the analyst API or take a key share.
    let mut as_riec = signaalnet_proto::v1::partner_service_client::PartnerServiceClient::new(
        chain.channel(GEMEENTE, "riec_noord_nederland").unwrap(),
    );
    assert_eq!(
        as_riec
            .submit_signal(request.clone())
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    let mut coordinator_at_transcryptor = TranscryptorServiceClient::new(
        chain
            .channel("transcryptor_vng", "coordinator_riec")
            .unwrap(),
    );
    let status = coordinator_at_transcryptor
        .convert(pb::ConvertRequest {
            idempotency_key: "x".into(),
            coordinator_context: common::CONTEXT.into(),
            items: vec![pb::ConvertItem {
                ciphertext: vec![0; 96],
                purpose: "signalering_drieluik".into(),
                kind: pb::IdentifierKind::Bsn as i32,
                origin_proof: Vec::new(),
            }],
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = chain
        .analyst(GEMEENTE)
        .unwrap()
        .list_hits(pb::AnalystListHitsRequest {
            purpose: "riec_integrale_analyse".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let status =
        TranscryptorServiceClient::new(chain.channel("transcryptor_vng", GEMEENTE).unwrap())
            .get_key_share(pb::GetKeyShareRequest {
                coordinator_context: common::CONTEXT.into(),
            })
            .await
            .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    // A node's certificate cannot deliver as if it were another partner: the coordinator takes
    // the partner from the certificate, so the politie's node only ever delivers as politie.
    // A certificate from another CA does not get through the handshake.
    let other = tempfile::tempdir().unwrap();
    common::signaalnet(&["certs", "dev", "--out", other.path().to_str().unwrap()]);
    let foreign = signaalnet_tls::TlsFiles {
        ca: chain.certs().join("ca.pem"),
        cert: other.path().join("gemeente_groningen.pem"),
        key: other.path().join("gemeente_groningen.key"),
        crl: Vec::new(),
    };
    let channel = signaalnet_service::channel(&chain.roles[GEMEENTE].url, &foreign).unwrap();
    let status = signaalnet_proto::v1::partner_service_client::PartnerServiceClient::new(channel)
        .submit_signal(request)
        .await
        .unwrap_err();
    // The server closes the connection during the handshake; depending on timing the client
    // reports that as unavailable, unknown or cancelled. Never as an answer of the service.
    assert!(
        matches!(
            status.code(),
            Code::Unavailable | Code::Unknown | Code::Unauthenticated | Code::Cancelled
        ),
        "{status:?}"
    );
    let log = chain.log(GEMEENTE).unwrap();
    assert!(log.contains("partner API refused"), "the refusal is logged");
}

async fn coordinator_killed_mid_stream_loses_nothing_and_duplicates_nothing(
    postgres: Option<&str>,
) {
    let mut chain = common::start(postgres).await;
    // Three of the node's delivery batches (256 signals each), so the kill can land between two.
    const N: usize = 600;
    // Pairs: politie and gemeente signal the same phone number; N pairs → N hits.
    let requests = |partner: &str| -> Vec<pb::SubmitSignalRequest> {
        (0..N)
            .map(|i| {
                signal(
                    &format!("{partner}-{i}"),
                    vec![id(Value::Phone(format!("+31 6 3000 {i:04}")))],
                    &[],
                )
            })
            .collect()
    };
    let stream_in = |partner: &'static str, chain: &Chain| {
        let mut client = chain.partner(partner).unwrap();
        let requests = requests(partner);
        async move {
            let mut results = client
                .submit_signals(tokio_stream::iter(requests))
                .await
                .unwrap()
                .into_inner();
            let mut ids = Vec::new();
            while let Some(r) = results.message().await.unwrap() {
                match r.outcome.unwrap() {
                    pb::submit_signal_result::Outcome::Accepted(a) => ids.push(a.signal_id),
                    pb::submit_signal_result::Outcome::Refused(e) => panic!("{}", e.message),
                }
            }
            ids
        }
    };
    let politie = stream_in(POLITIE, &chain).await;
    // Kill the coordinator while the politie's signals are being delivered: once it has stored
    // the first batch. What it stored by then (it is dead: nothing more) must be some of the
    // politie's signals but not all, or the kill did not land mid-delivery.
    let deadline = Instant::now() + Duration::from_secs(60);
    while coordinator_signal_count(&chain).await == 0 {
        assert!(Instant::now() < deadline, "nothing delivered in 60 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    chain.kill("coordinator").unwrap();
    let at_kill = coordinator_signal_count(&chain).await;
    assert!(
        0 < at_kill && at_kill < N as i64,
        "the kill landed mid-delivery: {at_kill} of {N} delivered"
    );
    // Then stream the gemeente's signals while it is down.
    let gemeente = stream_in(GEMEENTE, &chain).await;
    assert_eq!((politie.len(), gemeente.len()), (N, N));
    chain.restart("coordinator").await.unwrap();
    wait_delivered(&chain, POLITIE, &politie).await.unwrap();
    wait_delivered(&chain, GEMEENTE, &gemeente).await.unwrap();
    let hits = hits_until(&chain, GEMEENTE, |h| h.len() >= N).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let hits_after = chain.hits_of(GEMEENTE).await.unwrap();
    assert_eq!(
        hits_after.len(),
        N,
        "exactly one notification per hit, none twice: {hits:?}"
    );
    let distinct: BTreeSet<&str> = hits_after.iter().map(|h| h.hit_id.as_str()).collect();
    assert_eq!(distinct.len(), N);
    assert!(hits_after
        .iter()
        .all(|h| h.change == FORMED && h.own_signals.len() == 1));
    let police = chain.hits_of(POLITIE).await.unwrap();
    assert_eq!(police.len(), N);
    // Every signal is stored exactly once at the coordinator.
    let count = coordinator_signal_count(&chain).await;
    assert_eq!(count, 2 * N as i64);
    let status = chain
        .partner(GEMEENTE)
        .unwrap()
        .get_signal_status(pb::GetSignalStatusRequest {
            signal_id: gemeente[0].clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.state, pb::SignalState::InHit as i32);
    assert_eq!(status.hit_ids.len(), 1);
}

async fn coordinator_signal_count(chain: &Chain) -> i64 {
    use sqlx::Row;
    let mut conn = chain.connect("coordinator").await.unwrap();
    sqlx::query("SELECT COUNT(*) AS n FROM coord_signals")
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .get("n")
}

async fn no_raw_identifier_outside_the_nodes(postgres: Option<&str>) {
    let chain = common::start(postgres).await;
    let mut ids = BTreeMap::new();
    let cases = [
        (
            POLITIE,
            signal(
                "PL-R",
                vec![
                    id(Value::Bsn("123456782".into())),
                    person("Wiśniewski", "Piotr", "1994-03-12"),
                    id(Value::Phone("+31 6 1234 5678".into())),
                    id(Value::Iban("NL91 ABNA 0417 1643 00".into())),
                    id(Value::Vehicle(pb::Vehicle {
                        country: "NL".into(),
                        plate: "12-AB-34".into(),
                    })),
                    id(Value::OnlineHandle(pb::OnlineHandle {
                        platform: "instagram".into(),
                        handle: "@lisa.model_99".into(),
                    })),
                ],
                &[],
            ),
        ),
        (
            GEMEENTE,
            signal(
                "GRO-R",
                vec![
                    id(Value::Bsn("123456782".into())),
                    address("9711 AB", "12"),
                    id(Value::Kvk("68750110".into())),
                ],
                &[],
            ),
        ),
        (
            ZVH,
            signal("ZVH-R", vec![id(Value::Phone("06-12345678".into()))], &[]),
        ),
    ];
    for (partner, request) in cases {
        ids.entry(partner)
            .or_insert_with(Vec::new)
            .push(submit(&chain, partner, request).await.unwrap());
    }
    for (partner, signal_ids) in &ids {
        wait_delivered(&chain, partner, signal_ids).await.unwrap();
    }
    hits_until(&chain, ZVH, |h| !h.is_empty()).await;
    let needles = [
        "123456782",
        "Wiśniewski",
        "wisniewski",
        "WISNIEWSKI",
        "Piotr",
        "piotr",
        "1994-03-12",
        "612345678",
        "0417164300",
        "NL91ABNA",
        "12AB34",
        "12-AB-34",
        "lisa.model_99",
        "9711AB",
        "9711 AB",
        "68750110",
    ];
    let mut places: Vec<(String, Vec<u8>)> = Vec::new();
    for role in ["coordinator", "transcryptor_vng", "transcryptor_jenv"] {
        places.push((format!("{role} log"), chain.log(role).unwrap().into_bytes()));
        places.push((
            format!("{role} storage"),
            chain.stored_bytes(role).await.unwrap(),
        ));
    }
    // The nodes hold identifiers only while handling a request: not in their logs or storage.
    for partner in [POLITIE, GEMEENTE, ZVH] {
        places.push((
            format!("{partner} log"),
            chain.log(partner).unwrap().into_bytes(),
        ));
        places.push((
            format!("{partner} storage"),
            chain.stored_bytes(partner).await.unwrap(),
        ));
    }
    // Positive controls: the search sees what each store does hold.
    let contains =
        |bytes: &[u8], needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(
        contains(&places[1].1, DRIELUIK),
        "the coordinator's storage is searched"
    );
    assert!(
        contains(&places[7].1, "PL-R"),
        "the politie node's storage (case references) is searched"
    );
    assert!(
        contains(&places[0].1, "signal matched"),
        "the coordinator's log is searched"
    );
    for (place, bytes) in &places {
        for needle in needles {
            let found = bytes
                .windows(needle.len())
                .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()));
            assert!(!found, "`{needle}` found in {place}");
        }
    }
}

async fn every_role_keeps_a_trail_that_verifies_and_shows_tampering(postgres: Option<&str>) {
    let chain = common::start(postgres).await;
    let police = submit(
        &chain,
        POLITIE,
        signal(
            "PL-A1",
            vec![person("Wiśniewski", "Piotr", "1994-03-12")],
            &[],
        ),
    )
    .await
    .unwrap();
    let gemeente = submit(
        &chain,
        GEMEENTE,
        signal(
            "GRO-A1",
            vec![
                person("Wisniewski", "Piotr", "12-03-1994"),
                address("9711 AB", "12"),
            ],
            &[],
        ),
    )
    .await
    .unwrap();
    wait_delivered(&chain, POLITIE, std::slice::from_ref(&police))
        .await
        .unwrap();
    wait_delivered(&chain, GEMEENTE, std::slice::from_ref(&gemeente))
        .await
        .unwrap();
    hits_until(&chain, POLITIE, |h| changes(h) == [FORMED]).await;

    // Every role's trail verifies against its own key.
    for role in [
        "coordinator",
        "transcryptor_vng",
        "transcryptor_jenv",
        POLITIE,
        GEMEENTE,
    ] {
        let (code, out, err) = chain.audit("verify", role, &[]).unwrap();
        assert_eq!(code, 0, "{role}: {out}{err}");
        assert!(out.contains("intact"), "{role}: {out}");
    }

    // What each role recorded, with actor, purpose and processing activity.
    let steps = |role: &str| {
        let (code, out, err) = chain.audit("show", role, &["--json"]).unwrap();
        assert_eq!(code, 0, "{err}");
        out.lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .collect::<Vec<_>>()
    };
    let has = |entries: &[serde_json::Value], step: &str, reference: &str| {
        entries.iter().any(|e| {
            e["step"] == step
                && e["refs"]
                    .as_array()
                    .unwrap_or_else(|| panic!("refs is not a JSON array: {e}"))
                    .iter()
                    .any(|r| r == reference)
                && (e["purpose"] == DRIELUIK) == (e["processing_activity"] == "signaalnet-va-001")
        })
    };
    let politie = steps(POLITIE);
    let police_ref = format!("signal:{POLITIE}/{police}");
    for step in ["submit", "forward", "notify"] {
        assert!(
            has(&politie, step, &police_ref),
            "{step} missing in {politie:?}"
        );
    }
    let submitted = politie.iter().find(|e| e["step"] == "submit").unwrap();
    assert_eq!(submitted["actor_oin"], "00000099000000000021");
    assert_eq!(submitted["processing_activity"], "signaalnet-va-001");
    let coordinator = steps("coordinator");
    assert!(has(&coordinator, "match", &police_ref));
    assert!(has(&coordinator, "notify", &police_ref));
    assert!(coordinator.iter().any(|e| e["step"] == "policy_change"));
    let vng = steps("transcryptor_vng");
    assert!(vng.iter().any(|e| e["step"] == "transcrypt"));
    assert!(vng.iter().any(|e| e["step"] == "key_share"));
    // The filter narrows to one reference.
    let (_, one, _) = chain
        .audit(
            "show",
            "coordinator",
            &["--ref", &police_ref, "--step", "match"],
        )
        .unwrap();
    assert_eq!(
        one.lines().filter(|l| l.contains(" match ")).count(),
        1,
        "{one}"
    );

    // A certificate of another organisation at the gemeente's node is refused and audited there.
    let err = pb::partner_service_client::PartnerServiceClient::new(
        chain.channel(GEMEENTE, POLITIE).unwrap(),
    )
    .get_signal_status(pb::GetSignalStatusRequest {
        signal_id: gemeente.clone(),
    })
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let refusals: Vec<_> = steps(GEMEENTE)
        .into_iter()
        .filter(|e| e["step"] == "refuse")
        .collect();
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    assert_eq!(refusals[0]["actor_oin"], "00000099000000000021");
    assert!(refusals[0]["detail"]
        .as_str()
        .unwrap()
        .contains("tried to act for `gemeente_groningen`"));

    // Someone with access to the coordinator's database edits an entry: verify names it.
    chain
        .execute(
            "coordinator",
            "UPDATE audit_entries SET detail = 'no hit' WHERE seq = 3",
        )
        .await
        .unwrap();
    let (code, out, _) = chain.audit("verify", "coordinator", &[]).unwrap();
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAIL entry 3: changed"), "{out}");
    // …or deletes one from a node's trail.
    chain
        .execute(POLITIE, "DELETE FROM audit_entries WHERE seq = 2")
        .await
        .unwrap();
    let (code, out, _) = chain.audit("verify", POLITIE, &[]).unwrap();
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAIL entry 2: missing"), "{out}");
}

async fn policy_changes_take_effect_without_restart_only_when_valid_and_signed(
    postgres: Option<&str>,
) {
    let mut chain = common::start_with(
        postgres,
        common::Options {
            signed_policy: true,
            ..Default::default()
        },
    )
    .await;
    let roles = ["coordinator", "transcryptor_vng", GEMEENTE, NLA];
    let first = chain.role_info("coordinator").await.unwrap();
    assert!(!first.policy_signed_by.is_empty());
    for role in roles {
        let info = chain.role_info(role).await.unwrap();
        assert_eq!(info.policy_version, first.policy_version, "{role}");
        assert_eq!(info.policy_signed_by, first.policy_signed_by, "{role}");
    }
    let purposes = chain.policies().join("purposes.toml");
    let original = std::fs::read_to_string(&purposes).unwrap();
    let first_signature = std::fs::read(chain.policies().join("policy.sig")).unwrap();
    let wait_for = |role: &'static str, done: fn(&pb::RoleInfo, &str) -> bool, v: String| {
        let chain = &chain;
        async move {
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let info = chain.role_info(role).await.unwrap();
                if done(&info, &v) {
                    return info;
                }
                assert!(Instant::now() < deadline, "{role}: {info:?}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };

    // Changed but not signed again: refused everywhere, the signed set stays in force.
    std::fs::write(&purposes, original.replacen("P6M", "P9M", 1)).unwrap();
    for role in roles {
        let info = wait_for(
            role,
            |i, _| !i.last_refused_reload.is_empty(),
            String::new(),
        )
        .await;
        assert_eq!(info.policy_version, first.policy_version, "{role}");
        assert!(
            info.last_refused_reload.contains("changed after signing"),
            "{role}: {}",
            info.last_refused_reload
        );
    }

    // Signed by the privacy officer: in force on every role within seconds.
    let key = chain.dir().join("officer.key");
    let (code, out, err) = chain
        .cli(&[
            "policy",
            "sign",
            chain.policies().to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ])
        .unwrap();
    assert_eq!(code, 0, "{out}{err}");
    let mut second = String::new();
    for role in roles {
        let info = wait_for(
            role,
            |i, old| i.policy_version != old,
            first.policy_version.clone(),
        )
        .await;
        assert!(info.last_refused_reload.is_empty(), "{role}");
        if second.is_empty() {
            second = info.policy_version.clone();
        }
        assert_eq!(info.policy_version, second, "{role}");
    }
    // The node now answers with the new version, and the change is in each trail.
    let accepted = chain
        .partner(GEMEENTE)
        .unwrap()
        .submit_signal(signal("GRO-P1", vec![address("9711 AB", "12")], &[]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(accepted.policy.unwrap().version, second);
    for role in ["coordinator", GEMEENTE] {
        let (_, out, _) = chain
            .audit("show", role, &["--step", "policy_change"])
            .unwrap();
        assert!(out.contains("reloaded without restart"), "{role}: {out}");
        let (_, out, _) = chain.audit("show", role, &["--step", "refuse"]).unwrap();
        assert!(out.contains("policy reload refused"), "{role}: {out}");
    }

    // A broken file, even signed, is refused and the set in force stays.
    std::fs::write(&purposes, "[[purpose]\n").unwrap();
    let info = wait_for(
        GEMEENTE,
        |i, _| !i.last_refused_reload.is_empty(),
        String::new(),
    )
    .await;
    assert_eq!(info.policy_version, second);
    assert!(
        info.last_refused_reload.contains("invalid"),
        "{}",
        info.last_refused_reload
    );

    // Rollback: the first set restored with its own valid signature (serial 1) over the second
    // (serial 2) is refused on reload, and a role does not start on it either.
    std::fs::write(&purposes, &original).unwrap();
    std::fs::write(chain.policies().join("policy.sig"), &first_signature).unwrap();
    let info = wait_for(
        GEMEENTE,
        |i, _| i.last_refused_reload.contains("older"),
        String::new(),
    )
    .await;
    assert_eq!(info.policy_version, second);
    assert!(
        info.last_refused_reload
            .contains("serial 1 is older than serial 2"),
        "{}",
        info.last_refused_reload
    );
    chain.kill(NLA).unwrap();
    let config = chain.roles[NLA].config.to_str().unwrap().to_owned();
    let (code, _, err) = chain.cli(&["node", "--config", &config]).unwrap();
    assert_ne!(code, 0);
    assert!(err.contains("is older than serial 2"), "{err}");

    // A role does not start on a set that is not signed.
    std::fs::remove_file(chain.policies().join("policy.sig")).unwrap();
    let (code, _, err) = chain.cli(&["node", "--config", &config]).unwrap();
    assert_ne!(code, 0);
    assert!(err.contains("is not signed"), "{err}");
}

/// The processing logs (Logboek Dataverwerkingen) over OTLP: one span per processing step on
/// every role, with the purpose's processing activity, never sampled; one submission is one
/// trace from the partner system through its node, both transcryptors and the coordinator to
/// the notification each partner in the hit receives; no identifier in any span.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_submission_is_one_trace_of_processing_logs_across_every_role() {
    let (receiver, url) = common::otlp::Receiver::start().await;
    let chain = common::start_with(
        None,
        common::Options {
            otlp_endpoint: Some(url),
            ..Default::default()
        },
    )
    .await;
    let g = submit(
        &chain,
        GEMEENTE,
        signal(
            "GRO-T",
            vec![
                person("Wisniewski", "P.", "12-03-1994"),
                address("9711 AB", "12"),
            ],
            &[("gemeente", "GM0014")],
        ),
    )
    .await
    .unwrap();
    wait_delivered(&chain, GEMEENTE, std::slice::from_ref(&g))
        .await
        .unwrap();
    // The police's case system starts the trace itself; the chain continues it.
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let system_span = "00f067aa0ba902b7";
    let mut request = tonic::Request::new(signal(
        "PL-T",
        vec![person("WIŚNIEWSKI", "Piotr", "1994-03-12")],
        &[("vorm_uitbuiting", "arbeidsuitbuiting")],
    ));
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{trace}-{system_span}-01").parse().unwrap(),
    );
    chain
        .partner(POLITIE)
        .unwrap()
        .submit_signal(request)
        .await
        .unwrap();
    hits_until(&chain, POLITIE, |h| changes(h) == [FORMED]).await;
    hits_until(&chain, GEMEENTE, |h| changes(h) == [FORMED]).await;
    // A refusal is logged as handled input (status unset), not as an error.
    let refused = chain
        .partner(NLA)
        .unwrap()
        .submit_signal(signal("NLA-T", Vec::new(), &[]))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);

    // The steps of the police submission, by role and name, all in the system's trace.
    let expected: [(&str, &str, usize); 7] = [
        ("signaalnet-node-politie_noord_nederland", "submit", 1),
        ("signaalnet-node-politie_noord_nederland", "forward", 1),
        ("signaalnet-transcryptor_vng", "transcrypt", 1),
        ("signaalnet-transcryptor_jenv", "transcrypt", 1),
        ("signaalnet-coordinator", "match", 1),
        ("signaalnet-coordinator", "notify", 2),
        ("signaalnet-node-politie_noord_nederland", "notify", 1),
    ];
    let deadline = Instant::now() + Duration::from_secs(30);
    let in_trace = loop {
        let spans: Vec<_> = receiver
            .spans()
            .into_iter()
            .filter(|s| s.trace_id() == trace)
            .collect();
        let count = |service: &str, name: &str| {
            spans
                .iter()
                .filter(|s| s.service == service && s.name() == name)
                .count()
        };
        let complete = expected.iter().all(|(r, n, c)| count(r, n) == *c)
            && count("signaalnet-node-gemeente_groningen", "notify") == 1;
        if complete {
            break spans;
        }
        assert!(
            Instant::now() < deadline,
            "the trace is incomplete: {:#?}",
            spans
                .iter()
                .map(|s| (&s.service, s.name()))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let one = |service: &str, name: &str| {
        in_trace
            .iter()
            .find(|s| s.service == service && s.name() == name)
            .unwrap()
            .clone()
    };
    let node = "signaalnet-node-politie_noord_nederland";
    let submit_span = one(node, "submit");
    let forward = one(node, "forward");
    let matched = one("signaalnet-coordinator", "match");
    // Parents: the system → submit; submit → match (carried with the signal); forward → each
    // transcryption (gRPC metadata); match → notify → the node's receipt.
    assert_eq!(submit_span.parent_span_id(), system_span);
    assert_eq!(matched.parent_span_id(), submit_span.span_id());
    let police_oin = chain.role_info(POLITIE).await.unwrap().oin;
    for transcryptor in [
        "signaalnet-transcryptor_vng",
        "signaalnet-transcryptor_jenv",
    ] {
        let t = one(transcryptor, "transcrypt");
        assert_eq!(t.parent_span_id(), forward.span_id(), "{transcryptor}");
        // Another organisation's role called: the standard's foreign operation fields.
        assert_eq!(
            t.attr("dpl.core.foreign_operation.span_id"),
            Some(forward.span_id())
        );
        assert_eq!(
            t.attr("dpl.core.foreign_operation.processor"),
            Some(format!("urn:oin:{police_oin}"))
        );
    }
    let notices: Vec<_> = in_trace
        .iter()
        .filter(|s| s.service == "signaalnet-coordinator" && s.name() == "notify")
        .collect();
    for notice in &notices {
        assert_eq!(notice.parent_span_id(), matched.span_id());
    }
    for receiver_node in [node, "signaalnet-node-gemeente_groningen"] {
        let receipt = one(receiver_node, "notify");
        assert!(
            notices
                .iter()
                .any(|n| n.span_id() == receipt.parent_span_id()),
            "{receiver_node}'s receipt hangs under a coordinator notify span"
        );
    }
    // Every step carries the processing activity of the purpose (policies/purposes.toml) and
    // the policy version, and none failed.
    for span in &in_trace {
        let what = format!("{} {}", span.service, span.name());
        assert_eq!(
            span.attr("dpl.core.processing_activity_id").as_deref(),
            Some("signaalnet-va-001"),
            "{what}"
        );
        assert!(span.attr("signaalnet.policy_version").is_some(), "{what}");
        assert_ne!(span.status_code(), 2, "{what}");
    }
    // The data subjects on the node are its keyed lookups, one per match key.
    let subjects = submit_span.attr("dpl.core.data_subject_id").unwrap();
    assert!(subjects.starts_with("person:"), "{subjects}");
    assert!(submit_span.attr("dpl.core.data_subject_id_type").is_some());

    // The NLA node exports on its own schedule: wait for its batch too.
    let refused_submit = |s: &common::otlp::Received| {
        s.service == "signaalnet-node-nla"
            && s.name() == "submit"
            && s.attr("signaalnet.outcome").as_deref() == Some("refused")
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !receiver.spans().iter().any(refused_submit) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let all = receiver.spans();
    let refusal = all
        .iter()
        .find(|s| refused_submit(s))
        .expect("the refused submission is logged");
    assert_eq!(refusal.status_code(), 0);
    // The gemeente's own submission is a trace of its own.
    let gemeente_submit = all
        .iter()
        .find(|s| s.service == "signaalnet-node-gemeente_groningen" && s.name() == "submit")
        .unwrap();
    assert_ne!(gemeente_submit.trace_id(), trace);
    // No identifier, in any spelling the partners used, in anything exported.
    let exported = format!("{all:?}").to_lowercase();
    for raw in ["wisniewski", "wiśniewski", "piotr", "9711 ab", "9711ab"] {
        assert!(!exported.contains(raw), "`{raw}` in an exported span");
    }
}

on_both_databases!(
    hits_form_across_partners_and_dissolve_on_withdrawal,
    refusals_name_the_field_purpose_and_rule,
    certificates_act_only_as_themselves,
    coordinator_killed_mid_stream_loses_nothing_and_duplicates_nothing,
    no_raw_identifier_outside_the_nodes,
    every_role_keeps_a_trail_that_verifies_and_shows_tampering,
    policy_changes_take_effect_without_restart_only_when_valid_and_signed,
);

/// A submission stream whose input cannot be read (here a message over the 4 MiB limit) answers
/// what was read before it and then ends with an error status, not with OK.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_submission_stream_ends_with_an_error_not_ok() {
    let chain = common::start(None).await;
    let first = signal("GRO-S1", vec![address("9711 AB", "12")], &[]);
    let mut oversized = signal("GRO-S2", vec![address("9711 AB", "14")], &[]);
    oversized.case_reference = "x".repeat(5 * 1024 * 1024);
    let mut results = chain
        .partner(GEMEENTE)
        .unwrap()
        .submit_signals(tokio_stream::iter(vec![first, oversized]))
        .await
        .unwrap()
        .into_inner();
    let mut accepted = 0;
    let status = loop {
        match results.message().await {
            Ok(Some(r)) => {
                assert!(matches!(
                    r.outcome,
                    Some(pb::submit_signal_result::Outcome::Accepted(_))
                ));
                accepted += 1;
            }
            Ok(None) => panic!("the stream ended with OK after {accepted} result(s)"),
            Err(status) => break status,
        }
    };
    assert_eq!(
        accepted, 1,
        "the signal read before the broken one is answered"
    );
    assert_eq!(
        status.code(),
        Code::ResourceExhausted,
        "{}",
        status.message()
    );
    assert!(status.message().len() < 1_000);
}
