//! The node's two background workers.
//!
//! - [`run_outbox`]: takes due signals from the outbox, has every transcryptor convert their
//!   ciphertexts in turn (one `Convert` per transcryptor per batch), delivers them to the
//!   coordinator and records each answer. A transcryptor or coordinator that is unreachable only
//!   delays delivery (exponential backoff up to 30 s); the coordinator ignores a signal id it
//!   already has, so a retry after a lost answer duplicates nothing. Withdrawals go the same way.
//! - [`run_watcher`]: follows the coordinator's notifications for this partner from the last
//!   stored cursor, maps signal ids to the partner's case references and stores each as a hit
//!   notification for the partner's own `WatchHits`.

use crate::{state, Node, NodeError};
use prost::Message;
use signaalnet_audit::{Event, Step};
use signaalnet_proto::v1 as pb;
use signaalnet_proto::v1::coordinator_service_client::CoordinatorServiceClient;
use signaalnet_proto::v1::transcryptor_service_client::TranscryptorServiceClient;
use signaalnet_proto::MAX_CONVERT_BATCH;
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

fn backoff(attempts: i64) -> i64 {
    1i64 << attempts.clamp(0, 5) // 1, 2, 4 … 32 s
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
        "SELECT signal_id, payload, attempts FROM node_signals WHERE state = $1 AND next_attempt_at <= $2 \
         ORDER BY created_at, signal_id LIMIT $3",
    )
    .bind(state::PENDING)
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
    for row in &rows {
        let id: String = row.get("signal_id");
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
        Ok(acks) => record_acks(node, acks, &attempts, &purposes)
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
                .bind(now() + backoff(*n))
                .bind(&message)
                .bind(id)
                .bind(state::PENDING)
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
    let mut proofs = proofs.into_iter();
    for signal in signals.iter_mut() {
        for identifier in &mut signal.identifiers {
            identifier.proofs = proofs.next().unwrap_or_default();
        }
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
) -> Result<(), ForwardError> {
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
                .bind(now() + backoff(tried))
                .bind(&ack.message)
                .bind(&ack.signal_id)
                .bind(state::PENDING)
                .execute(&mut *w.tx)
                .await?;
                continue;
            }
            other => {
                tracing::warn!(partner = %node.partner_id, signal = %ack.signal_id, code = %other, "coordinator refused a signal");
                (state::REFUSED, format!("{other}: {}", ack.message))
            }
        };
        let changed = sqlx::query("UPDATE node_signals SET state = $1, last_error = $2 WHERE signal_id = $3 AND state = $4")
            .bind(new_state)
            .bind(error)
            .bind(&ack.signal_id)
            .bind(state::PENDING)
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
            .bind(state::DELIVERED)
            .bind(state::PENDING);
        for id in chunk {
            query = query.bind(id);
        }
        for row in query.fetch_all(&mut *w.tx).await? {
            let id: String = row.get("signal_id");
            let purpose = purposes.get(&id).map_or("", String::as_str);
            outcome
                .entry(purpose)
                .or_default()
                .0
                .push(node.signal_ref(&id));
        }
    }
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
    Ok(())
}

