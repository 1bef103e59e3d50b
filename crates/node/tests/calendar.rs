//! Retention on the partner node counts in the calendar (`P6M` is six calendar months, the day
//! clamped to a shorter month's end), on the node's manual clock.
#![allow(clippy::unwrap_used)] // test fixtures

mod common;

use common::{gemeente_node, request};
use signaalnet_store::{parse_date, Clock};
use std::time::Duration;

/// A signal created on 31 August 2027 under `retention_unmatched = "P6M"` (the drieluik
/// purpose) expires at the start of 29 February 2028, the last day of February in a leap year:
/// not after 180 days (27 February), and not a second before.
#[tokio::test]
async fn a_signal_from_a_month_end_expires_when_the_calendar_says() {
    let dir = tempfile::tempdir().unwrap();
    let created = parse_date("2027-08-31").unwrap();
    let clock = Clock::manual(created);
    let (node, actor) = gemeente_node(dir.path(), &clock).await;
    let mut signal = request("GRO-END", "9711 AB");
    signal.observed_month = "2027-08".into();
    node.submit(actor, signal).await.unwrap();

    let last_second = parse_date("2028-02-28").unwrap() + 86_399_000;
    clock.advance(Duration::from_millis(
        u64::try_from(last_second - created).unwrap(),
    ));
    assert_eq!(
        node.expire().await.unwrap().signals,
        0,
        "28 February: not yet"
    );
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        node.expire().await.unwrap().signals,
        1,
        "29 February 00:00: expired"
    );
}
