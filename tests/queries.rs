//! End-to-end: every query of every role is strict (README, "Queries and paging"). Over gRPC to
//! the chain's processes: a malformed, foreign or oversized value in a node's `ListHits`,
//! `GetSignalStatus` or `WatchHits`, or in the analyst API's `ListHits`, `GetHit` or
//! `GetMonitor`, gets the status code of its rule, a message naming the field and the rule,
//! bounded, that never repeats the value; page tokens work only for the query that issued them;
//! a request over the size limit is RESOURCE_EXHAUSTED on every role.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

use common::*;
use common::{postgres_url, Chain};
use signaalnet_proto::v1 as pb;
use std::time::{Duration, Instant};
use tonic::{Code, Status};

/// A value no answer may repeat: long, and recognisable in any excerpt.
fn huge(marker: &str, bytes: usize) -> String {
    marker.repeat(bytes / marker.len())
}

const MARK: &str = "Zq7Marker";

/// `status` is a refusal with `code`, naming `field` and `rule`, at most 512 bytes long, and
/// repeating nothing of the caller's value (`MARK`).
#[track_caller]
fn refused(status: &Status, code: Code, field: &str, rule: &str) {
    let message = status.message();
    assert_eq!(status.code(), code, "{message:.300}");
    assert!(
        message.len() <= 512,
        "{} bytes: {message:.300}",
        message.len()
    );
    assert!(message.starts_with(field), "field {field}: {message}");
    assert!(
        message.contains(&format!("[{rule}]")),
        "rule {rule}: {message}"
    );
    assert!(!message.contains(MARK), "echoed: {message}");
    assert!(!message.contains('\n'), "{message}");
    assert!(
        status.details().len() <= 1024,
        "details of {} bytes",
        status.details().len()
    );
}