async fn withdraw_due(node: &Node, upstream: &Upstream) -> Result<usize, ForwardError> {
    let ids: Vec<String> = sqlx::query(
        "SELECT signal_id FROM node_signals WHERE state = $1 ORDER BY created_at, signal_id \
         LIMIT 1000",
    )
    .bind(state::WITHDRAW_PENDING)
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
        .bind(state::WITHDRAWN)
        .bind(Vec::<u8>::new())
        .bind(id)
        .bind(state::WITHDRAW_PENDING)
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

const CURSOR: &str = "coordinator_cursor";

/// Runs until the process ends.
pub async fn run_watcher(node: Arc<Node>, coordinator: Channel) {
    let mut wait = Duration::from_millis(200);
    loop {
        match watch_once(&node, coordinator.clone()).await {
            Ok(()) => wait = Duration::from_millis(200),
            Err(e) => {
                tracing::warn!(partner = %node.partner_id, error = %e, "notification stream interrupted; reconnecting");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
        }
    }
}

async fn watch_once(node: &Node, coordinator: Channel) -> Result<(), ForwardError> {
    let cursor: Option<String> = sqlx::query("SELECT value FROM node_state WHERE name = $1")
        .bind(CURSOR)
        .fetch_optional(node.store.pool())
        .await?
        .map(|r| r.get("value"));
    let mut client = CoordinatorServiceClient::new(coordinator);
    let mut stream = client
        .watch_notifications(pb::WatchNotificationsRequest {
            after_cursor: cursor.unwrap_or_default(),
        })
        .await
        .map_err(ForwardError::Coordinator)?
        .into_inner();
    while let Some(n) = stream.next().await {
        let n = n.map_err(ForwardError::Coordinator)?;
        // The receipt is part of the trace of the submission that changed the hit.
        let span = telemetry::step("notify", Kind::Consumer);
        telemetry::follow(&span, Some(&n.traceparent));
        store_notification(node, n)
            .instrument(span.clone())
            .await
            .inspect_err(|e| telemetry::failed(&span, e))?;
    }
    Ok(())
}

async fn store_notification(node: &Node, n: pb::PartnerNotification) -> Result<(), ForwardError> {
    let mut own = Vec::with_capacity(n.own_signal_ids.len());
    for id in &n.own_signal_ids {
        let reference: Option<String> =
            sqlx::query("SELECT case_reference FROM node_signals WHERE signal_id = $1")
                .bind(id)
                .fetch_optional(node.store.pool())
                .await?
                .map(|r| r.get("case_reference"));
        own.push(pb::OwnSignal {
            signal_id: id.clone(),
            case_reference: if n.change == pb::HitChange::Expired as i32 {
                String::new()
            } else {
                reference.unwrap_or_default()
            },
        });
    }
    let hit = pb::HitNotification {
        cursor: String::new(),
        hit_id: n.hit_id.clone(),
        purpose: n.purpose.clone(),
        change: n.change,
        own_signals: own,
        partner_roles: n.partner_roles.clone(),
        matched_kinds: n.matched_kinds.clone(),
        attributes: n.attributes.clone(),
        policy: n.policy.clone(),
    };
    let mut w = node.store.write().await.map_err(NodeError::from)?;
    let seq: i64 = sqlx::query(
        "INSERT INTO node_hits (hit_id, purpose, payload) VALUES ($1, $2, $3) RETURNING seq",
    )
    .bind(&hit.hit_id)
    .bind(&hit.purpose)
    .bind(hit.encode_to_vec())
    .fetch_one(&mut *w.tx)
    .await?
    .get("seq");
    sqlx::query("DELETE FROM node_signal_hits WHERE hit_id = $1")
        .bind(&hit.hit_id)
        .execute(&mut *w.tx)
        .await?;
    let ended = hit.change == pb::HitChange::Dissolved as i32;
    let expired = hit.change == pb::HitChange::Expired as i32;
    if expired {
        crate::expiry::expire_signals(
            node,
            &mut w.tx,
            hit.own_signals.iter().map(|o| o.signal_id.as_str()),
        )
        .await?;
        // What the node kept of this hit goes with it; the EXPIRED notice itself carries
        // signal ids only.
        sqlx::query("DELETE FROM node_hits WHERE hit_id = $1 AND seq <> $2")
            .bind(&hit.hit_id)
            .bind(seq)
            .execute(&mut *w.tx)
            .await?;
    }
    if !ended && !expired {
        for own in &hit.own_signals {
            sqlx::query("INSERT INTO node_signal_hits (signal_id, hit_id) VALUES ($1, $2)")
                .bind(&own.signal_id)
                .bind(&hit.hit_id)
                .execute(&mut *w.tx)
                .await?;
        }
    }
    let change = pb::HitChange::try_from(hit.change)
        .map(|c| c.as_str_name())
        .unwrap_or("HIT_CHANGE_UNSPECIFIED");
    let event = Event::for_purpose(Step::Notify, &node.policy(), &hit.purpose)
        .reference(format!("hit:{}", hit.hit_id))
        .references(
            hit.own_signals
                .iter()
                .map(|o| node.signal_ref(&o.signal_id)),
        )
        .detail(format!(
            "hit notification received from the coordinator: {change}"
        ));
    node.audit
        .append(&mut w.tx, event)
        .await
        .map_err(NodeError::from)?;
    sqlx::query(
        "INSERT INTO node_state (name, value) VALUES ($1, $2) \
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
    )
    .bind(CURSOR)
    .bind(&n.cursor)
    .execute(&mut *w.tx)
    .await?;
    w.commit().await.map_err(NodeError::from)?;
    node.hits.send_replace(seq);
    tracing::info!(partner = %node.partner_id, hit = %hit.hit_id, change = hit.change, "hit notification received");
    Ok(())
}
