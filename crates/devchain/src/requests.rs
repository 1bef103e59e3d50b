//! Partner API requests as the demo, the bench and the tests send them, and waiting for their
//! delivery.

use crate::partners::DRIELUIK;
use crate::Chain;
use anyhow::{Context, Result};
use signaalnet_proto::v1 as pb;
use signaalnet_proto::v1::identifier::Value;
use signaalnet_proto::v1::partner_service_client::PartnerServiceClient;
use std::time::{Duration, Instant};
use tokio_stream::StreamExt;
use tonic::transport::Channel;

pub fn id(value: Value) -> pb::Identifier {
    pb::Identifier { value: Some(value) }
}

pub fn person(surname: &str, given: &str, dob: &str) -> pb::Identifier {
    id(Value::Person(pb::Person {
        surname: surname.into(),
        given_names: given.into(),
        date_of_birth: dob.into(),
    }))
}

pub fn address(postcode: &str, number: &str) -> pb::Identifier {
    id(Value::Address(pb::PostalAddress {
        postcode: postcode.into(),
        huisnummer: number.into(),
        toevoeging: String::new(),
    }))
}

pub fn handle(platform: &str, name: &str) -> pb::Identifier {
    id(Value::OnlineHandle(pb::OnlineHandle {
        platform: platform.into(),
        handle: name.into(),
    }))
}

pub fn vehicle(country: &str, plate: &str) -> pb::Identifier {
    id(Value::Vehicle(pb::Vehicle {
        country: country.into(),
        plate: plate.into(),
    }))
}

/// A signal for the drieluik purpose observed in 2026-10, idempotency key `key/<case>`.
pub fn signal(
    case: &str,
    identifiers: Vec<pb::Identifier>,
    attributes: &[(&str, &str)],
) -> pb::SubmitSignalRequest {
    signal_for(DRIELUIK, "2026-10", case, identifiers, attributes)
}

/// A signal for `purpose` observed in `month`, idempotency key `key/<case>`.
pub fn signal_for(
    purpose: &str,
    month: &str,
    case: &str,
    identifiers: Vec<pb::Identifier>,
    attributes: &[(&str, &str)],
) -> pb::SubmitSignalRequest {
    pb::SubmitSignalRequest {
        idempotency_key: format!("key/{case}"),
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

/// A valid BSN (eleven-proof), different for every `n` below 45 million: the even base
/// `10000000 + 2n` with its check digit, or, where that would be 10, the odd base after it
/// (its sum is 2 more, so its check digit is 1).
pub fn bsn(n: u64) -> String {
    let base = 10_000_000 + 2 * n;
    let sum: u64 = format!("{base:08}")
        .bytes()
        .zip((2..=9).rev())
        .map(|(d, w)| u64::from(d - b'0') * w)
        .sum();
    match sum % 11 {
        10 => format!("{:08}1", base + 1),
        check => format!("{base:08}{check}"),
    }
}

/// Fresh identifier values for generated load (so only the pairs meant to match do).
#[derive(Debug, Default)]
pub struct Ids {
    next: u64,
}

impl Ids {
    pub fn take(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    /// Reserves `n` consecutive numbers no other call returns; returns the first.
    pub fn reserve(&mut self, n: u64) -> u64 {
        let first = self.take();
        self.next = first + n;
        first
    }

    /// `k` identifiers no other signal has: a BSN, a KvK number, then phone numbers.
    pub fn identifiers(&mut self, k: usize) -> Vec<pb::Identifier> {
        let n = self.take();
        let mut out = vec![
            Value::Bsn(bsn(n)),
            Value::Kvk(format!("{:08}", 10_000_000 + n)),
        ];
        // Dutch mobiles from +31 61 on: +31 60… is not in the numbering plan (numbers are
        // checked against it), 61–65 are, room for 12 million signals.
        out.extend(
            (0..k.saturating_sub(2))
                .map(|i| Value::Phone(format!("+316{:08}", 10_000_000 + n * 4 + i as u64))),
        );
        out.truncate(k);
        out.into_iter().map(id).collect()
    }
}

/// Submits one signal; returns its id.
pub async fn submit(
    chain: &Chain,
    partner: &str,
    request: pb::SubmitSignalRequest,
) -> Result<String> {
    Ok(chain
        .partner(partner)?
        .submit_signal(request)
        .await?
        .into_inner()
        .signal_id)
}

/// Streams `requests` through `client`; returns the accepted signal ids (in order), or the
/// first refusal.
pub async fn submit_stream(
    mut client: PartnerServiceClient<Channel>,
    requests: Vec<pb::SubmitSignalRequest>,
) -> Result<Vec<String>> {
    let mut results = client
        .submit_signals(tokio_stream::iter(requests))
        .await?
        .into_inner();
    let mut ids = Vec::new();
    while let Some(result) = results.next().await {
        match result?.outcome {
            Some(pb::submit_signal_result::Outcome::Accepted(a)) => ids.push(a.signal_id),
            Some(pb::submit_signal_result::Outcome::Refused(e)) => {
                anyhow::bail!("a signal was refused: {}", e.message)
            }
            None => anyhow::bail!("a submission result without an outcome"),
        }
    }
    Ok(ids)
}

/// Waits until the node has delivered every one of `ids`; fails if one was refused.
pub async fn wait_delivered(chain: &Chain, partner: &str, ids: &[String]) -> Result<()> {
    for id in ids {
        let status = settled(chain, partner, id).await?;
        anyhow::ensure!(
            status.state != pb::SignalState::Refused as i32,
            "{partner} {id} refused: {}",
            status.detail
        );
    }
    Ok(())
}

/// Waits until a signal is no longer pending at its node (at most 90 s); returns its status.
pub async fn settled(chain: &Chain, partner: &str, id: &str) -> Result<pb::SignalStatus> {
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut client = chain.partner(partner)?;
    loop {
        let status = client
            .get_signal_status(pb::GetSignalStatusRequest {
                signal_id: id.to_owned(),
            })
            .await
            .with_context(|| format!("the status of {partner} {id}"))?
            .into_inner();
        if status.state != pb::SignalState::Pending as i32 {
            return Ok(status);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "{partner} {id} still pending: {}",
            status.detail
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use signaalnet_identifier::Bsn;

    #[test]
    fn generated_bsns_are_valid_and_distinct() {
        let mut seen = std::collections::HashSet::new();
        for n in (0..5_000).chain(999_990..1_000_010) {
            let value = bsn(n);
            assert!(Bsn::parse(&value).is_ok(), "{value}");
            assert!(seen.insert(value), "bsn({n}) repeats");
        }
    }
}
