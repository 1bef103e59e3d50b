//! The outbox worker: takes due signals from the outbox, has every transcryptor convert their
//! ciphertexts in turn (one `Convert` per transcryptor per batch), delivers them to the
//! coordinator and records each answer. A transcryptor or coordinator that is unreachable, or
//! answers something that cannot be used (too few or too many items, a ciphertext its proof
//! does not convert to), only delays delivery: the signal stays pending and is tried again
//! under [`signaalnet_service::retry`]. Only the coordinator's refusal ends it. The
//! coordinator ignores a signal id it already has, so a retry after a lost answer duplicates
//! nothing. Withdrawals go the same way.

use crate::{Node, NodeError, SignalState};
use prost::Message;
use signaalnet_audit::{Event, Step};
use signaalnet_proto::v1 as pb;
use signaalnet_proto::v1::coordinator_service_client::CoordinatorServiceClient;
use signaalnet_proto::v1::transcryptor_service_client::TranscryptorServiceClient;
use signaalnet_proto::MAX_CONVERT_BATCH;
use signaalnet_service::retry;
use signaalnet_store::now;
use signaalnet_telemetry::{self as telemetry, Kind};
use sqlx::Row;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio_stream::StreamExt;
use tonic::transport::Channel;
use tracing::{Instrument, Span};

/// Signals per conversion batch. Persons carry three ciphertexts, so a batch stays far below
/// `MAX_BATCH` ciphertexts.
pub const BATCH: i64 = 256;

/// Where the node's signals go.
#[derive(Clone)]
pub struct Upstream {
    /// In the order of the ceremony; each converts once.
    pub transcryptors: Vec<Channel>,
    pub coordinator: Channel,
    pub context: String,
}

