//! Case consultations on the node: the partner system asks for a consultation on one of its
//! hits, or answers a request another partner of the hit sent; the node checks the request's
//! form and that the hit is one of this partner's, forwards it to the coordinator at once (the
//! coordinator decides who may ask and answer, `signaalnet_coordinator::consult`) and records
//! the step. What the coordinator sends back about consultations arrives on the notification
//! stream and is kept as a notice of the hit for `WatchHits` ([`store_consultation_notice`]).
//! Nothing of a case goes out: the hit id, the purpose and codes.

use crate::watcher::{own_signals, WatchError};
use crate::{input, Node, NodeError};
use prost::Message;
use signaalnet_audit::{Actor, Event, Step};
use signaalnet_proto::v1 as pb;
use signaalnet_proto::v1::coordinator_service_client::CoordinatorServiceClient;
use signaalnet_service::query;
use signaalnet_service::status::Refusal;
use sqlx::Row;
use tonic::{Code, Status};
use tracing::Span;

/// The answer for a hit this partner has no live signal in, as the coordinator gives it.
fn not_in_hit() -> Status {
    Refusal::new(Code::NotFound, "NOT_FOUND", "")
        .violation(
            "hit_id",
            "consultation.not_in_hit",
            "no current hit with a signal of this partner has this id (unknown, ended, or \
             without this partner's signals)",
        )
        .into_status()
}

fn invalid(violations: Vec<pb::FieldViolation>) -> Result<(), Status> {
    if violations.is_empty() {
        return Ok(());
    }
    Err(Refusal::invalid("").violations(violations).into_status())
}

/// A refusal by the coordinator goes to the partner system as it is (code, message and
/// details, which name the field and rule); anything else is the coordinator being away.
fn from_coordinator(status: Status) -> Status {
    match status.code() {
        Code::InvalidArgument
        | Code::NotFound
        | Code::AlreadyExists
        | Code::PermissionDenied
        | Code::FailedPrecondition
        | Code::ResourceExhausted => Status::with_details(
            status.code(),
            status.message().to_owned(),
            status.details().to_vec().into(),
        ),
        _ => {
            tracing::warn!(code = ?status.code(), "coordinator did not take a consultation call");
            Status::unavailable(
                "the coordinator could not be reached or did not answer; retry (a request with \
                 the same idempotency key, an answer as it was)",
            )
        }
    }
}

impl Node {
    fn coordinator_client(
        &self,
    ) -> Result<CoordinatorServiceClient<tonic::transport::Channel>, Status> {
        self.coordinator
            .clone()
            .map(CoordinatorServiceClient::new)
            .ok_or_else(|| Status::unavailable("this node has no coordinator to forward to"))
    }

    /// This partner's live signals in `hit_id` (those the node knows to be in it).
    async fn live_signals_in(&self, hit_id: &str) -> Result<Vec<String>, NodeError> {
        Ok(sqlx::query(
            "SELECT signal_id FROM node_signal_hits WHERE hit_id = $1 ORDER BY signal_id",
        )
        .bind(hit_id)
        .fetch_all(self.store.pool())
        .await?
        .iter()
        .map(|r| r.get("signal_id"))
        .collect())
    }

    async fn audit_consult_refusal(&self, actor: Actor, purpose: &str, what: &str, code: Code) {
        let event = Event::for_purpose(Step::Refuse, &self.policy(), purpose)
            .by(actor)
            .detail(format!("{what} refused: {code:?}"));
        self.audit.try_record(&self.store, event).await;
    }

    /// `RequestConsultation`: forwards the request of the partner system.
    pub async fn request_consultation(
        &self,
        actor: Actor,
        request: pb::RequestConsultationRequest,
    ) -> Result<pb::RequestConsultationResponse, Status> {
        let purpose = request.purpose.clone();
        let result = self.request_checked(&actor, request).await;
        if let Err(status) = &result {
            self.audit_consult_refusal(actor, &purpose, "consultation request", status.code())
                .await;
        }
        result
    }

