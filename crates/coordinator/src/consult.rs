//! Case consultations (docs/DESIGN.md §6b): after a hit, a partner with a signal in it asks the
//! other partners of the hit for a consultation, and each answers accept or decline. The
//! coordinator checks who may ask and answer, routes the request and the answers as notices on
//! the partners' notification streams, and records every step. What travels: the hit id, the
//! purpose, codes, and contact points from the policy set (the requester's with the request,
//! an answering partner's with its acceptance). Never case data.
//!
//! Rules (each refusal names the field and the rule):
//! - only a partner with a signal in the hit now may ask or answer; an unknown hit, a hit that
//!   ended and a hit without the caller's signals get the same answer (`NOT_FOUND`,
//!   `consultation.not_in_hit`), so nobody learns of hits it is not in;
//! - the request names the hit's purpose (`consultation.purpose_mismatch` otherwise), and the
//!   requester (and an accepting partner) needs a contact point for it (`policy.contact_missing`);
//! - one open request per partner and hit (`consultation.one_open_request`), open while a
//!   partner it was sent to that is still in the hit has not answered; at most
//!   [`MAX_REQUESTS_PER_HIT`] requests per partner and hit in all
//!   (`consultation.max_requests_per_hit`);
//! - one answer per partner and request: the same again is a replay, another is
//!   `consultation.already_answered`; only a partner the request was sent to may answer
//!   (`consultation.not_addressed`, the same answer as an unknown consultation id).

use crate::core::Coordinator;
use crate::matching::Matcher;
use crate::view::partner_view;
use crate::CoordinatorError;
use prost::Message;
use ring::rand::{SecureRandom, SystemRandom};
use signaalnet_audit::{Actor, Event, Step};
use signaalnet_policy::{Partner, PolicySet};
use signaalnet_proto::v1 as pb;
use signaalnet_service::convert::role_to_wire;
use signaalnet_service::query;
use signaalnet_service::status::Refusal;
use sqlx::{Any, Row, Transaction};
use std::collections::{BTreeMap, BTreeSet};
use tonic::{Code, Status};
use tracing::Instrument;

/// The most consultation requests one partner may make on one hit, open or answered.
pub const MAX_REQUESTS_PER_HIT: i64 = 3;

/// A consultation id as the coordinator makes them: `con-` and 16 lowercase hex digits.
pub fn is_consultation_id(s: &str) -> bool {
    prefixed_hex(s, "con-", 16)
}

/// A node's request key: `req-` and 32 lowercase hex digits.
pub fn is_request_key(s: &str) -> bool {
    prefixed_hex(s, "req-", 32)
}

