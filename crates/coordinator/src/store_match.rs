//! Storing and matching the decrypted signals of one delivered batch: all of them in one write
//! transaction with their keys, hit changes, notifications and audit entries, or none.

use crate::core::{Coordinator, Outcome};
use crate::decrypt::Ready;
use crate::deliver::Delivered;
use crate::matching::{Matcher, SignalEntry};
use crate::CoordinatorError;
use signaalnet_audit::{Actor, Event, Head, Step};
use signaalnet_policy::{Partner, PolicySet};
use signaalnet_proto::v1 as pb;
use signaalnet_telemetry::metrics::PurposeLabels;
use sqlx::{Any, Row, Transaction};
use tonic::Code;
use tracing::Instrument;

impl Coordinator {
    /// Stores and matches the decrypted signals of one batch in one write transaction: all or
    /// none. Returns each signal's answer by its index in `batch`.
    pub(crate) async fn store_and_match(
        &self,
        policy: &PolicySet,
        partner: &Partner,
        actor: &Actor,
        batch: &[Delivered],
        ready: Vec<(usize, Ready)>,
    ) -> Result<Vec<(usize, Outcome)>, CoordinatorError> {
        let mut matcher = self.matcher.lock().await;
        let mut w = self.write().await?;
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
            let labels = PurposeLabels {
                purpose: purpose.clone(),
            };
            self.metrics.received.get_or_create(&labels).inc();
            if m.formed > 0 {
                self.metrics
                    .hits_formed
                    .get_or_create(&labels)
                    .inc_by(m.formed);
            }
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
        let mut entry = SignalEntry {
            seq: 0,
            partner: partner.id.clone(),
            signal_id: signal.signal_id.clone(),
            purpose: signal.purpose.clone(),
            month: ready.month,
            keys: ready.keys,
            attributes: signal
                .attributes
                .iter()
                .map(|a| (a.id.clone(), a.value.clone()))
                .collect(),
        };
        let inserted = crate::load::insert_signal(tx, &entry, policy.version(), self.now()).await?;
        let Some(seq) = inserted else {
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
        entry.seq = seq;
        crate::monitor::ledger::record(tx, policy, &self.record_keys, &entry, self.now()).await?;
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
            .persist(policy, (tx, head), matcher, &events, Default::default())
            .await?;
        Ok(StoredOne {
            outcome: Outcome::ok("accepted"),
            last_notification: last,
            matched: Some(Matched {
                seq,
                identifiers: ready.identifiers,
                hit_changes: events.len(),
                formed: events
                    .iter()
                    .filter(|e| e.change == crate::matching::Change::Formed)
                    .count() as u64,
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
    /// Hits this signal formed.
    formed: u64,
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