#[derive(Debug, thiserror::Error)]
enum ForwardError {
    #[error(transparent)]
    Node(#[from] NodeError),
    #[error("database: {0}")]
    Query(#[from] sqlx::Error),
    #[error("transcryptor {index}: {status}")]
    Transcryptor { index: usize, status: tonic::Status },
    #[error("coordinator: {0}")]
    Coordinator(tonic::Status),
    #[error("stored signal {0} cannot be decoded")]
    Corrupt(String),
}

/// Seconds until a signal whose delivery failed `attempts` times before is due again: the
/// chain's retry policy, nominally 1, 2, 4 … 32 s. Rounded up, since the outbox keeps due times
/// in whole seconds.
fn retry_in(attempts: i64) -> i64 {
    let policy = retry::policy(Duration::from_secs(1), Duration::from_secs(32));
    let delay = retry::delay_after(policy, u32::try_from(attempts).unwrap_or(u32::MAX));
    i64::try_from(delay.as_millis().div_ceil(1000)).unwrap_or(i64::MAX)
}

/// Runs until the process ends.
pub async fn run_outbox(node: Arc<Node>, upstream: Upstream) {
    loop {
        match forward_once(&node, &upstream).await {
            Ok(0) => {
                let _ = tokio::time::timeout(Duration::from_secs(1), node.outbox.notified()).await;
            }
            Ok(_) => {}
            Err(e) => {
                node.metrics.delivery_failures.inc();
                tracing::warn!(partner = %node.partner_id, error = %e, "delivery failed; will retry");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

/// One round: due withdrawals, then one batch of due signals. Returns how many were handled.
async fn forward_once(node: &Node, upstream: &Upstream) -> Result<usize, ForwardError> {
    let handled = withdraw_due(node, upstream).await?;
    let rows = sqlx::query(
        "SELECT signal_id, payload, attempts, created_at FROM node_signals WHERE state = $1 AND next_attempt_at <= $2 \
         ORDER BY created_at, signal_id LIMIT $3",
    )
    .bind(SignalState::Pending.as_str())
    .bind(now())
    .bind(BATCH)
    .fetch_all(node.store.pool())
    .await?;
    if rows.is_empty() {
        return Ok(handled);
    }
    let mut signals = Vec::with_capacity(rows.len());
    let mut attempts = BTreeMap::new();
    let mut purposes = BTreeMap::new();
    let mut created = BTreeMap::new();
    for row in &rows {
        let id: String = row.get("signal_id");
        created.insert(id.clone(), row.get::<i64, _>("created_at"));
        let payload: Vec<u8> = row.get("payload");
        let signal = pb::EncryptedSignal::decode(payload.as_slice())
            .map_err(|_| ForwardError::Corrupt(id.clone()))?;
        attempts.insert(id.clone(), row.get::<i64, _>("attempts"));
        purposes.insert(id, signal.purpose.clone());
        signals.push(signal);
    }
    // One span for the batch: part of its first submission's trace, linked to the others'.
    let span = telemetry::step("forward", Kind::Client);
    let mut traces = signals.iter().map(|s| s.traceparent.as_str());
    telemetry::follow(&span, traces.next());
    traces.for_each(|other| telemetry::link(&span, Some(other)));
    telemetry::count(&span, signals.len());
    let delivered = convert_and_deliver(node, upstream, &mut signals, &span)
        .instrument(span.clone())
        .await;
    match delivered {
        Ok(acks) => record_acks(node, acks, &attempts, &purposes, &created)
            .instrument(span.clone())
            .await
            .inspect_err(|e| telemetry::failed(&span, e))?,
        Err(e) => {
            telemetry::failed(&span, &e);
            let message = e.to_string();
            let mut w = node.store.write().await.map_err(NodeError::from)?;
            for (id, n) in &attempts {
                sqlx::query(
                    "UPDATE node_signals SET attempts = $1, next_attempt_at = $2, last_error = $3 \
                     WHERE signal_id = $4 AND state = $5",
                )
                .bind(n + 1)
                .bind(now() + retry_in(*n))
                .bind(&message)
                .bind(id)
                .bind(SignalState::Pending.as_str())
                .execute(&mut *w.tx)
                .await?;
            }
            w.commit().await.map_err(NodeError::from)?;
            return Err(e);
        }
    }
    Ok(handled + rows.len())
}

async fn convert_and_deliver(
    node: &Node,
    upstream: &Upstream,
    signals: &mut [pb::EncryptedSignal],
    span: &Span,
) -> Result<Vec<pb::DeliveryAck>, ForwardError> {
    // The partner's own ciphertexts go to the coordinator as they are, with every step's proof;
    // each step's output is only the next transcryptor's input.
    let mut items: Vec<pb::ConvertItem> = signals
        .iter()
        .flat_map(|s| {
            s.identifiers.iter().map(|i| pb::ConvertItem {
                ciphertext: i.ciphertext.clone(),
                purpose: s.purpose.clone(),
                kind: i.kind,
                origin_proof: i.origin_proof.clone(),
            })
        })
        .collect();
    let mut proofs: Vec<Vec<Vec<u8>>> =
        vec![Vec::with_capacity(upstream.transcryptors.len()); items.len()];
    let batch_key = signals
        .first()
        .map(|s| s.signal_id.clone())
        .unwrap_or_default();
    for (index, channel) in upstream.transcryptors.iter().enumerate() {
        let mut client = TranscryptorServiceClient::new(channel.clone());
        let mut next = Vec::with_capacity(items.len());
        for (part, chunk) in items.chunks(MAX_CONVERT_BATCH).enumerate() {
            let response = client
                .convert(telemetry::request(
                    span,
                    pb::ConvertRequest {
                        idempotency_key: format!("{batch_key}/{}/{part}", items.len()),
                        coordinator_context: upstream.context.clone(),
                        items: chunk.to_vec(),
                    },
                ))
                .await
                .map_err(|status| ForwardError::Transcryptor {
                    index: index + 1,
                    status,
                })?
                .into_inner();
            if response.items.len() != chunk.len() {
                return Err(ForwardError::Transcryptor {
                    index: index + 1,
                    status: tonic::Status::data_loss(format!(
                        "answered {} of {} items",
                        response.items.len(),
                        chunk.len()
                    )),
                });
            }
            next.extend(response.items);
        }
        for (position, ((item, converted), item_proofs)) in
            items.iter_mut().zip(next).zip(&mut proofs).enumerate()
        {
            // The next step's input is what the proof speaks for: a transcryptor that answered
            // something else is named here, not the honest one after it at the coordinator.
            if !signaalnet_pseudonym::answer_matches_proof(&converted.ciphertext, &converted.proof)
            {
                return Err(ForwardError::Transcryptor {
                    index: index + 1,
                    status: tonic::Status::data_loss(format!(
                        "items[{position}]: the answered ciphertext is not the one its proof \
                         converts to"
                    )),
                });
            }
            item.ciphertext = converted.ciphertext;
            item.origin_proof = Vec::new();
            item_proofs.push(converted.proof);
        }
    }
    // `items`, and so `proofs`, were made from the signals' identifiers in this order, and every
    // transcryptor answered item for item (a short or long answer was an error above): they pair
    // up exactly.
    let identifiers = signals.iter_mut().flat_map(|s| s.identifiers.iter_mut());
    for (identifier, item_proofs) in identifiers.zip(proofs) {
        identifier.proofs = item_proofs;
    }
    let mut client = CoordinatorServiceClient::new(upstream.coordinator.clone());
    let outgoing = tokio_stream::iter(signals.to_vec());
    let mut acks = client
        .deliver_signals(telemetry::request(span, outgoing))
        .await
        .map_err(ForwardError::Coordinator)?
        .into_inner();
    let mut out = Vec::with_capacity(signals.len());
    while let Some(ack) = acks.next().await {
        out.push(ack.map_err(ForwardError::Coordinator)?);
    }
    tracing::info!(partner = %node.partner_id, signals = out.len(), "batch converted and delivered");
    Ok(out)
}

async fn record_acks(
    node: &Node,
    acks: Vec<pb::DeliveryAck>,
    attempts: &BTreeMap<String, i64>,
    purposes: &BTreeMap<String, String>,
    created: &BTreeMap<String, i64>,
) -> Result<(), ForwardError> {
    let mut retried = 0u64;
    let mut lags = Vec::with_capacity(acks.len());
    let mut w = node.store.write().await.map_err(NodeError::from)?;
    // purpose → (delivered, refused) signal ids, for the audit trail.
    let mut outcome: BTreeMap<&str, (Vec<String>, Vec<String>)> = BTreeMap::new();
    let mut delivered = Vec::with_capacity(acks.len());
    for ack in acks {
        let code = tonic::Code::from_i32(ack.code);
        let (new_state, error) = match code {
            tonic::Code::Ok => {
                delivered.push(ack.signal_id);
                continue;
            }
            // ABORTED: a transcryptor's conversion did not verify at the coordinator. Tried again
            // with the same growing pause as a failed delivery: a persistent fault neither loses
            // the signal nor floods the chain.
            tonic::Code::Unavailable | tonic::Code::Internal | tonic::Code::Aborted => {
                let tried = attempts.get(&ack.signal_id).copied().unwrap_or(0);
                sqlx::query(
                    "UPDATE node_signals SET attempts = $1, next_attempt_at = $2, last_error = $3 \
                     WHERE signal_id = $4 AND state = $5",
                )
                .bind(tried + 1)
                .bind(now() + retry_in(tried))
                .bind(&ack.message)
                .bind(&ack.signal_id)
                .bind(SignalState::Pending.as_str())
                .execute(&mut *w.tx)
                .await?;
                retried += 1;
                continue;
            }
            other => {
                tracing::warn!(partner = %node.partner_id, signal = %ack.signal_id, code = %other, "coordinator refused a signal");
                (
                    SignalState::Refused.as_str(),
                    format!("{other}: {}", ack.message),
                )
            }
        };
        let changed = sqlx::query("UPDATE node_signals SET state = $1, last_error = $2 WHERE signal_id = $3 AND state = $4")
            .bind(new_state)
            .bind(error)
            .bind(&ack.signal_id)
            .bind(SignalState::Pending.as_str())
            .execute(&mut *w.tx)
            .await?
            .rows_affected();
        if changed > 0 {
            let purpose = purposes.get(&ack.signal_id).map_or("", String::as_str);
            outcome
                .entry(purpose)
                .or_default()
                .1
                .push(node.signal_ref(&ack.signal_id));
        }
    }
    // The delivered ones, the common case, in one statement.
    for chunk in delivered.chunks(BATCH as usize) {
        let list = signaalnet_store::placeholders(3, chunk.len());
        // `state || ''` keeps the state off the outbox index: PostgreSQL, its statistics behind a
        // growing backlog, otherwise intersected the primary-key lookups with every pending row
        // of that index (measured: 122 ms per batch at 50,000 queued, the bulk load's largest
        // cost). The primary key alone finds the batch.
        let sql = format!(
            "UPDATE node_signals SET state = $1, last_error = NULL \
             WHERE signal_id IN ({list}) AND state || '' = $2 RETURNING signal_id"
        );
        let mut query = sqlx::query(&sql)
            .bind(SignalState::Delivered.as_str())
            .bind(SignalState::Pending.as_str());
        for id in chunk {
            query = query.bind(id);
        }
        for row in query.fetch_all(&mut *w.tx).await? {
            let id: String = row.get("signal_id");
            lags.extend(created.get(&id).copied());
            let purpose = purposes.get(&id).map_or("", String::as_str);
            outcome
                .entry(purpose)
                .or_default()
                .0
                .push(node.signal_ref(&id));
        }
    }
    let refused_n: u64 = outcome.values().map(|(_, r)| r.len() as u64).sum();
    let policy = node.policy();
    for (purpose, (delivered, refused)) in outcome {
        if !delivered.is_empty() {
            let event = Event::for_purpose(Step::Forward, &policy, purpose)
                .detail(format!(
                    "{} signal(s) converted by every transcryptor and delivered to the coordinator",
                    delivered.len()
                ))
                .references(delivered);
            node.audit
                .append(&mut w.tx, event)
                .await
                .map_err(NodeError::from)?;
        }
        if !refused.is_empty() {
            let event = Event::for_purpose(Step::Refuse, &policy, purpose)
                .detail(format!(
                    "{} signal(s) refused by the coordinator on arrival",
                    refused.len()
                ))
                .references(refused);
            node.audit
                .append(&mut w.tx, event)
                .await
                .map_err(NodeError::from)?;
        }
    }
    w.commit().await.map_err(NodeError::from)?;
    // Acceptance is recorded to the second: a lag is measured from the start of that second.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    for at in &lags {
        node.metrics
            .delivery_lag
            .observe((now - *at as f64).max(0.0));
    }
    let answers = [
        ("delivered", lags.len() as u64),
        ("refused", refused_n),
        ("retry", retried),
    ];
    for (outcome, n) in answers.into_iter().filter(|(_, n)| *n > 0) {
        node.metrics
            .delivered
            .get_or_create(&signaalnet_telemetry::metrics::OutcomeLabels {
                outcome: outcome.to_owned(),
            })
            .inc_by(n);
    }
    Ok(())
}

async fn withdraw_due(node: &Node, upstream: &Upstream) -> Result<usize, ForwardError> {
    let ids: Vec<String> = sqlx::query(
        "SELECT signal_id FROM node_signals WHERE state = $1 ORDER BY created_at, signal_id \
         LIMIT 1000", // signaalnet_coordinator::grpc::MAX_WITHDRAW
    )
    .bind(SignalState::WithdrawPending.as_str())
    .fetch_all(node.store.pool())
    .await?
    .iter()
    .map(|r| r.get("signal_id"))
    .collect();
    if ids.is_empty() {
        return Ok(0);
    }
    let span = telemetry::step("withdraw", Kind::Client);
    telemetry::count(&span, ids.len());
    withdraw_at_coordinator(node, upstream, ids, &span)
        .instrument(span.clone())
        .await
        .inspect_err(|e| telemetry::failed(&span, e))
}

async fn withdraw_at_coordinator(
    node: &Node,
    upstream: &Upstream,
    ids: Vec<String>,
    span: &Span,
) -> Result<usize, ForwardError> {
    let mut client = CoordinatorServiceClient::new(upstream.coordinator.clone());
    let done = client
        .withdraw_signals(telemetry::request(
            span,
            pb::CoordinatorWithdrawRequest {
                signal_ids: ids,
                reason: String::new(),
            },
        ))
        .await
        .map_err(ForwardError::Coordinator)?
        .into_inner()
        .withdrawn_signal_ids;
    let mut w = node.store.write().await.map_err(NodeError::from)?;
    for id in &done {
        // Withdrawn means gone: the ciphertexts and the case reference are deleted.
        sqlx::query(
            "UPDATE node_signals SET state = $1, payload = $2, case_reference = '' \
             WHERE signal_id = $3 AND state = $4",
        )
        .bind(SignalState::Withdrawn.as_str())
        .bind(Vec::<u8>::new())
        .bind(id)
        .bind(SignalState::WithdrawPending.as_str())
        .execute(&mut *w.tx)
        .await?;
    }
    let event = Event::new(Step::Forward, &node.policy())
        .detail(format!(
            "withdrawal of {} signal(s) delivered to the coordinator",
            done.len()
        ))
        .references(done.iter().map(|id| node.signal_ref(id)));
    node.audit
        .append(&mut w.tx, event)
        .await
        .map_err(NodeError::from)?;
    w.commit().await.map_err(NodeError::from)?;
    tracing::info!(partner = %node.partner_id, signals = done.len(), "withdrawal delivered");
    Ok(done.len())
}
