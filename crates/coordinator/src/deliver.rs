//! Delivery: the signals a partner's node delivers are checked, decrypted and matched in batches.
//!
//! A node delivers its outbox in batches over one stream. Whatever of a stream has arrived is
//! taken together: every signal is checked on its own (a refusal is that signal's answer), the
//! survivors are decrypted over every core, and all of them are stored, matched and audited in
//! one write transaction. Per signal the answer is the same as if it had come alone; a batch
//! that cannot be stored is answered UNAVAILABLE for each of its signals, and none of it is kept.
//!
//! The steps live beside this file: the checks on arrival (`arrival`), decryption
//! (`decrypt`), storing and matching (`store_match`).

use crate::arrival::Checked;
use crate::core::{Coordinator, Outcome};
use crate::decrypt::decrypt;
use signaalnet_audit::{Actor, Event, Step};
use signaalnet_identifier::IdentifierKind;
use signaalnet_policy::{Partner, PolicySet};
use signaalnet_proto::v1 as pb;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use tonic::Code;
use tracing::{Instrument, Span};

/// Most signals taken into one write transaction.
pub const MAX_BATCH: usize = 256;

/// One delivered signal and the span of its processing log (`match`).
pub struct Delivered {
    pub signal: pb::EncryptedSignal,
    pub span: Span,
}

impl Coordinator {
    /// Validates, re-checks policy, decrypts and matches one delivered signal. Idempotent: a
    /// signal id the partner delivered (or withdrew) before is acknowledged and changes nothing.
    pub async fn deliver(
        &self,
        partner: &Partner,
        actor: &Actor,
        signal: pb::EncryptedSignal,
    ) -> Outcome {
        let span = Span::current();
        let mut outcomes = self
            .deliver_batch(partner, actor, vec![Delivered { signal, span }])
            .await;
        outcomes
            .pop()
            .unwrap_or_else(|| Outcome::refuse(Code::Internal, "no outcome for the signal"))
    }

    /// [`Coordinator::deliver`] for up to [`MAX_BATCH`] signals at once (more are split);
    /// the outcomes are in the order of `batch`.
    pub async fn deliver_batch(
        &self,
        partner: &Partner,
        actor: &Actor,
        mut batch: Vec<Delivered>,
    ) -> Vec<Outcome> {
        let mut outcomes = Vec::with_capacity(batch.len());
        while !batch.is_empty() {
            let rest = batch.split_off(batch.len().min(MAX_BATCH));
            outcomes.extend(self.deliver_at_most_max(partner, actor, batch).await);
            batch = rest;
        }
        outcomes
    }

    async fn deliver_at_most_max(
        &self,
        partner: &Partner,
        actor: &Actor,
        batch: Vec<Delivered>,
    ) -> Vec<Outcome> {
        let policy = self.policy();
        let mut outcomes: Vec<Option<Outcome>> = vec![None; batch.len()];
        let mut accepted = Vec::with_capacity(batch.len());
        let mut checked = Vec::with_capacity(batch.len());
        for (i, delivered) in batch.iter().enumerate() {
            match self.check(&policy, partner, &delivered.signal) {
                Ok(c) => {
                    accepted.push(i);
                    checked.push(c);
                }
                Err(outcome) => outcomes[i] = Some(outcome),
            }
        }
        // Quota first: a partner over its quota costs no proof verification.
        self.take_quotas(
            &policy,
            partner,
            &batch,
            (&mut accepted, &mut checked),
            &mut outcomes,
        )
        .await;
        let domains: Vec<(String, IdentifierKind)> = checked
            .iter()
            .flat_map(|c| c.kinds.iter().map(|k| (c.purpose.clone(), *k)))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let commitments = match self.commitments.get(&self.store, &domains).await {
            Ok(c) => Arc::new(c),
            Err(e) => {
                tracing::error!(error = %e, "transcryptor commitments unavailable");
                HashMap::new().into()
            }
        };
        let decryptor = Arc::clone(&self.decryptor);
        let decrypted = signaalnet_service::cpu::spread(checked, move |part: &[Checked]| {
            part.iter()
                .map(|c| decrypt(&decryptor, &commitments, c))
                .collect()
        })
        .await
        .unwrap_or_else(|_| {
            let failed = Outcome::refuse(Code::Internal, "decryption task failed");
            vec![Err(failed); accepted.len()]
        });
        let mut decrypted_ok = Vec::with_capacity(accepted.len());
        for (i, result) in accepted.into_iter().zip(decrypted) {
            match result {
                Ok(ready) => decrypted_ok.push((i, ready)),
                Err(outcome) => outcomes[i] = Some(outcome),
            }
        }
        for (i, delivered) in batch.iter().enumerate() {
            if let Some(outcome) = &outcomes[i] {
                if let Some(rule) = arrival_rule(outcome) {
                    self.metrics.refused(rule);
                }
                self.audit_arrival_refusal(&policy, partner, actor, &delivered.signal, outcome)
                    .instrument(delivered.span.clone())
                    .await;
            }
        }
        if !decrypted_ok.is_empty() {
            let stored = self
                .store_and_match(&policy, partner, actor, &batch, decrypted_ok)
                .await;
            match stored {
                Ok(answers) => {
                    for (i, outcome) in answers {
                        outcomes[i] = Some(outcome);
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, signals = batch.len(), "storing delivered signals failed");
                    for slot in outcomes.iter_mut().filter(|o| o.is_none()) {
                        *slot = Some(Outcome::refuse(
                            Code::Unavailable,
                            "the coordinator could not store the signal; retry",
                        ));
                    }
                }
            }
        }
        outcomes
            .into_iter()
            .map(|o| o.unwrap_or_else(|| Outcome::refuse(Code::Internal, "signal not handled")))
            .collect()
    }

    async fn audit_arrival_refusal(
        &self,
        policy: &PolicySet,
        partner: &Partner,
        actor: &Actor,
        signal: &pb::EncryptedSignal,
        outcome: &Outcome,
    ) {
        let event = Event::for_purpose(Step::Refuse, policy, &signal.purpose)
            .by(actor.clone())
            .reference(format!("signal:{}/{}", partner.id, signal.signal_id))
            .detail(match outcome.code {
                // A conversion that did not verify names the transcryptor; a quota refusal
                // names the quota, its rule and counts: never a value the partner sent.
                Code::Aborted | Code::ResourceExhausted => {
                    format!("signal refused on arrival: {}", outcome.message)
                }
                code => format!("signal refused on arrival: {code:?}"),
            });
        self.audit.try_record(&self.store, event).await;
    }
}

/// The rule a refusal on arrival counts under in the metrics, when the check did not count it
/// under the policy's own rules already (a policy refusal: `None`).
fn arrival_rule(outcome: &Outcome) -> Option<&'static str> {
    Some(match outcome.code {
        Code::PermissionDenied if outcome.message.starts_with("refused by policy") => return None,
        Code::PermissionDenied => "arrival.partner_may_not_deliver",
        Code::InvalidArgument => "arrival.invalid_signal",
        Code::ResourceExhausted => "arrival.over_quota",
        Code::Aborted => "arrival.conversion_not_verified",
        _ => "arrival.not_stored",
    })
}
