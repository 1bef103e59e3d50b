//! Every role's metrics endpoint, scraped from the chain run as processes: the figures an
//! operator watches move with the traffic (the outbox fills while the coordinator is away and
//! empties on delivery, a hit counts as formed, a refusal counts under its rule, conversions,
//! quota use, request latency), and no label or value carries what a partner sent.
#![allow(clippy::unwrap_used)] // test fixtures

#[macro_use]
mod common;

use common::*;
use signaalnet_proto::v1 as pb;
use signaalnet_proto::v1::transcryptor_service_client::TranscryptorServiceClient;
use std::time::Duration;

/// The value of one series (`name{labels}` exactly as the endpoint writes it), if present.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.split(' ').next())
        .and_then(|v| v.parse().ok())
}

fn must(text: &str, series: &str) -> f64 {
    value(text, series).unwrap_or_else(|| panic!("no series `{series}` in:\n{text}"))
}

async fn figures_move_with_the_traffic(postgres: Option<&str>) {
    let options = Options {
        metrics: true,
        ..Options::default()
    };
    let mut chain = common::start_with(postgres, options).await;
    let person = || person("Wiśniewski", "Piotr", "1994-03-12");

    // The coordinator away: the politie's signal waits in the outbox.
    chain.kill("coordinator").unwrap();
    let p = submit(
        &chain,
        POLITIE,
        signal(
            "PL-SECRET-CASE-1",
            vec![person()],
            &[("vorm_uitbuiting", "arbeidsuitbuiting")],
        ),
    )
    .await
    .unwrap();
    chain
        .wait_for_log(POLITIE, "delivery failed", Duration::from_secs(30))
        .await
        .unwrap();
    let node = chain.scrape(POLITIE).await.unwrap();
    assert_eq!(
        must(&node, "signaalnet_node_outbox_signals{state=\"pending\"}"),
        1.0
    );
    assert!(must(&node, "signaalnet_node_delivery_failures_total") >= 1.0);
    assert!(
        must(
            &node,
            "signaalnet_node_outbox_oldest_age_seconds{state=\"pending\"}"
        ) >= 0.0
    );
    assert_eq!(
        must(
            &node,
            &format!("signaalnet_node_accepted_signals_total{{purpose=\"{DRIELUIK}\"}}")
        ),
        1.0
    );
    assert!(
        must(
            &node,
            &format!(
                "signaalnet_quota_used_identifiers{{partner=\"{POLITIE}\",purpose=\"{DRIELUIK}\"}}"
            )
        ) >= 1.0,
        "the person's match keys counted against the daily quota"
    );
    assert!(
        must(
            &node,
            &format!(
                "signaalnet_quota_limit_identifiers{{partner=\"{POLITIE}\",purpose=\"{DRIELUIK}\"}}"
            )
        ) > 1.0
    );
    assert_eq!(
        must(
            &node,
            "signaalnet_rpc_duration_seconds_count{method=\"/signaalnet.v1.PartnerService/SubmitSignal\",code=\"Ok\"}"
        ),
        1.0
    );

    // Back: the outbox empties, and the gemeente's signal on the same person forms a hit.
    chain.restart("coordinator").await.unwrap();
    wait_delivered(&chain, POLITIE, std::slice::from_ref(&p))
        .await
        .unwrap();
    let g = submit(
        &chain,
        GEMEENTE,
        signal(
            "GRO-SECRET-CASE-1",
            vec![person(), address("9711 AB", "12")],
            &[("woonsituatie", "overbewoning"), ("gemeente", "GM0014")],
        ),
    )
    .await
    .unwrap();
    wait_delivered(&chain, GEMEENTE, std::slice::from_ref(&g))
        .await
        .unwrap();
    let node = chain.scrape(POLITIE).await.unwrap();
    assert_eq!(
        must(&node, "signaalnet_node_outbox_signals{state=\"pending\"}"),
        0.0,
        "{node}"
    );
    assert_eq!(
        must(
            &node,
            "signaalnet_node_outbox_oldest_age_seconds{state=\"pending\"}"
        ),
        0.0
    );
    assert_eq!(
        must(
            &node,
            "signaalnet_node_delivery_answers_total{outcome=\"delivered\"}"
        ),
        1.0
    );
    assert_eq!(
        must(&node, "signaalnet_node_delivery_lag_seconds_count"),
        1.0
    );

    // A refusal at the node counts under its rule.
    let refused = chain
        .partner(GEMEENTE)
        .unwrap()
        .submit_signal(signal(
            "GRO-SECRET-CASE-2",
            vec![address("9711AB", "12")],
            &[("politie_registratie", "true")],
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    let gemeente = chain.scrape(GEMEENTE).await.unwrap();
    assert_eq!(
        must(
            &gemeente,
            "signaalnet_refusals_total{rule=\"policy.attribute_not_allowed\"}"
        ),
        1.0
    );
    assert_eq!(
        must(
            &gemeente,
            "signaalnet_rpc_duration_seconds_count{method=\"/signaalnet.v1.PartnerService/SubmitSignal\",code=\"PermissionDenied\"}"
        ),
        1.0
    );

    // The coordinator: both signals taken, one hit formed and held, the fence held.
    let coordinator = chain.scrape("coordinator").await.unwrap();
    let purpose = format!("{{purpose=\"{DRIELUIK}\"}}");
    assert_eq!(
        must(
            &coordinator,
            &format!("signaalnet_coordinator_received_signals_total{purpose}")
        ),
        2.0,
        "both signals arrived after the restart (the politie's waited in its outbox)"
    );
    assert_eq!(
        must(
            &coordinator,
            &format!("signaalnet_coordinator_hits_formed_total{purpose}")
        ),
        1.0
    );
    assert_eq!(
        must(
            &coordinator,
            &format!("signaalnet_coordinator_hits{purpose}")
        ),
        1.0
    );
    assert_eq!(must(&coordinator, "signaalnet_coordinator_active"), 1.0);
    assert_eq!(
        must(&coordinator, "signaalnet_coordinator_fence_epoch"),
        2.0,
        "the restart took the fence over"
    );
    assert!(must(
        &coordinator,
        "signaalnet_rpc_duration_seconds_count{method=\"/signaalnet.v1.CoordinatorService/DeliverSignals\",code=\"Ok\"}"
    ) >= 1.0);

    // Each transcryptor converted the identifiers of both partners; a refusal counts by rule.
    for transcryptor in TRANSCRYPTORS {
        let text = chain.scrape(transcryptor).await.unwrap();
        for (partner, n) in [(POLITIE, 1.0), (GEMEENTE, 2.0)] {
            let series = format!(
                "signaalnet_transcryptor_conversions_total{{partner=\"{partner}\",purpose=\"{DRIELUIK}\"}}"
            );
            assert!(must(&text, &series) >= n, "{series}:\n{text}");
        }
    }
    let status = TranscryptorServiceClient::new(chain.channel(TRANSCRYPTORS[0], NLA).unwrap())
        .convert(pb::ConvertRequest {
            idempotency_key: "empty".into(),
            coordinator_context: CONTEXT.into(),
            items: vec![],
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    let text = chain.scrape(TRANSCRYPTORS[0]).await.unwrap();
    assert_eq!(
        must(&text, "signaalnet_refusals_total{rule=\"items.required\"}"),
        1.0
    );

    // Nothing a partner sent is in any role's figures: no case reference, no identifier.
    for role in every_role() {
        let text = chain.scrape(&role).await.unwrap();
        for secret in [
            "SECRET",
            "Wiśniewski",
            "wisniewski",
            "Piotr",
            "1994-03-12",
            "9711 AB",
            "9711AB",
            "sig-",
            "hit-",
            "GM0014",
            "overbewoning",
        ] {
            assert!(
                !text.contains(secret),
                "{role}'s metrics hold `{secret}`:\n{text}"
            );
        }
    }

    // Only /metrics is served.
    let addr = chain.metrics_address("coordinator").unwrap();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut answer))
        .await
        .unwrap()
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
}

on_both_databases!(figures_move_with_the_traffic);
