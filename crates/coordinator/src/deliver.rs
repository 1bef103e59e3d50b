//! Delivery: the signals a partner's node delivers are checked, decrypted and matched in batches.
//!
//! A node delivers its outbox in batches over one stream. Whatever of a stream has arrived is
//! taken together: every signal is checked on its own (a refusal is that signal's answer), the
//! survivors are decrypted over every core, and all of them are stored, matched and audited in
//! one write transaction. Per signal the answer is the same as if it had come alone; a batch
//! that cannot be stored is answered UNAVAILABLE for each of its signals, and none of it is kept.

use crate::core::{Coordinator, Outcome};
use crate::matching::{month_index, Matcher, Pseudonym, SignalEntry};
use crate::CoordinatorError;
use signaalnet_audit::{Actor, Event, Head, Step};
use signaalnet_identifier::IdentifierKind;
use signaalnet_policy::{Partner, PolicySet};
use signaalnet_proto::v1 as pb;
use signaalnet_pseudonym::{
    ConversionProof, CoordinatorDecryptor, DomainCommitments, EncryptedIdentifier, MatchDomain,
    Origin, OriginProof, PseudonymError,
};
use signaalnet_service::convert::{kind_from_wire, submits_signals};
use sqlx::{Any, Row, Transaction};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use tonic::Code;
use tracing::{Instrument, Span};

/// Longest accepted signal id (the node's own ids are far shorter).
const MAX_SIGNAL_ID: usize = 64;
const MAX_ATTRIBUTES: usize = 64;
const MAX_IDENTIFIERS: usize = 256;

/// Most signals taken into one write transaction.
pub const MAX_BATCH: usize = 256;

/// One delivered signal and the span of its processing log (`match`).
pub struct Delivered {
    pub signal: pb::EncryptedSignal,
    pub span: Span,
}

/// A signal that passed the checks on arrival.
struct Checked {
    month: i32,
    partner: String,
    purpose: String,
    kinds: Vec<IdentifierKind>,
    ciphertexts: Vec<EncryptedIdentifier>,
    /// Per identifier, one proof per transcryptor in the order of the chain.
    proofs: Vec<Vec<ConversionProof>>,
    origins: Vec<OriginProof>,
}

/// A checked signal, decrypted.
#[derive(Clone)]
struct Ready {
    month: i32,
    /// Identifiers as delivered (the keys are their distinct pseudonyms).
    identifiers: usize,
    keys: Vec<(IdentifierKind, Pseudonym)>,
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