    async fn request_checked(
        &self,
        actor: &Actor,
        request: pb::RequestConsultationRequest,
    ) -> Result<pb::RequestConsultationResponse, Status> {
        let mut violations = Vec::new();
        input::check_key("idempotency_key", &request.idempotency_key, &mut violations);
        if !query::is_hit_id(&request.hit_id) {
            violations.push(input::violation(
                "hit_id",
                "hit_id.invalid",
                "a hit id: `hit-` and 16 hex digits",
            ));
        }
        if let Err(e) = query::purpose(&request.purpose, "purpose", false) {
            violations.push(input::violation(e.field, e.rule, e.description));
        }
        if !matches!(
            pb::ConsultationReason::try_from(request.reason),
            Ok(pb::ConsultationReason::Casusoverleg
                | pb::ConsultationReason::Drieluik
                | pb::ConsultationReason::AcuteSafety)
        ) {
            violations.push(input::violation(
                "reason",
                "consultation.reason_required",
                "one of CASUSOVERLEG, DRIELUIK, ACUTE_SAFETY",
            ));
        }
        invalid(violations)?;
        let own = self.live_signals_in(&request.hit_id).await?;
        if own.is_empty() {
            return Err(not_in_hit());
        }
        // The key the coordinator knows the request by: keyed from the partner's idempotency
        // key, so a retry is the same request there, and the key itself never leaves the node.
        let mac = self.mac(b"consultation", request.idempotency_key.as_bytes());
        let request_key = format!("req-{}", hex::encode(&mac[..16]));
        let answer = self
            .coordinator_client()?
            .request_consultation(signaalnet_telemetry::request(
                &Span::current(),
                pb::CoordinatorConsultationRequest {
                    request_key,
                    hit_id: request.hit_id.clone(),
                    reason: request.reason,
                    purpose: request.purpose.clone(),
                },
            ))
            .await
            .map_err(from_coordinator)?
            .into_inner();
        let reason = pb::ConsultationReason::try_from(request.reason)
            .map(|r| r.as_str_name())
            .unwrap_or_default();
        let event = Event::for_purpose(Step::Consult, &self.policy(), &request.purpose)
            .by(actor.clone())
            .reference(format!("hit:{}", request.hit_id))
            .reference(format!("consultation:{}", answer.consultation_id))
            .references(own.iter().map(|id| self.signal_ref(id)))
            .detail(format!(
                "consultation requested ({reason}){}: sent to the coordinator with this \
                 partner's contact point",
                if answer.replayed { ", a repeat" } else { "" }
            ));
        self.audit
            .record(&self.store, event)
            .await
            .map_err(NodeError::from)?;
        Ok(pb::RequestConsultationResponse {
            consultation_id: answer.consultation_id,
            replayed: answer.replayed,
            contact_point: answer.contact_point,
        })
    }

    /// `AnswerConsultation`: forwards the partner system's answer.
    pub async fn answer_consultation(
        &self,
        actor: Actor,
        request: pb::AnswerConsultationRequest,
    ) -> Result<pb::AnswerConsultationResponse, Status> {
        let result = self.answer_checked(&actor, &request).await;
        if let Err(status) = &result {
            self.audit_consult_refusal(actor, "", "consultation answer", status.code())
                .await;
        }
        result
    }

    async fn answer_checked(
        &self,
        actor: &Actor,
        request: &pb::AnswerConsultationRequest,
    ) -> Result<pb::AnswerConsultationResponse, Status> {
        let mut violations = Vec::new();
        let id_ok = request
            .consultation_id
            .strip_prefix("con-")
            .is_some_and(|h| {
                h.len() == 16
                    && h.bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            });
        if !id_ok {
            violations.push(input::violation(
                "consultation_id",
                "consultation_id.invalid",
                "a consultation id: `con-` and 16 hex digits",
            ));
        }
        if !query::is_hit_id(&request.hit_id) {
            violations.push(input::violation(
                "hit_id",
                "hit_id.invalid",
                "a hit id: `hit-` and 16 hex digits",
            ));
        }
        let reason = pb::DeclineReason::try_from(request.decline_reason).ok();
        match pb::ConsultationAnswer::try_from(request.answer) {
            Ok(pb::ConsultationAnswer::Accepted) => {
                if reason != Some(pb::DeclineReason::Unspecified) {
                    violations.push(input::violation(
                        "decline_reason",
                        "consultation.decline_reason_on_accept",
                        "leave unset when accepting",
                    ));
                }
            }
            Ok(pb::ConsultationAnswer::Declined) => {
                if matches!(reason, None | Some(pb::DeclineReason::Unspecified)) {
                    violations.push(input::violation(
                        "decline_reason",
                        "consultation.decline_reason_required",
                        "one of NO_LEGAL_BASIS, NOT_RELEVANT, CASE_CLOSED, ALREADY_IN_CONTACT",
                    ));
                }
            }
            _ => violations.push(input::violation(
                "answer",
                "consultation.answer_required",
                "ACCEPTED or DECLINED",
            )),
        }
        invalid(violations)?;
        let own = self.live_signals_in(&request.hit_id).await?;
        if own.is_empty() {
            return Err(not_in_hit());
        }
        let answer = self
            .coordinator_client()?
            .answer_consultation(signaalnet_telemetry::request(
                &Span::current(),
                pb::CoordinatorAnswerRequest {
                    consultation_id: request.consultation_id.clone(),
                    hit_id: request.hit_id.clone(),
                    answer: request.answer,
                    decline_reason: request.decline_reason,
                },
            ))
            .await
            .map_err(from_coordinator)?
            .into_inner();
        let purpose: String =
            sqlx::query("SELECT purpose FROM node_hits WHERE hit_id = $1 LIMIT 1")
                .bind(&request.hit_id)
                .fetch_optional(self.store.pool())
                .await
                .map_err(NodeError::from)?
                .map(|r| r.get("purpose"))
                .unwrap_or_default();
        let answer_name = pb::ConsultationAnswer::try_from(request.answer)
            .map(|a| a.as_str_name())
            .unwrap_or_default();
        let reason_name = reason.map(|r| r.as_str_name()).unwrap_or_default();
        let event = Event::for_purpose(Step::Consult, &self.policy(), &purpose)
            .by(actor.clone())
            .reference(format!("hit:{}", request.hit_id))
            .reference(format!("consultation:{}", request.consultation_id))
            .references(own.iter().map(|id| self.signal_ref(id)))
            .detail(
                if request.answer == pb::ConsultationAnswer::Accepted as i32 {
                    format!(
                        "consultation answered: {answer_name}, with this partner's contact point{}",
                        if answer.replayed { " (a repeat)" } else { "" }
                    )
                } else {
                    format!(
                        "consultation answered: {answer_name} ({reason_name}){}",
                        if answer.replayed { " (a repeat)" } else { "" }
                    )
                },
            );
        self.audit
            .record(&self.store, event)
            .await
            .map_err(NodeError::from)?;
        Ok(pb::AnswerConsultationResponse {
            consultation_id: answer.consultation_id,
            replayed: answer.replayed,
            contact_point: answer.contact_point,
        })
    }
}

