//! The notification watcher: follows the coordinator's notifications for this partner from the
//! last stored cursor, maps signal ids to the partner's case references and stores each as a
//! hit notification for the partner's own `WatchHits`.

use crate::{Node, NodeError, SignalState};
use backon::Retryable;
use prost::Message;
use signaalnet_audit::{Event, Step};
use signaalnet_proto::v1 as pb;
use signaalnet_proto::v1::coordinator_service_client::CoordinatorServiceClient;
use signaalnet_service::retry;
use signaalnet_telemetry::{self as telemetry, Kind};
use sqlx::Row;
use std::sync::Arc;
use std::time::Duration;
use tokio_stream::StreamExt;
use tonic::transport::Channel;
use tracing::Instrument;

#[derive(Debug, thiserror::Error)]
pub(crate) enum WatchError {
    #[error(transparent)]
    Node(#[from] NodeError),
    #[error("database: {0}")]
    Query(#[from] sqlx::Error),
    #[error("coordinator: {0}")]
    Coordinator(tonic::Status),
}

pub(crate) const CURSOR: &str = "coordinator_cursor";

/// Runs until the process ends.
pub async fn run_watcher(node: Arc<Node>, coordinator: Channel) {
    loop {
        // Retried without end, so this never returns an error; a stream the coordinator ended
        // is followed again at once, with the delays started afresh.
        let _ = (|| watch_once(&node, coordinator.clone()))
            .retry(retry::policy(
                Duration::from_millis(200),
                Duration::from_secs(5),
            ))
            .notify(|e, _| {
                tracing::warn!(partner = %node.partner_id, error = %e, "notification stream interrupted; reconnecting");
            })
            .await;
    }
}

async fn watch_once(node: &Node, coordinator: Channel) -> Result<(), WatchError> {
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
        .map_err(WatchError::Coordinator)?
        .into_inner();
    while let Some(n) = stream.next().await {
        let n = n.map_err(WatchError::Coordinator)?;
        // The receipt is part of the trace of the submission that changed the hit.
        let step = if n.consultation.is_some() {
            "consult"
        } else {
            "notify"
        };
        let span = telemetry::step(step, Kind::Consumer);
        telemetry::follow(&span, Some(&n.traceparent));
        store_notification(node, n)
            .instrument(span.clone())
            .await
            .inspect_err(|e| telemetry::failed(&span, e))?;
    }
    Ok(())
}

/// This partner's signals a notice names, with their case references while each is live here
/// (never with the notice that a hit ended), and flagged `withdrawn` once withdrawn: those the
/// notice names as in the hit and those it names as withdrawn from it. Also the ids of those
/// live here.
pub(crate) async fn own_signals(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    n: &pb::PartnerNotification,
    ended: bool,
) -> Result<(Vec<pb::OwnSignal>, Vec<String>), sqlx::Error> {
    // In the order the coordinator gave, each once.
    let mut named: Vec<&String> = Vec::with_capacity(n.own_signal_ids.len());
    for id in n.own_signal_ids.iter().chain(&n.withdrawn_signal_ids) {
        if !named.contains(&id) {
            named.push(id);
        }
    }
    let mut own = Vec::with_capacity(named.len());
    let mut live = Vec::with_capacity(named.len());
    for id in named {
        let state: Option<(String, String)> =
            sqlx::query("SELECT state, case_reference FROM node_signals WHERE signal_id = $1")
                .bind(id)
                .fetch_optional(&mut **tx)
                .await?
                .map(|r| (r.get("state"), r.get("case_reference")));
        let withdrawn = n.withdrawn_signal_ids.contains(id)
            || state.as_ref().is_some_and(|(s, _)| {
                s == SignalState::WithdrawPending.as_str() || s == SignalState::Withdrawn.as_str()
            });
        let is_live = !withdrawn
            && state.as_ref().is_some_and(|(s, _)| {
                s == SignalState::Pending.as_str() || s == SignalState::Delivered.as_str()
            });
        let reference = match state {
            Some((_, reference)) if is_live && !ended => reference,
            _ => String::new(),
        };
        if is_live {
            live.push(id.clone());
        }
        own.push(pb::OwnSignal {
            signal_id: id.clone(),
            case_reference: reference,
            withdrawn,
        });
    }
    Ok((own, live))
}

async fn store_notification(node: &Node, n: pb::PartnerNotification) -> Result<(), WatchError> {
    if n.consultation.is_some() {
        return crate::consult::store_consultation_notice(node, n).await;
    }
    let ended = n.change == pb::HitChange::Dissolved as i32;
    let expired = n.change == pb::HitChange::Expired as i32;
    // Signals leave the hit: its earlier notices (which may carry attributes of withdrawn
    // signals, and case references of signals no longer in it) are replaced by this one.
    let replaces = ended || expired || n.change == pb::HitChange::Shrank as i32;
    // Read and written in one transaction: a withdrawal that commits meanwhile cannot have
    // its case reference stored after it forgot it.
    let mut w = node.store.write().await.map_err(NodeError::from)?;
    let (own, live) = own_signals(&mut w.tx, &n, ended || expired).await?;
    // A notice that leaves this partner without a signal in the hit (it withdrew its last one
    // from a hit that survives) is the end of the hit for it, like DISSOLVED.
    let ended_here = ended || expired || live.is_empty();
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
        consultation: None,
        contact_points: n.contact_points.clone(),
    };
    let now = node.audit.clock().now();
    let seq: i64 = sqlx::query(
        "INSERT INTO node_hits (hit_id, purpose, payload, ended_at) VALUES ($1, $2, $3, $4) \
         RETURNING seq",
    )
    .bind(&hit.hit_id)
    .bind(&hit.purpose)
    .bind(hit.encode_to_vec())
    .bind(ended_here.then_some(now))
    .fetch_one(&mut *w.tx)
    .await?
    .get("seq");
    sqlx::query("DELETE FROM node_signal_hits WHERE hit_id = $1")
        .bind(&hit.hit_id)
        .execute(&mut *w.tx)
        .await?;
    if replaces {
        // The consultation notices of the hit stay while the hit lasts for this partner.
        let sql = if ended_here {
            "DELETE FROM node_hits WHERE hit_id = $1 AND seq <> $2"
        } else {
            "DELETE FROM node_hits WHERE hit_id = $1 AND seq <> $2 AND consultation_id IS NULL"
        };
        sqlx::query(sql)
            .bind(&hit.hit_id)
            .bind(seq)
            .execute(&mut *w.tx)
            .await?;
    }
    if expired {
        crate::expiry::expire_signals(
            node,
            &mut w.tx,
            hit.own_signals.iter().map(|o| o.signal_id.as_str()),
        )
        .await?;
    }
    if !ended && !expired {
        // Only signals still live here are in a hit (a withdrawn one was forgotten).
        for id in &live {
            sqlx::query("INSERT INTO node_signal_hits (signal_id, hit_id) VALUES ($1, $2)")
                .bind(id)
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
    if replaces {
        node.scrub().await;
    }
    node.hits.send_replace(seq);
    tracing::info!(partner = %node.partner_id, hit = %hit.hit_id, change = hit.change, "hit notification received");
    Ok(())
}