    fn check(
        &self,
        policy: &PolicySet,
        partner: &Partner,
        signal: &pb::EncryptedSignal,
    ) -> Result<Checked, Outcome> {
        let invalid = |m: String| Err(Outcome::refuse(Code::InvalidArgument, m));
        if !submits_signals(partner.role) {
            return Err(Outcome::refuse(
                Code::PermissionDenied,
                format!(
                    "`{}` has role {} and may not deliver signals",
                    partner.id,
                    partner.role.as_str()
                ),
            ));
        }
        if signal.signal_id.is_empty() || signal.signal_id.len() > MAX_SIGNAL_ID {
            return invalid(format!(
                "signal_id: must be 1 to {MAX_SIGNAL_ID} characters"
            ));
        }
        let Some(month) = month_index(&signal.observed_month) else {
            return invalid("observed_month: must be YYYY-MM".into());
        };
        if signal.identifiers.is_empty() || signal.identifiers.len() > MAX_IDENTIFIERS {
            return invalid(format!(
                "identifiers: must hold 1 to {MAX_IDENTIFIERS} identifiers"
            ));
        }
        if signal.attributes.len() > MAX_ATTRIBUTES {
            return invalid(format!("attributes: at most {MAX_ATTRIBUTES}"));
        }
        let mut kinds = Vec::with_capacity(signal.identifiers.len());
        let mut ciphertexts = Vec::with_capacity(signal.identifiers.len());
        let mut proofs = Vec::with_capacity(signal.identifiers.len());
        let mut origins = Vec::with_capacity(signal.identifiers.len());
        for (i, identifier) in signal.identifiers.iter().enumerate() {
            let Some(kind) = kind_from_wire(identifier.kind) else {
                return invalid(format!(
                    "identifiers[{i}].kind: unspecified or unknown kind"
                ));
            };
            let ciphertext =
                EncryptedIdentifier::from_bytes(&identifier.ciphertext).map_err(|e| {
                    Outcome::refuse(
                        Code::InvalidArgument,
                        format!("identifiers[{i}].ciphertext: {e}"),
                    )
                })?;
            let transcryptors = self.decryptor.transcryptors();
            if identifier.proofs.len() != transcryptors {
                return invalid(format!(
                    "identifiers[{i}].proofs: one proof per transcryptor ({transcryptors}), got {}",
                    identifier.proofs.len()
                ));
            }
            let item_proofs = identifier
                .proofs
                .iter()
                .enumerate()
                .map(|(j, p)| {
                    ConversionProof::from_bytes(p).map_err(|e| {
                        Outcome::refuse(
                            Code::InvalidArgument,
                            format!("identifiers[{i}].proofs[{j}]: {e}"),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let origin = OriginProof::from_bytes(&identifier.origin_proof).map_err(|e| {
                Outcome::refuse(Code::InvalidArgument, format!("identifiers[{i}].{e}"))
            })?;
            kinds.push(kind);
            ciphertexts.push(ciphertext);
            proofs.push(item_proofs);
            origins.push(origin);
        }
        // Policy is checked again on arrival, with the coordinator's own policy set.
        let attributes: Vec<(&str, &str)> = signal
            .attributes
            .iter()
            .map(|a| (a.id.as_str(), a.value.as_str()))
            .collect();
        let distinct_kinds: Vec<IdentifierKind> = kinds
            .iter()
            .copied()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let decision =
            policy.evaluate_share(&partner.id, &signal.purpose, &distinct_kinds, &attributes);
        if !decision.is_allowed() {
            let list: Vec<String> = decision.refusals.iter().map(ToString::to_string).collect();
            tracing::warn!(
                partner = %partner.id,
                purpose = %signal.purpose,
                refusals = decision.refusals.len(),
                "signal refused by policy on arrival"
            );
            return Err(Outcome::refuse(
                Code::PermissionDenied,
                format!(
                    "refused by policy {}: {}",
                    policy.version(),
                    list.join("; ")
                ),
            ));
        }
        if policy
            .purpose(&signal.purpose)
            .is_some_and(|p| p.monitor.is_some())
        {
            return invalid(format!(
                "purpose: `{}` is aggregates-only; submit signals for the purposes it counts",
                signal.purpose
            ));
        }
        Ok(Checked {
            month,
            partner: partner.id.clone(),
            purpose: signal.purpose.clone(),
            kinds,
            ciphertexts,
            proofs,
            origins,
        })
    }

    /// Stores and matches the decrypted signals of one batch in one write transaction: all or
    /// none. Returns each signal's answer by its index in `batch`.
    async fn store_and_match(
        &self,
        policy: &PolicySet,
        partner: &Partner,
        actor: &Actor,
        batch: &[Delivered],
        ready: Vec<(usize, Ready)>,
    ) -> Result<Vec<(usize, Outcome)>, CoordinatorError> {
        let mut matcher = self.matcher.lock().await;
        let mut w = self.store.write().await?;
        // The stored signals these can link to, which the matcher may not hold.
        let keys: Vec<crate::load::Key> = ready
            .iter()
            .flat_map(|(i, r)| {
                let purpose = &batch[*i].signal.purpose;
                r.keys.iter().map(|(k, p)| (purpose.clone(), *k, *p))
            })
            .collect();
        // (Should this fail, what it loaded is stored and matches as it should: it stays held.)
        let mut held = crate::load::hold_reachable(&mut w.tx, &mut matcher, keys).await?;
        let mut head = self.audit.head(&mut w.tx).await?;
        let mut answers = Vec::with_capacity(ready.len());
        let mut matched = Vec::with_capacity(ready.len());
        let mut last = None;
        let mut stored = Ok(());
        for (i, ready) in ready {
            let delivered = &batch[i];
            let one = self
                .store_one(
                    (policy, partner, actor),
                    (&mut w.tx, &mut head),
                    &mut matcher,
                    &delivered.signal,
                    ready,
                )
                .instrument(delivered.span.clone())
                .await;
            match one {
                Ok(one) => {
                    held.extend(one.matched.as_ref().map(|m| m.seq));
                    last = one.last_notification.or(last);
                    matched.extend(one.matched.map(|m| (m, &delivered.signal.purpose)));
                    answers.push((i, one.outcome));
                }
                Err(e) => {
                    stored = Err(e);
                    break;
                }
            }
        }
        let committed = match stored {
            Ok(()) => w.commit().await.map_err(CoordinatorError::from),
            Err(e) => {
                drop(w);
                Err(e)
            }
        };
        if let Err(e) = committed {
            // The matcher already holds what was rolled back.
            self.reload(&mut matcher).await;
            return Err(e);
        }
        self.publish(last);
        // Signals that ended up in no hit are only in the store from here on.
        matcher.evict_unmatched(held);
        drop(matcher);
        for (m, purpose) in matched {
            self.watch_signal(policy, actor, (&partner.id, purpose), m.hit_changes > 0)
                .await;
            tracing::info!(
                partner = %partner.id,
                purpose = %purpose,
                seq = m.seq,
                identifiers = m.identifiers,
                hit_changes = m.hit_changes,
                "signal matched"
            );
        }
        Ok(answers)
    }

    /// One signal of a batch.
    async fn store_one(
        &self,
        (policy, partner, actor): (&PolicySet, &Partner, &Actor),
        (tx, head): (&mut Transaction<'static, Any>, &mut Head),
        matcher: &mut Matcher,
        signal: &pb::EncryptedSignal,
        ready: Ready,
    ) -> Result<StoredOne, CoordinatorError> {
        if !matcher.has_rule(&signal.purpose) {
            tracing::error!(purpose = %signal.purpose, "no matching rule for the purpose; signal not stored");
            return Ok(StoredOne::answer(Outcome::refuse(
                Code::Unavailable,
                "the coordinator could not store the signal; retry",
            )));
        }
        let attributes: Vec<(String, String)> = signal
            .attributes
            .iter()
            .map(|a| (a.id.clone(), a.value.clone()))
            .collect();
        let inserted = sqlx::query(
            "INSERT INTO coord_signals (partner_id, signal_id, purpose, observed_month, \
             attributes, policy_version, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (partner_id, signal_id) DO NOTHING RETURNING seq",
        )
        .bind(&partner.id)
        .bind(&signal.signal_id)
        .bind(&signal.purpose)
        .bind(&signal.observed_month)
        .bind(serde_json::to_string(&attributes).unwrap_or_else(|_| "[]".into()))
        .bind(policy.version())
        .bind(self.now())
        .fetch_optional(&mut **tx)
        .await?;
        let Some(seq) = inserted.map(|row| row.get::<i64, _>("seq")) else {
            // Delivered before (perhaps earlier in this batch), or withdrawn before it arrived.
            let withdrawn: Option<i64> = sqlx::query(
                "SELECT withdrawn_at FROM coord_signals WHERE partner_id = $1 AND signal_id = $2",
            )
            .bind(&partner.id)
            .bind(&signal.signal_id)
            .fetch_one(&mut **tx)
            .await?
            .get("withdrawn_at");
            let answer = if withdrawn.is_some() {
                "withdrawn earlier; ignored"
            } else {
                "already received; nothing changed"
            };
            return Ok(StoredOne::answer(Outcome::ok(answer)));
        };
        for (kind, pseudonym) in &ready.keys {
            sqlx::query("INSERT INTO coord_keys (seq, kind, pseudonym) VALUES ($1, $2, $3)")
                .bind(seq)
                .bind(kind.as_str())
                .bind(pseudonym.to_vec())
                .execute(&mut **tx)
                .await?;
        }
        let entry = SignalEntry {
            seq,
            partner: partner.id.clone(),
            signal_id: signal.signal_id.clone(),
            purpose: signal.purpose.clone(),
            month: ready.month,
            keys: ready.keys,
            attributes,
        };
        let events = matcher.insert(entry)?;
        let summary: Vec<String> = events
            .iter()
            .map(|e| format!("{} {:?}", e.hit_id, e.change))
            .collect();
        let event = Event::for_purpose(Step::Match, policy, &signal.purpose)
            .by(actor.clone())
            .reference(format!("signal:{}/{}", partner.id, signal.signal_id))
            .references(events.iter().map(|e| format!("hit:{}", e.hit_id)))
            .detail(format!(
                "received {} matching pseudonym(s) and matched: {}",
                ready.identifiers,
                if summary.is_empty() {
                    "no hit change".to_owned()
                } else {
                    summary.join(", ")
                }
            ));
        self.audit.append_after(tx, head, event).await?;
        let last = self
            .persist(policy, (tx, head), matcher, &events, &[])
            .await?;
        Ok(StoredOne {
            outcome: Outcome::ok("accepted"),
            last_notification: last,
            matched: Some(Matched {
                seq,
                identifiers: ready.identifiers,
                hit_changes: events.len(),
            }),
        })
    }
}

/// What storing one signal of a batch did.
struct StoredOne {
    outcome: Outcome,
    /// The last notification it queued.
    last_notification: Option<i64>,
    matched: Option<Matched>,
}

/// For the log line of a matched signal, written once the batch is committed.
struct Matched {
    seq: i64,
    identifiers: usize,
    hit_changes: usize,
}

impl StoredOne {
    /// Answered without storing anything.
    fn answer(outcome: Outcome) -> Self {
        Self {
            outcome,
            last_notification: None,
            matched: None,
        }
    }
}

/// Verifies every conversion of one checked signal and decrypts it into its distinct
/// pseudonyms. A conversion that does not verify is answered with ABORTED, naming the
/// transcryptor: the node keeps the signal and converts it again.
fn decrypt(
    decryptor: &CoordinatorDecryptor,
    commitments: &HashMap<MatchDomain, Arc<DomainCommitments>>,
    checked: &Checked,
) -> Result<Ready, Outcome> {
    let mut keys = BTreeSet::new();
    for (i, (((kind, ciphertext), proofs), origin)) in checked
        .kinds
        .iter()
        .zip(&checked.ciphertexts)
        .zip(&checked.proofs)
        .zip(&checked.origins)
        .enumerate()
    {
        let made_for = Origin {
            partner: &checked.partner,
            purpose: &checked.purpose,
            kind: *kind,
        };
        if let Err(e) = made_for.verify(ciphertext, origin) {
            return Err(Outcome::refuse(
                Code::PermissionDenied,
                format!("identifiers[{i}].origin_proof: {e}"),
            ));
        }
        let domain = MatchDomain::new(&checked.purpose, *kind)
            .map_err(|e| Outcome::refuse(Code::InvalidArgument, format!("purpose: {e}")))?;
        let Some(domain_commitments) = commitments.get(&domain) else {
            return Err(Outcome::refuse(
                Code::Unavailable,
                "the transcryptors' commitments for this purpose could not be fetched; retry",
            ));
        };
        match decryptor.verify_and_decrypt(ciphertext, proofs, domain_commitments) {
            Ok(p) => {
                keys.insert((*kind, *p.as_bytes()));
            }
            Err(e @ PseudonymError::ConversionInvalid { step }) => {
                tracing::error!(
                    transcryptor = step,
                    identifier = i,
                    "a conversion proof does not verify; the signal is not stored"
                );
                return Err(Outcome::refuse(
                    Code::Aborted,
                    format!("identifiers[{i}]: {e}"),
                ));
            }
            Err(e) => {
                return Err(Outcome::refuse(
                    Code::InvalidArgument,
                    format!("identifiers[{i}].ciphertext: {e}"),
                ))
            }
        }
    }
    Ok(Ready {
        month: checked.month,
        identifiers: checked.kinds.len(),
        keys: keys.into_iter().collect(),
    })
}
