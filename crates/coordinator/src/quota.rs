//! Probing limits on arrival (defence in depth: the partner's node enforces them first). A
//! signal over its partner's per-signal cap or daily quota for the purpose is answered
//! RESOURCE_EXHAUSTED, naming the quota, its rule and when it frees up; nothing of it is stored,
//! and the refusal is audited like every other refusal on arrival.
//!
//! Identifiers are counted as delivered: one per ciphertext (match key). A signal this
//! coordinator already received (a re-delivery after a lost acknowledgement, or the same signal
//! twice in one batch) takes no quota again: it changes nothing.

use crate::core::{Coordinator, Outcome};
use crate::deliver::Delivered;
use signaalnet_policy::{Partner, PolicySet};
use signaalnet_service::quota::{self, Ask};
use sqlx::Row;
use std::collections::HashSet;
use tonic::Code;

impl Coordinator {
    /// Takes quota for the signals of a batch that passed the checks (`accepted`, indexes into
    /// `batch`, paired with `checked`); a refused signal gets its outcome and leaves both lists.
    pub(crate) async fn take_quotas<T>(
        &self,
        policy: &PolicySet,
        partner: &Partner,
        batch: &[Delivered],
        (accepted, checked): (&mut Vec<usize>, &mut Vec<T>),
        outcomes: &mut [Option<Outcome>],
    ) {
        if accepted.is_empty() {
            return;
        }
        let received = match self.received_before(partner, batch, accepted).await {
            Ok(received) => received,
            Err(e) => {
                tracing::error!(error = %e, "reading received signals for the quota failed");
                HashSet::new()
            }
        };
        // A signal already received, or earlier in this batch, changes nothing: no quota.
        let mut seen = HashSet::new();
        let counted: Vec<usize> = accepted
            .iter()
            .copied()
            .filter(|i| {
                let id = batch[*i].signal.signal_id.as_str();
                !received.contains(id) && seen.insert(id)
            })
            .collect();
        let asks: Vec<Ask<'_>> = counted
            .iter()
            .map(|i| Ask {
                purpose: &batch[*i].signal.purpose,
                identifiers: batch[*i].signal.identifiers.len(),
                one_signal: true,
            })
            .collect();
        let answers = self
            .quotas
            .take(&self.store, policy, &partner.id, &asks, self.now())
            .await;
        let mut refused = HashSet::new();
        match answers {
            Ok(answers) => {
                for (i, answer) in counted.iter().zip(answers) {
                    let Err(e) = answer else { continue };
                    tracing::warn!(
                        partner = %partner.id,
                        purpose = %batch[*i].signal.purpose,
                        rule = %e.rule,
                        limit = e.limit,
                        requested = e.requested,
                        used = e.used,
                        "signal refused on arrival: over quota"
                    );
                    outcomes[*i] = Some(Outcome::refuse(
                        quota::code(&e),
                        format!("identifiers: {e} [{}]", e.rule),
                    ));
                    refused.insert(*i);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "recording quota usage failed");
                for i in &counted {
                    outcomes[*i] = Some(Outcome::refuse(
                        Code::Unavailable,
                        "the coordinator could not record the quota; retry",
                    ));
                    refused.insert(*i);
                }
            }
        }
        if refused.is_empty() {
            return;
        }
        let mut keep = accepted.iter().map(|i| !refused.contains(i));
        checked.retain(|_| keep.next().unwrap_or(false));
        accepted.retain(|i| !refused.contains(i));
    }

    /// Which of the accepted signal ids this coordinator already has from `partner`.
    async fn received_before<'a>(
        &self,
        partner: &Partner,
        batch: &'a [Delivered],
        accepted: &[usize],
    ) -> Result<HashSet<&'a str>, sqlx::Error> {
        let ids: Vec<&str> = accepted
            .iter()
            .map(|i| batch[*i].signal.signal_id.as_str())
            .collect();
        let sql = format!(
            "SELECT signal_id FROM coord_signals WHERE partner_id = $1 AND signal_id IN ({})",
            signaalnet_store::placeholders(2, ids.len())
        );
        let mut query = sqlx::query(&sql).bind(&partner.id);
        for id in &ids {
            query = query.bind(*id);
        }
        let rows = query.fetch_all(self.store.pool()).await?;
        let found: HashSet<String> = rows.iter().map(|r| r.get("signal_id")).collect();
        Ok(ids.into_iter().filter(|id| found.contains(*id)).collect())
    }
}