/// Forms two hits in `signalering_drieluik` between the gemeente and the police (one per
/// address) and waits until the gemeente's node has both.
async fn two_hits(chain: &Chain) -> Vec<String> {
    for (case, postcode) in [("A", "9711AB"), ("B", "9712CD")] {
        for partner in [GEMEENTE, POLITIE] {
            submit(
                chain,
                partner,
                signal(
                    &format!("{partner}-{case}"),
                    vec![address(postcode, "7")],
                    &[],
                ),
            )
            .await
            .unwrap();
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let listed = chain
            .partner(GEMEENTE)
            .unwrap()
            .list_hits(pb::ListHitsRequest::default())
            .await
            .unwrap()
            .into_inner();
        if listed.hits.len() == 2 {
            let mut ids: Vec<String> = listed.hits.into_iter().map(|h| h.hit_id).collect();
            ids.sort();
            return ids;
        }
        assert!(Instant::now() < deadline, "no two hits: {listed:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn node_queries_are_strict(postgres: Option<&str>) {
    let chain = common::start(postgres).await;
    let hits = two_hits(&chain).await;
    let mut node = chain.partner(GEMEENTE).unwrap();
    let list = |purpose: &str, page_size: i32, page_token: &str| pb::ListHitsRequest {
        purpose: purpose.into(),
        page_size,
        page_token: page_token.into(),
    };

    // Paging: the token of page one leads to page two, and only for the same query.
    let first = node
        .list_hits(list(DRIELUIK, 1, ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.hits.len(), 1);
    assert_eq!(first.hits[0].hit_id, hits[0]);
    assert!(!first.next_page_token.is_empty());
    let second = node
        .list_hits(list(DRIELUIK, 1, &first.next_page_token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.hits.len(), 1);
    assert_eq!(second.hits[0].hit_id, hits[1]);
    assert!(
        second.next_page_token.is_empty(),
        "the last page has no next token"
    );
    let other = node
        .list_hits(list(ZORG, 1, &first.next_page_token))
        .await
        .unwrap_err();
    refused(
        &other,
        Code::InvalidArgument,
        "page_token",
        "page_token.other_query",
    );
    // A hit id is no page token (the old tokens were bare hit ids).
    let bare = node
        .list_hits(list(DRIELUIK, 1, &hits[0]))
        .await
        .unwrap_err();
    refused(
        &bare,
        Code::InvalidArgument,
        "page_token",
        "page_token.invalid",
    );
    // A page size above the maximum is lowered to it; 0 is the default.
    let all = node
        .list_hits(list("", i32::MAX, ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.hits.len(), 2);

    // Malformed values.
    for (request, field, rule) in [
        (list("", -5, ""), "page_size", "page_size.negative"),
        (list("", 0, "garbage"), "page_token", "page_token.invalid"),
        (
            list("", 0, &huge(MARK, 1 << 20)),
            "page_token",
            "page_token.invalid",
        ),
        (
            list(&huge(MARK, 1 << 20), 0, ""),
            "purpose",
            "purpose.invalid",
        ),
        (
            list("x\n2026-01-01T00:00:00Z ERROR forged", 0, ""),
            "purpose",
            "purpose.invalid",
        ),
    ] {
        let status = node.list_hits(request).await.unwrap_err();
        refused(&status, Code::InvalidArgument, field, rule);
    }

    // A purpose that does not exist and one that exists but is not the caller's: one answer,
    // so the answer does not tell which purposes exist.
    let mut politie = chain.partner(POLITIE).unwrap();
    let unknown = politie
        .list_hits(list("mensenhandel_geheim", 0, ""))
        .await
        .unwrap_err();
    let not_theirs = politie.list_hits(list(ZORG, 0, "")).await.unwrap_err();
    refused(
        &unknown,
        Code::PermissionDenied,
        "purpose",
        "purpose.not_permitted",
    );
    refused(
        &not_theirs,
        Code::PermissionDenied,
        "purpose",
        "purpose.not_permitted",
    );
    assert_eq!(unknown.message(), not_theirs.message());
    assert_eq!(unknown.details(), not_theirs.details());

    // Signal ids are checked for form before any lookup; a well-formed unknown one is NOT_FOUND.
    for signal_id in [huge(MARK, 1 << 20), "sig-none".into(), String::new()] {
        let status = node
            .get_signal_status(pb::GetSignalStatusRequest { signal_id })
            .await
            .unwrap_err();
        refused(
            &status,
            Code::InvalidArgument,
            "signal_id",
            "signal_id.invalid",
        );
    }
    let unknown = node
        .get_signal_status(pb::GetSignalStatusRequest {
            signal_id: "sig-00000000000000000000".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);

    // Cursors: only the decimal ones the node sent.
    for after_cursor in ["+5".to_owned(), "-1".into(), huge(MARK, 1 << 20)] {
        let status = node
            .watch_hits(pb::WatchHitsRequest { after_cursor })
            .await
            .unwrap_err();
        refused(
            &status,
            Code::InvalidArgument,
            "after_cursor",
            "cursor.invalid",
        );
    }

    // A unary request over the size limit: RESOURCE_EXHAUSTED, on a node and on the coordinator.
    let mut big = signal("BIG", vec![address("9711AB", "1")], &[]);
    big.case_reference = huge(MARK, 5 << 20);
    let status = node.submit_signal(big).await.unwrap_err();
    refused(
        &status,
        Code::ResourceExhausted,
        "request",
        "request.too_large",
    );
    let status = chain
        .analyst(RIEC)
        .unwrap()
        .get_hit(pb::GetHitRequest {
            purpose: RIEC_ANALYSE.into(),
            hit_id: huge(MARK, 5 << 20),
        })
        .await
        .unwrap_err();
    refused(
        &status,
        Code::ResourceExhausted,
        "request",
        "request.too_large",
    );
    chain.stop().await.unwrap();
}

async fn analyst_queries_are_strict(postgres: Option<&str>) {
    let chain = common::start(postgres).await;
    let hits = two_hits(&chain).await;
    // The ZVH's ketenregisseur sees drieluik hits; the RIEC's analyst does not.
    let mut zvh = chain.analyst(ZVH).unwrap();
    let list = |purpose: &str, filter: &[(&str, &str)], page_size: i32, page_token: &str| {
        pb::AnalystListHitsRequest {
            purpose: purpose.into(),
            filter: filter
                .iter()
                .map(|(id, value)| pb::Attribute {
                    id: (*id).into(),
                    value: (*value).into(),
                })
                .collect(),
            page_size,
            page_token: page_token.into(),
        }
    };

    // Paging, and tokens bound to the query.
    let first = zvh
        .list_hits(list(DRIELUIK, &[], 1, ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.hits.len(), 1);
    assert_eq!(first.hits[0].hit_id, hits[0]);
    let second = zvh
        .list_hits(list(DRIELUIK, &[], 1, &first.next_page_token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.hits[0].hit_id, hits[1]);
    let filtered = [("vorm_uitbuiting", "arbeidsuitbuiting")];
    let listed = zvh
        .list_hits(list(DRIELUIK, &filtered, 0, ""))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.hits.is_empty(), "no signal carries the attribute");
    let status = zvh
        .list_hits(list(DRIELUIK, &filtered, 1, &first.next_page_token))
        .await
        .unwrap_err();
    refused(
        &status,
        Code::InvalidArgument,
        "page_token",
        "page_token.other_query",
    );

    // Malformed values.
    let long = huge(MARK, 1 << 20);
    for (request, field, rule) in [
        (
            list(DRIELUIK, &[], -1, ""),
            "page_size",
            "page_size.negative",
        ),
        (
            list(DRIELUIK, &[], 0, "garbage"),
            "page_token",
            "page_token.invalid",
        ),
        (
            list(DRIELUIK, &[], 0, &long),
            "page_token",
            "page_token.invalid",
        ),
        (list(&long, &[], 0, ""), "purpose", "purpose.invalid"),
        (list("", &[], 0, ""), "purpose", "purpose.required"),
        (
            list(DRIELUIK, &[("vorm_uitbuiting", "nonsense")], 0, ""),
            "filter[0].value",
            "filter.value_invalid",
        ),
        (
            list(DRIELUIK, &[("vorm_uitbuiting", &long)], 0, ""),
            "filter[0].value",
            "filter.value_invalid",
        ),
        (
            list(DRIELUIK, &[(&long, "x")], 0, ""),
            "filter[0].id",
            "filter.attribute_not_visible",
        ),
        (
            list(DRIELUIK, &[("politie_registratie", "true")], 0, ""),
            "filter[0].id",
            "filter.attribute_not_visible",
        ),
        (
            list(
                DRIELUIK,
                &[("sector", "horeca"), ("sector", "horeca")],
                0,
                "",
            ),
            "filter[1].id",
            "filter.duplicate",
        ),
    ] {
        let status = zvh.list_hits(request).await.unwrap_err();
        refused(&status, Code::InvalidArgument, field, rule);
    }

    // Unknown purposes and others' purposes: one answer.
    let mut riec = chain.analyst(RIEC).unwrap();
    let unknown = riec
        .list_hits(list("mensenhandel_geheim", &[], 0, ""))
        .await
        .unwrap_err();
    let not_theirs = riec
        .list_hits(list(DRIELUIK, &[], 0, ""))
        .await
        .unwrap_err();
    refused(
        &unknown,
        Code::PermissionDenied,
        "purpose",
        "purpose.not_permitted",
    );
    refused(
        &not_theirs,
        Code::PermissionDenied,
        "purpose",
        "purpose.not_permitted",
    );
    assert_eq!(unknown.message(), not_theirs.message());

    // GetHit: the id's form first; a well-formed unknown id is NOT_FOUND without repeating it.
    for hit_id in [long.clone(), "hit-1".into(), String::new()] {
        let status = zvh
            .get_hit(pb::GetHitRequest {
                purpose: DRIELUIK.into(),
                hit_id,
            })
            .await
            .unwrap_err();
        refused(&status, Code::InvalidArgument, "hit_id", "hit_id.invalid");
    }
    let found = zvh
        .get_hit(pb::GetHitRequest {
            purpose: DRIELUIK.into(),
            hit_id: hits[1].clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.hit_id, hits[1]);
    let status = zvh
        .get_hit(pb::GetHitRequest {
            purpose: DRIELUIK.into(),
            hit_id: "hit-0000000000000000".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert!(
        !status.message().contains("hit-0000"),
        "{}",
        status.message()
    );

    // GetMonitor: dimensions named by the view, each once; never repeated back.
    for (dimensions, period, field, rule) in [
        (
            vec![long.clone()],
            "",
            "dimensions[0]",
            "dimensions.unknown",
        ),
        (
            vec!["gemeente".to_owned(), "gemeente".to_owned()],
            "",
            "dimensions[1]",
            "dimensions.duplicate",
        ),
        (vec![], "2023-01", "period", "period.format"),
        (vec![], long.as_str(), "period", "period.format"),
    ] {
        let status = riec
            .get_monitor(pb::GetMonitorRequest {
                purpose: MONITOR.into(),
                dimensions,
                period: period.to_owned(),
            })
            .await
            .unwrap_err();
        refused(&status, Code::InvalidArgument, field, rule);
    }
    chain.stop().await.unwrap();
}

on_both_databases!(node_queries_are_strict, analyst_queries_are_strict);