fn prefixed_hex(s: &str, prefix: &str, digits: usize) -> bool {
    s.strip_prefix(prefix).is_some_and(|h| {
        h.len() == digits
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// The refusal for a hit the caller has no signal in (or that does not exist, or ended).
fn not_in_hit() -> Refusal {
    Refusal::new(Code::NotFound, "NOT_FOUND", "").violation(
        "hit_id",
        "consultation.not_in_hit",
        "no current hit with a signal of this partner has this id (unknown, ended, or without \
         this partner's signals)",
    )
}

fn contact_missing(partner: &str, purpose: &str) -> Refusal {
    Refusal::precondition("").violation(
        "hit_id",
        "policy.contact_missing",
        format!(
            "partner `{partner}` has no contact point for purpose `{purpose}` in the policy set; \
             its privacy officer adds `contact` to its share"
        ),
    )
}

/// The partners with a signal in `hit_id` now, each with its signal ids; `None` when the
/// matcher holds no such hit.
fn members(matcher: &Matcher, hit_id: &str) -> Option<(String, BTreeMap<String, Vec<String>>)> {
    let hit = matcher.hit(hit_id)?;
    let mut by_partner: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for signal in hit.members.iter().filter_map(|s| matcher.signal(*s)) {
        by_partner
            .entry(signal.partner.clone())
            .or_default()
            .push(signal.signal_id.clone());
    }
    Some((hit.purpose.clone(), by_partner))
}

/// Deletes what is kept of the consultations on a hit that ended.
pub(crate) async fn forget_hit(
    tx: &mut Transaction<'static, Any>,
    hit_id: &str,
) -> Result<(), CoordinatorError> {
    sqlx::query(
        "DELETE FROM coord_consultation_answers WHERE consultation_id IN \
         (SELECT consultation_id FROM coord_consultations WHERE hit_id = $1)",
    )
    .bind(hit_id)
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM coord_consultations WHERE hit_id = $1")
        .bind(hit_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A partner left a hit: the requests it has not answered no longer wait for it.
pub(crate) async fn forget_partner(
    tx: &mut Transaction<'static, Any>,
    hit_id: &str,
    partner_id: &str,
) -> Result<(), CoordinatorError> {
    sqlx::query(
        "DELETE FROM coord_consultation_answers WHERE partner_id = $1 AND answer = 0 AND \
         consultation_id IN (SELECT consultation_id FROM coord_consultations WHERE hit_id = $2)",
    )
    .bind(partner_id)
    .bind(hit_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The form of a consultation request, before anything is looked up.
fn check_request(request: &pb::CoordinatorConsultationRequest) -> Result<(), Status> {
    let mut refusal = Refusal::invalid("");
    let mut bad = false;
    if !is_request_key(&request.request_key) {
        bad = true;
        refusal = refusal.violation(
            "request_key",
            "request_key.invalid",
            "`req-` and 32 lowercase hex digits",
        );
    }
    if !query::is_hit_id(&request.hit_id) {
        bad = true;
        refusal = refusal.violation(
            "hit_id",
            "hit_id.invalid",
            "a hit id: `hit-` and 16 hex digits",
        );
    }
    if query::purpose(&request.purpose, "purpose", false).is_err() {
        bad = true;
        refusal = refusal.violation(
            "purpose",
            "purpose.invalid",
            "the hit's purpose id (lower case letters, digits and `_`)",
        );
    }
    match pb::ConsultationReason::try_from(request.reason) {
        Ok(pb::ConsultationReason::Unspecified) | Err(_) => {
            bad = true;
            refusal = refusal.violation(
                "reason",
                "consultation.reason_required",
                "one of CASUSOVERLEG, DRIELUIK, ACUTE_SAFETY",
            );
        }
        Ok(_) => {}
    }
    if bad {
        Err(refusal.into_status())
    } else {
        Ok(())
    }
}

/// The form of an answer, before anything is looked up.
fn check_answer(request: &pb::CoordinatorAnswerRequest) -> Result<(), Status> {
    let mut refusal = Refusal::invalid("");
    let mut bad = false;
    if !is_consultation_id(&request.consultation_id) {
        bad = true;
        refusal = refusal.violation(
            "consultation_id",
            "consultation_id.invalid",
            "a consultation id: `con-` and 16 hex digits",
        );
    }
    if !query::is_hit_id(&request.hit_id) {
        bad = true;
        refusal = refusal.violation(
            "hit_id",
            "hit_id.invalid",
            "a hit id: `hit-` and 16 hex digits",
        );
    }
    let reason = pb::DeclineReason::try_from(request.decline_reason).ok();
    match pb::ConsultationAnswer::try_from(request.answer) {
        Ok(pb::ConsultationAnswer::Accepted) => {
            if reason != Some(pb::DeclineReason::Unspecified) {
                bad = true;
                refusal = refusal.violation(
                    "decline_reason",
                    "consultation.decline_reason_on_accept",
                    "leave unset when accepting",
                );
            }
        }
        Ok(pb::ConsultationAnswer::Declined) => {
            if matches!(reason, None | Some(pb::DeclineReason::Unspecified)) {
                bad = true;
                refusal = refusal.violation(
                    "decline_reason",
                    "consultation.decline_reason_required",
                    "one of NO_LEGAL_BASIS, NOT_RELEVANT, CASE_CLOSED, ALREADY_IN_CONTACT",
                );
            }
        }
        Ok(pb::ConsultationAnswer::Unspecified) | Err(_) => {
            bad = true;
            refusal = refusal.violation(
                "answer",
                "consultation.answer_required",
                "ACCEPTED or DECLINED",
            );
        }
    }
    if bad {
        Err(refusal.into_status())
    } else {
        Ok(())
    }
}

fn new_consultation_id() -> Result<String, CoordinatorError> {
    let mut bytes = [0u8; 8];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| CoordinatorError::Corrupt("no randomness for a consultation id".into()))?;
    Ok(format!("con-{}", hex::encode(bytes)))
}

fn role_of(policy: &PolicySet, partner_id: &str) -> i32 {
    policy
        .partner(partner_id)
        .and_then(|p| role_to_wire(p.role))
        .unwrap_or_default()
}

/// Whether `partner_id`'s recipient view for `purpose` shows partner roles.
fn sees_roles(policy: &PolicySet, partner_id: &str, purpose: &str) -> bool {
    policy
        .partner(partner_id)
        .and_then(|p| partner_view(policy, p, purpose))
        .is_some_and(|v| v.sees_partner_roles)
}

impl Coordinator {
    /// A consultation request of `partner` (see the module's rules).
    pub async fn request_consultation(
        &self,
        partner: &Partner,
        actor: &Actor,
        request: pb::CoordinatorConsultationRequest,
    ) -> Result<pb::CoordinatorConsultationResponse, Status> {
        let result = self.request_checked(partner, actor, &request).await;
        if let Err(refused) = &result {
            self.audit_refusal(actor.clone(), "", "consultation request", refused.code())
                .await;
        }
        result
    }

    async fn request_checked(
        &self,
        partner: &Partner,
        actor: &Actor,
        request: &pb::CoordinatorConsultationRequest,
    ) -> Result<pb::CoordinatorConsultationResponse, Status> {
        check_request(request)?;
        let policy = self.policy();
        // Under the matcher's lock: the hit's members cannot change while this is decided.
        let matcher = self.matcher.lock().await;
        let mut w = self.write().await?;
        if let Some(row) = sqlx::query(
            "SELECT consultation_id, hit_id, purpose, reason FROM coord_consultations \
             WHERE requester = $1 AND request_key = $2",
        )
        .bind(&partner.id)
        .bind(&request.request_key)
        .fetch_optional(&mut *w.tx)
        .await
        .map_err(CoordinatorError::from)?
        {
            let same = row.get::<String, _>("hit_id") == request.hit_id
                && row.get::<String, _>("purpose") == request.purpose
                && row.get::<i64, _>("reason") == i64::from(request.reason);
            if !same {
                return Err(
                    Refusal::new(Code::AlreadyExists, "IDEMPOTENCY_KEY_REUSED", "")
                        .violation(
                            "idempotency_key",
                            "idempotency_key.reused",
                            "already used for a different consultation request",
                        )
                        .into(),
                );
            }
            return Ok(pb::CoordinatorConsultationResponse {
                consultation_id: row.get("consultation_id"),
                replayed: true,
                contact_point: policy
                    .contact(&partner.id, &request.purpose)
                    .unwrap_or_default()
                    .to_owned(),
            });
        }
        let Some((purpose, by_partner)) = members(&matcher, &request.hit_id) else {
            return Err(not_in_hit().into());
        };
        if !by_partner.contains_key(&partner.id) {
            return Err(not_in_hit().into());
        }
        if purpose != request.purpose {
            return Err(Refusal::precondition("")
                .violation(
                    "purpose",
                    "consultation.purpose_mismatch",
                    "the hit is of another purpose than the request names",
                )
                .into());
        }
        let Some(contact) = policy.contact(&partner.id, &purpose) else {
            return Err(contact_missing(&partner.id, &purpose).into());
        };
        let counts = sqlx::query(
            "SELECT COUNT(*) AS n FROM coord_consultations WHERE hit_id = $1 AND requester = $2",
        )
        .bind(&request.hit_id)
        .bind(&partner.id)
        .fetch_one(&mut *w.tx)
        .await
        .map_err(CoordinatorError::from)?;
        let made: i64 = counts.get("n");
        let open: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM coord_consultation_answers a JOIN coord_consultations c \
             ON c.consultation_id = a.consultation_id \
             WHERE c.hit_id = $1 AND c.requester = $2 AND a.answer = 0",
        )
        .bind(&request.hit_id)
        .bind(&partner.id)
        .fetch_one(&mut *w.tx)
        .await
        .map_err(CoordinatorError::from)?
        .get("n");
        if open > 0 {
            return Err(Refusal::new(Code::AlreadyExists, "CONSULTATION_OPEN", "")
                .violation(
                    "hit_id",
                    "consultation.one_open_request",
                    "this partner's earlier request on this hit is still open (not every \
                     partner it went to has answered)",
                )
                .into());
        }
        if made >= MAX_REQUESTS_PER_HIT {
            return Err(Refusal::new(Code::ResourceExhausted, "OVER_QUOTA", "")
                .violation(
                    "hit_id",
                    "consultation.max_requests_per_hit",
                    format!("at most {MAX_REQUESTS_PER_HIT} consultation requests per hit"),
                )
                .into());
        }
        let consultation_id = new_consultation_id()?;
        let now = self.now();
        sqlx::query(
            "INSERT INTO coord_consultations (consultation_id, hit_id, purpose, requester, \
             request_key, reason, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&consultation_id)
        .bind(&request.hit_id)
        .bind(&purpose)
        .bind(&partner.id)
        .bind(&request.request_key)
        .bind(i64::from(request.reason))
        .bind(now)
        .execute(&mut *w.tx)
        .await
        .map_err(CoordinatorError::from)?;
        let reason = pb::ConsultationReason::try_from(request.reason)
            .map(|r| r.as_str_name())
            .unwrap_or("CONSULTATION_REASON_UNSPECIFIED");
        let mut head = self
            .audit
            .head(&mut w.tx)
            .await
            .map_err(CoordinatorError::from)?;
        let addressees: Vec<(&String, &Vec<String>)> = by_partner
            .iter()
            .filter(|(p, _)| **p != partner.id)
            .collect();
        let event = Event::for_purpose(Step::Consult, &policy, &purpose)
            .by(actor.clone())
            .reference(format!("hit:{}", request.hit_id))
            .reference(format!("consultation:{consultation_id}"))
            .detail(format!(
                "consultation requested by {} ({reason}) with its contact point; sent to {} \
                 partner(s) of the hit",
                partner.id,
                addressees.len()
            ));
        self.audit
            .append_after(&mut w.tx, &mut head, event)
            .await
            .map_err(CoordinatorError::from)?;
        let mut last = None;
        for (addressee, signals) in addressees {
            sqlx::query(
                "INSERT INTO coord_consultation_answers (consultation_id, partner_id) \
                 VALUES ($1, $2)",
            )
            .bind(&consultation_id)
            .bind(addressee)
            .execute(&mut *w.tx)
            .await
            .map_err(CoordinatorError::from)?;
            let consultation = pb::Consultation {
                consultation_id: consultation_id.clone(),
                event: pb::ConsultationEvent::Requested as i32,
                reason: request.reason,
                requester_contact: contact.to_owned(),
                requester_role: if sees_roles(&policy, addressee, &purpose) {
                    role_of(&policy, &partner.id)
                } else {
                    0
                },
                ..Default::default()
            };
            let (seq, span) = self
                .queue_consultation(
                    &mut w.tx,
                    &policy,
                    (addressee, signals),
                    (&request.hit_id, &purpose),
                    consultation,
                )
                .await?;
            last = Some(seq);
            let event = Event::for_purpose(Step::Consult, &policy, &purpose)
                .reference(format!("hit:{}", request.hit_id))
                .reference(format!("consultation:{consultation_id}"))
                .detail(format!(
                    "notification {seq} for {addressee}: consultation request of {}",
                    partner.id
                ));
            self.audit
                .append_after(&mut w.tx, &mut head, event)
                .instrument(span)
                .await
                .map_err(CoordinatorError::from)?;
        }
        w.commit().await.map_err(CoordinatorError::from)?;
        drop(matcher);
        self.publish(last);
        tracing::info!(partner = %partner.id, hit = %request.hit_id, consultation = %consultation_id, "consultation requested");
        Ok(pb::CoordinatorConsultationResponse {
            consultation_id,
            replayed: false,
            contact_point: contact.to_owned(),
        })
    }

    /// An answer of `partner` to a consultation request (see the module's rules).
    pub async fn answer_consultation(
        &self,
        partner: &Partner,
        actor: &Actor,
        request: pb::CoordinatorAnswerRequest,
    ) -> Result<pb::CoordinatorAnswerResponse, Status> {
        let result = self.answer_checked(partner, actor, &request).await;
        if let Err(refused) = &result {
            self.audit_refusal(actor.clone(), "", "consultation answer", refused.code())
                .await;
        }
        result
    }

    async fn answer_checked(
        &self,
        partner: &Partner,
        actor: &Actor,
        request: &pb::CoordinatorAnswerRequest,
    ) -> Result<pb::CoordinatorAnswerResponse, Status> {
        check_answer(request)?;
        let policy = self.policy();
        let matcher = self.matcher.lock().await;
        let mut w = self.write().await?;
        let not_addressed = || {
            Refusal::new(Code::NotFound, "NOT_FOUND", "").violation(
                "consultation_id",
                "consultation.not_addressed",
                "no consultation request on this hit was sent to this partner with this id",
            )
        };
        let Some(row) = sqlx::query(
            "SELECT c.hit_id, c.purpose, c.requester, a.answer, a.decline_reason \
             FROM coord_consultations c JOIN coord_consultation_answers a \
             ON a.consultation_id = c.consultation_id \
             WHERE c.consultation_id = $1 AND a.partner_id = $2",
        )
        .bind(&request.consultation_id)
        .bind(&partner.id)
        .fetch_optional(&mut *w.tx)
        .await
        .map_err(CoordinatorError::from)?
        else {
            return Err(not_addressed().into());
        };
        if row.get::<String, _>("hit_id") != request.hit_id {
            return Err(not_addressed().into());
        }
        let purpose: String = row.get("purpose");
        let requester: String = row.get("requester");
        let answered: i64 = row.get("answer");
        let contact = policy.contact(&partner.id, &purpose);
        let accepted = request.answer == pb::ConsultationAnswer::Accepted as i32;
        let given_contact = if accepted {
            contact.unwrap_or_default().to_owned()
        } else {
            String::new()
        };
        if answered != 0 {
            let same = answered == i64::from(request.answer)
                && row.get::<i64, _>("decline_reason") == i64::from(request.decline_reason);
            if !same {
                return Err(Refusal::new(Code::AlreadyExists, "ALREADY_ANSWERED", "")
                    .violation(
                        "answer",
                        "consultation.already_answered",
                        "this partner answered this consultation otherwise before; an answer \
                         is final",
                    )
                    .into());
            }
            return Ok(pb::CoordinatorAnswerResponse {
                consultation_id: request.consultation_id.clone(),
                replayed: true,
                contact_point: given_contact,
            });
        }
        let Some((_, by_partner)) = members(&matcher, &request.hit_id) else {
            return Err(not_in_hit().into());
        };
        if !by_partner.contains_key(&partner.id) {
            return Err(not_in_hit().into());
        }
        if accepted && contact.is_none() {
            return Err(contact_missing(&partner.id, &purpose).into());
        }
        let Some(requester_signals) = by_partner.get(&requester) else {
            return Err(Refusal::precondition("")
                .violation(
                    "consultation_id",
                    "consultation.requester_left",
                    "the partner that asked has no signal in the hit any more",
                )
                .into());
        };
        sqlx::query(
            "UPDATE coord_consultation_answers SET answer = $1, decline_reason = $2, \
             answered_at = $3 WHERE consultation_id = $4 AND partner_id = $5",
        )
        .bind(i64::from(request.answer))
        .bind(i64::from(request.decline_reason))
        .bind(self.now())
        .bind(&request.consultation_id)
        .bind(&partner.id)
        .execute(&mut *w.tx)
        .await
        .map_err(CoordinatorError::from)?;
        let answer_name = pb::ConsultationAnswer::try_from(request.answer)
            .map(|a| a.as_str_name())
            .unwrap_or("CONSULTATION_ANSWER_UNSPECIFIED");
        let reason_name = pb::DeclineReason::try_from(request.decline_reason)
            .map(|a| a.as_str_name())
            .unwrap_or("DECLINE_REASON_UNSPECIFIED");
        let mut head = self
            .audit
            .head(&mut w.tx)
            .await
            .map_err(CoordinatorError::from)?;
        let event = Event::for_purpose(Step::Consult, &policy, &purpose)
            .by(actor.clone())
            .reference(format!("hit:{}", request.hit_id))
            .reference(format!("consultation:{}", request.consultation_id))
            .detail(if accepted {
                format!(
                    "consultation answered by {}: {answer_name}, with its contact point",
                    partner.id
                )
            } else {
                format!(
                    "consultation answered by {}: {answer_name} ({reason_name})",
                    partner.id
                )
            });
        self.audit
            .append_after(&mut w.tx, &mut head, event)
            .await
            .map_err(CoordinatorError::from)?;
        let consultation = pb::Consultation {
            consultation_id: request.consultation_id.clone(),
            event: pb::ConsultationEvent::Answered as i32,
            answer: request.answer,
            decline_reason: request.decline_reason,
            answerer_contact: given_contact.clone(),
            answerer_role: if sees_roles(&policy, &requester, &purpose) {
                role_of(&policy, &partner.id)
            } else {
                0
            },
            ..Default::default()
        };
        let (seq, span) = self
            .queue_consultation(
                &mut w.tx,
                &policy,
                (&requester, requester_signals),
                (&request.hit_id, &purpose),
                consultation,
            )
            .await?;
        let event = Event::for_purpose(Step::Consult, &policy, &purpose)
            .reference(format!("hit:{}", request.hit_id))
            .reference(format!("consultation:{}", request.consultation_id))
            .detail(format!(
                "notification {seq} for {requester}: answer of {}",
                partner.id
            ));
        self.audit
            .append_after(&mut w.tx, &mut head, event)
            .instrument(span)
            .await
            .map_err(CoordinatorError::from)?;
        w.commit().await.map_err(CoordinatorError::from)?;
        drop(matcher);
        self.publish(Some(seq));
        tracing::info!(partner = %partner.id, consultation = %request.consultation_id, answer = answer_name, "consultation answered");
        Ok(pb::CoordinatorAnswerResponse {
            consultation_id: request.consultation_id.clone(),
            replayed: false,
            contact_point: given_contact,
        })
    }

    /// Queues a consultation notice for `partner_id` (with its own signals in the hit); returns
    /// its sequence number and the processing-log span of the step, whose trace context travels
    /// with the notice to the partner's node.
    async fn queue_consultation(
        &self,
        tx: &mut Transaction<'static, Any>,
        policy: &PolicySet,
        (partner_id, signals): (&str, &[String]),
        (hit_id, purpose): (&str, &str),
        consultation: pb::Consultation,
    ) -> Result<(i64, tracing::Span), CoordinatorError> {
        let span = signaalnet_telemetry::step("consult", signaalnet_telemetry::Kind::Producer);
        let consultation_id = consultation.consultation_id.clone();
        let notification = pb::PartnerNotification {
            hit_id: hit_id.to_owned(),
            purpose: purpose.to_owned(),
            change: pb::HitChange::Unspecified as i32,
            own_signal_ids: signals
                .iter()
                .cloned()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
            policy: Some(pb::PolicyVersion {
                version: policy.version().to_owned(),
            }),
            traceparent: signaalnet_telemetry::traceparent(&span).unwrap_or_default(),
            consultation: Some(consultation),
            ..Default::default()
        };
        let seq = sqlx::query(
            "INSERT INTO coord_notifications (partner_id, payload, created_at, hit_id, \
             consultation_id) VALUES ($1, $2, $3, $4, $5) RETURNING seq",
        )
        .bind(partner_id)
        .bind(notification.encode_to_vec())
        .bind(self.now())
        .bind(hit_id)
        .bind(&consultation_id)
        .fetch_one(&mut **tx)
        .await?
        .get("seq");
        Ok((seq, span))
    }
}
