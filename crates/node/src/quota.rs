//! Probing limits at the source: before anything leaves the organisation, a signal is held to
//! its partner's per-signal cap and daily quota for the purpose (policy `limits`, `[share.bulk]`).
//! A refusal is RESOURCE_EXHAUSTED on the field `identifiers`, naming the quota, its rule and
//! when it frees up. Identifiers are counted as the match keys they are sent as (a person 3,
//! 2 without a given name, fewer where the purpose's `person_match_keys` leaves keys out; any
//! other kind 1), the unit the transcryptors and the coordinator count again.

use crate::input::Refused;
use crate::submit::{Submission, SubmitError};
use crate::Node;
use signaalnet_audit::Actor;
use signaalnet_identifier::Identifier;
use signaalnet_policy::quota::{Exhausted, Ledger};
use signaalnet_policy::PolicySet;
use signaalnet_proto::v1 as pb;
use signaalnet_service::quota::{self, Ask};
use sqlx::Row;
use std::collections::HashSet;

/// The per-signal cap, checked with the request (no state needed).
pub fn per_signal(
    policy: &PolicySet,
    partner: &str,
    purpose: &str,
    identifiers: &[Identifier],
) -> Result<(), Refused> {
    let keys: usize = identifiers
        .iter()
        .map(|i| policy.match_keys(purpose, i).len())
        .sum();
    Ledger::check_signal(
        policy.limits(partner, purpose),
        partner,
        purpose,
        keys as u64,
        signaalnet_store::now(),
    )
    .map_err(|e| refusal(&e))
}

fn refusal(e: &Exhausted) -> Refused {
    Refused {
        code: quota::code(e),
        violations: vec![pb::FieldViolation {
            field: "identifiers".to_owned(),
            rule: e.rule.clone(),
            description: e.to_string(),
        }],
    }
}

impl Node {
    /// Takes the daily quota for the new submissions of a batch (`keys_of` gives a submission's
    /// index in `batch` and its number of match keys); a refused one gets its answer in
    /// `answers` and leaves `new`.
    pub(crate) async fn take_quotas<T>(
        &self,
        actor: &Actor,
        policy: &PolicySet,
        batch: &[Submission],
        (new, keys_of): (&mut Vec<T>, impl Fn(&T) -> (usize, usize)),
        answers: &mut [Option<Result<pb::SubmitSignalResponse, SubmitError>>],
    ) {
        if new.is_empty() {
            return;
        }
        // A replay (an idempotency key already stored, or earlier in this batch) stores nothing
        // new and takes no quota: its answer is the original's.
        let stored = match self.stored_keys(batch, new, &keys_of).await {
            Ok(stored) => stored,
            Err(e) => {
                tracing::error!(error = %e, "reading idempotency keys for the quota failed");
                HashSet::new()
            }
        };
        let mut seen = HashSet::new();
        let counted: Vec<bool> = new
            .iter()
            .map(|n| {
                let key = batch[keys_of(n).0].request.idempotency_key.as_str();
                !stored.contains(key) && seen.insert(key)
            })
            .collect();
        let asks: Vec<Ask<'_>> = new
            .iter()
            .zip(&counted)
            .map(|(n, counted)| {
                let (index, keys) = keys_of(n);
                Ask {
                    purpose: &batch[index].request.purpose,
                    identifiers: if *counted { keys } else { 0 },
                    one_signal: true,
                }
            })
            .collect();
        let now = self.audit.clock().now();
        let taken = self
            .quotas
            .take(&self.store, policy, &self.partner_id, &asks, now)
            .await;
        let mut refused = vec![false; new.len()];
        match taken {
            Ok(results) => {
                for (k, result) in results.into_iter().enumerate() {
                    let Err(e) = result else { continue };
                    let (index, _) = keys_of(&new[k]);
                    let request = &batch[index].request;
                    let r = refusal(&e);
                    self.audit_refusal(actor.clone(), policy, &request.purpose, &r)
                        .await;
                    signaalnet_telemetry::outcome(&batch[index].span, "refused");
                    tracing::info!(
                        partner = %self.partner_id,
                        purpose = %request.purpose,
                        rule = %e.rule,
                        limit = e.limit,
                        used = e.used,
                        requested = e.requested,
                        "signal refused: over quota"
                    );
                    answers[index] = Some(Err(SubmitError::Refused(r)));
                    refused[k] = true;
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "recording quota usage failed");
                for (k, n) in new.iter().enumerate() {
                    answers[keys_of(n).0] = Some(Err(SubmitError::Unavailable(
                        "the node could not record the quota; retry with the same idempotency key",
                    )));
                    refused[k] = true;
                }
            }
        }
        let mut keep = refused.into_iter().map(|r| !r);
        new.retain(|_| keep.next().unwrap_or(false));
    }

    /// The idempotency keys of `new` that the node already stored.
    async fn stored_keys<'a, T>(
        &self,
        batch: &'a [Submission],
        new: &[T],
        keys_of: &impl Fn(&T) -> (usize, usize),
    ) -> Result<HashSet<&'a str>, sqlx::Error> {
        let keys: Vec<&str> = new
            .iter()
            .map(|n| batch[keys_of(n).0].request.idempotency_key.as_str())
            .collect();
        let sql = format!(
            "SELECT idempotency_key FROM node_signals WHERE idempotency_key IN ({})",
            signaalnet_store::placeholders(1, keys.len())
        );
        let at_rest: Vec<String> = keys.iter().map(|k| self.key_at_rest(k)).collect();
        let mut query = sqlx::query(&sql);
        for key in &at_rest {
            query = query.bind(key);
        }
        let rows = query.fetch_all(self.store.pool()).await?;
        let found: HashSet<String> = rows.iter().map(|r| r.get("idempotency_key")).collect();
        Ok(keys
            .into_iter()
            .zip(at_rest)
            .filter(|(_, at_rest)| found.contains(at_rest))
            .map(|(key, _)| key)
            .collect())
    }
}