/// Keeps a consultation notice from the coordinator for `WatchHits`, with this partner's live
/// signals in the hit and their case references, and records its receipt. It does not change
/// what the node knows of the hit's members.
pub(crate) async fn store_consultation_notice(
    node: &Node,
    n: pb::PartnerNotification,
) -> Result<(), WatchError> {
    let Some(consultation) = n.consultation.clone() else {
        return Ok(());
    };
    let mut w = node.store.write().await.map_err(NodeError::from)?;
    let (own, _) = own_signals(&mut w.tx, &n, false).await?;
    let hit = pb::HitNotification {
        cursor: String::new(),
        hit_id: n.hit_id.clone(),
        purpose: n.purpose.clone(),
        change: pb::HitChange::Unspecified as i32,
        own_signals: own,
        partner_roles: Vec::new(),
        matched_kinds: Vec::new(),
        attributes: Vec::new(),
        policy: n.policy.clone(),
        consultation: Some(consultation.clone()),
        contact_points: Vec::new(),
    };
    let seq: i64 = sqlx::query(
        "INSERT INTO node_hits (hit_id, purpose, payload, consultation_id) VALUES ($1, $2, $3, $4) \
         RETURNING seq",
    )
    .bind(&hit.hit_id)
    .bind(&hit.purpose)
    .bind(hit.encode_to_vec())
    .bind(&consultation.consultation_id)
    .fetch_one(&mut *w.tx)
    .await?
    .get("seq");
    let what = if consultation.event == pb::ConsultationEvent::Requested as i32 {
        "consultation request of another partner of the hit received, with its contact point"
            .to_owned()
    } else {
        let answer = pb::ConsultationAnswer::try_from(consultation.answer)
            .map(|a| a.as_str_name())
            .unwrap_or_default();
        format!("answer to this partner's consultation request received: {answer}")
    };
    let event = Event::for_purpose(Step::Consult, &node.policy(), &hit.purpose)
        .reference(format!("hit:{}", hit.hit_id))
        .reference(format!("consultation:{}", consultation.consultation_id))
        .references(
            hit.own_signals
                .iter()
                .map(|o| node.signal_ref(&o.signal_id)),
        )
        .detail(what);
    node.audit
        .append(&mut w.tx, event)
        .await
        .map_err(NodeError::from)?;
    sqlx::query(
        "INSERT INTO node_state (name, value) VALUES ($1, $2) \
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
    )
    .bind(crate::watcher::CURSOR)
    .bind(&n.cursor)
    .execute(&mut *w.tx)
    .await?;
    w.commit().await.map_err(NodeError::from)?;
    node.hits.send_replace(seq);
    tracing::info!(partner = %node.partner_id, hit = %hit.hit_id, "consultation notice received");
    Ok(())
}
