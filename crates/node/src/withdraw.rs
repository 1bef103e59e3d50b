//! Withdrawal on the node: a partner withdraws signals by id, by case reference or by
//! identifier (keyed lookups); they are marked for the outbox worker, which tells the
//! coordinator, and everything the node kept of them but their id is deleted at once
//! (`expiry::forget`: ciphertexts, lookups, case reference, also in stored hit notices).
//! Idempotent per key.

use crate::{input, Node, NodeError, SignalState};
use prost::Message;
use signaalnet_audit::{Actor, Event, Step};
use signaalnet_identifier::Day;
use signaalnet_proto::v1 as pb;
use sqlx::Row;
use std::collections::BTreeSet;
use tonic::Status;

/// The longest withdrawal reason, in characters ("correctie", "bezwaar", "zaak gesloten", …).
pub const MAX_REASON: usize = 200;

impl Node {
    /// Marks the targeted signals for withdrawal; the outbox worker tells the coordinator.
    pub async fn withdraw(
        &self,
        actor: Actor,
        request: pb::WithdrawSignalsRequest,
    ) -> Result<pb::WithdrawSignalsResponse, Status> {
        use pb::withdraw_signals_request::Target;
        let mut violations = Vec::new();
        input::check_key("idempotency_key", &request.idempotency_key, &mut violations);
        // A target is checked like the field it names on submission: an empty case reference
        // would otherwise match every signal whose reference an earlier withdrawal blanked, and
        // an identifier no submission could have carried (a megabyte surname, a date of birth
        // in the future) is INVALID_ARGUMENT, not "not found". All before any lookup.
        let mut target_identifier = None;
        match &request.target {
            None => violations.push(input::violation(
                "target",
                "request.required",
                "set one of signal_id, case_reference, identifier",
            )),
            // A signal id has the form this node gives its signals.
            Some(Target::SignalId(id)) => {
                if let Err(e) = signaalnet_service::query::signal_id(id, "target.signal_id") {
                    violations.push(input::violation(e.field, e.rule, e.description));
                }
            }
            Some(Target::CaseReference(reference)) => {
                input::check_key("target.case_reference", reference, &mut violations)
            }
            Some(Target::Identifier(identifier)) => {
                let today = Day::from_unix_seconds(self.audit.clock().now());
                match input::parse_identifier(identifier, "target.identifier", today) {
                    Ok(parsed) => target_identifier = Some(parsed),
                    Err(v) => violations.push(v),
                }
            }
        }
        // The reason goes into the audit trail's wording only as a category; it is bounded all
        // the same, like every text a partner sends.
        if !request.reason.is_empty() {
            input::check_text("reason", &request.reason, MAX_REASON, &mut violations);
        }
        if !violations.is_empty() {
            return Err(Status::from(input::Refused {
                code: tonic::Code::InvalidArgument,
                violations,
            }));
        }
        let request_mac = self.mac(b"withdraw", &request.encode_to_vec());
        if let Some(row) = sqlx::query(
            "SELECT request_mac, signal_ids FROM node_withdrawals WHERE idempotency_key = $1",
        )
        .bind(self.key_at_rest(&request.idempotency_key))
        .fetch_optional(self.store.pool())
        .await
        .map_err(NodeError::from)?
        {
            if row.get::<Vec<u8>, _>("request_mac") != request_mac {
                return Err(Status::already_exists(
                    "idempotency_key: already used for a different withdrawal",
                ));
            }
            let ids: String = row.get("signal_ids");
            return Ok(pb::WithdrawSignalsResponse {
                withdrawn_signal_ids: ids
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
            });
        }
        let ids: Vec<String> = match &request.target {
            None => {
                return Err(Status::invalid_argument(
                    "target: set one of signal_id, case_reference, identifier",
                ))
            }
            Some(Target::SignalId(id)) => {
                sqlx::query("SELECT signal_id FROM node_signals WHERE signal_id = $1")
                    .bind(id)
                    .fetch_all(self.store.pool())
                    .await
                    .map_err(NodeError::from)?
                    .iter()
                    .map(|r| r.get("signal_id"))
                    .collect()
            }
            Some(Target::CaseReference(reference)) => sqlx::query(
                "SELECT signal_id FROM node_signals WHERE case_reference = $1 ORDER BY signal_id",
            )
            .bind(reference)
            .fetch_all(self.store.pool())
            .await
            .map_err(NodeError::from)?
            .iter()
            .map(|r| r.get("signal_id"))
            .collect(),
            Some(Target::Identifier(_)) => {
                let Some(parsed) = &target_identifier else {
                    return Err(Status::internal("target.identifier: not checked"));
                };
                let mut ids = BTreeSet::new();
                for lookup in self.lookups(parsed) {
                    for row in
                        sqlx::query("SELECT signal_id FROM node_signal_lookup WHERE lookup = $1")
                            .bind(&lookup)
                            .fetch_all(self.store.pool())
                            .await
                            .map_err(NodeError::from)?
                    {
                        ids.insert(row.get::<String, _>("signal_id"));
                    }
                }
                ids.into_iter().collect()
            }
        };
        if ids.is_empty() {
            return Err(Status::not_found("target: no signal of this node matches"));
        }
        let mut w = self.store.write().await.map_err(NodeError::from)?;
        for id in &ids {
            sqlx::query(
                // An expired signal stays expired: the coordinator deleted it already.
                "UPDATE node_signals SET state = $1, next_attempt_at = 0 WHERE signal_id = $2 \
                 AND state NOT IN ($3, $4)",
            )
            .bind(SignalState::WithdrawPending.as_str())
            .bind(id)
            .bind(SignalState::Withdrawn.as_str())
            .bind(SignalState::Expired.as_str())
            .execute(&mut *w.tx)
            .await
            .map_err(NodeError::from)?;
            // Withdrawn means gone, from the moment it is accepted: the outbox needs only the
            // id to tell the coordinator.
            crate::expiry::forget(self, &mut w.tx, id, true).await?;
        }
        let how = match &request.target {
            Some(Target::SignalId(_)) => "by signal id",
            Some(Target::CaseReference(_)) => "by case reference",
            Some(Target::Identifier(_)) => "by identifier (e.g. a correction or an objection)",
            None => "",
        };
        let policy = self.policy();
        let event = Event::new(Step::Withdraw, &policy)
            .by(actor)
            .references(ids.iter().map(|id| self.signal_ref(id)))
            .detail(format!(
                "withdrawal of {} signal(s) {how} accepted",
                ids.len()
            ));
        self.audit
            .append(&mut w.tx, event)
            .await
            .map_err(NodeError::from)?;
        sqlx::query(
            "INSERT INTO node_withdrawals (idempotency_key, request_mac, signal_ids, created_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(self.key_at_rest(&request.idempotency_key))
        .bind(&request_mac)
        .bind(ids.join(","))
        .bind(self.audit.clock().now())
        .execute(&mut *w.tx)
        .await
        .map_err(NodeError::from)?;
        w.commit().await.map_err(NodeError::from)?;
        self.scrub().await;
        self.outbox.notify_one();
        tracing::info!(partner = %self.partner_id, signals = ids.len(), "withdrawal accepted");
        Ok(pb::WithdrawSignalsResponse {
            withdrawn_signal_ids: ids,
        })
    }
}
