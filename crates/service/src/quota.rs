//! Probing quotas with a memory: the pure sliding window of [`signaalnet_policy::quota`] in
//! front of the role's own database, for every role that enforces the policy's limits (the
//! partner node at submit, the coordinator on arrival, the transcryptors per conversion).
//!
//! Why a table of counts (`quota_usage`: partner, purpose, minute, identifiers) rather than a
//! recount of what is stored: a recount cannot see what matters. A partner probing submits,
//! learns hit or no hit, and withdraws; the withdrawal deletes the signal's keys, and a
//! transcryptor stores no signals at all. The quota is about what was *asked*, so what was asked
//! is what is kept: a few hundred small rows per partner and purpose, nothing that identifies
//! anyone, deleted once older than the window.
//!
//! Usage is written before the answer goes out, in its own short write transaction, and held in
//! memory under one lock so concurrent requests of a partner cannot both take the last of its
//! quota. Should recording fail, the memory is given back and the caller answers UNAVAILABLE.
//! A request counted here whose signal the role then fails to store is not given back: a
//! failure makes a partner's quota smaller for a day, never larger.

use signaalnet_policy::quota::{horizon, Exhausted, Ledger, Quota};
use signaalnet_policy::PolicySet;
use signaalnet_store::{Store, StoreError};
use sqlx::Row;
use std::collections::BTreeMap;
use tokio::sync::Mutex;
use tonic::Code;

/// The quota windows of one role.
#[derive(Debug, Default)]
pub struct Quotas {
    ledger: Mutex<Ledger>,
}

/// One request for quota.
#[derive(Debug, Clone, Copy)]
pub struct Ask<'a> {
    pub purpose: &'a str,
    /// Identifiers, counted as match keys (ciphertexts).
    pub identifiers: usize,
    /// `true` for one signal: also held to the per-signal cap. `false` for a batch of
    /// ciphertexts of any number of signals (a transcryptor): only the daily window.
    pub one_signal: bool,
}

impl Quotas {
    /// The windows as recorded in `store` up to `now` (seconds since the epoch).
    pub async fn load(store: &Store, now: i64) -> Result<Self, StoreError> {
        let rows = sqlx::query(
            "SELECT partner_id, purpose, bucket, identifiers FROM quota_usage WHERE bucket >= $1",
        )
        .bind(horizon(now))
        .fetch_all(store.pool())
        .await?;
        let mut ledger = Ledger::new();
        for row in rows {
            let n: i64 = row.get("identifiers");
            ledger.restore(
                &row.get::<String, _>("partner_id"),
                &row.get::<String, _>("purpose"),
                row.get("bucket"),
                u64::try_from(n).unwrap_or(0),
            );
        }
        Ok(Self {
            ledger: Mutex::new(ledger),
        })
    }

    /// Takes quota for each of `asks` of `partner` under `policy`'s limits at `now`, and records
    /// what was taken before answering. The answers are in the order of `asks`; an ask that is
    /// refused takes nothing.
    pub async fn take(
        &self,
        store: &Store,
        policy: &PolicySet,
        partner: &str,
        asks: &[Ask<'_>],
        now: i64,
    ) -> Result<Vec<Result<(), Box<Exhausted>>>, StoreError> {
        let mut ledger = self.ledger.lock().await;
        let mut answers = Vec::with_capacity(asks.len());
        let mut taken: BTreeMap<(&str, i64), u64> = BTreeMap::new();
        for ask in asks {
            let limits = policy.limits(partner, ask.purpose);
            let n = ask.identifiers as u64;
            let result = if ask.one_signal {
                ledger.take_signal(limits, partner, ask.purpose, n, now)
            } else {
                ledger.take(limits, partner, ask.purpose, n, now)
            };
            answers.push(result.map(|bucket| {
                if n > 0 {
                    *taken.entry((ask.purpose, bucket)).or_default() += n;
                }
            }));
        }
        if taken.is_empty() {
            return Ok(answers);
        }
        if let Err(e) = record(store, partner, &taken, now).await {
            for ((purpose, bucket), n) in taken {
                ledger.give_back(partner, purpose, bucket, n);
            }
            return Err(e);
        }
        Ok(answers)
    }

    /// All of `asks` or nothing: for one request whose parts cannot be answered apart (a
    /// transcryptor's `Convert` batch, counted per purpose of its items with `one_signal:
    /// false`). The first refusal is returned and nothing is taken.
    pub async fn take_all(
        &self,
        store: &Store,
        policy: &PolicySet,
        partner: &str,
        asks: &[Ask<'_>],
        now: i64,
    ) -> Result<Result<(), Box<Exhausted>>, StoreError> {
        let mut ledger = self.ledger.lock().await;
        let mut taken: BTreeMap<(&str, i64), u64> = BTreeMap::new();
        for ask in asks {
            let limits = policy.limits(partner, ask.purpose);
            let n = ask.identifiers as u64;
            let result = if ask.one_signal {
                ledger.take_signal(limits, partner, ask.purpose, n, now)
            } else {
                ledger.take(limits, partner, ask.purpose, n, now)
            };
            match result {
                Ok(bucket) if n > 0 => *taken.entry((ask.purpose, bucket)).or_default() += n,
                Ok(_) => {}
                Err(e) => {
                    for ((purpose, bucket), n) in taken {
                        ledger.give_back(partner, purpose, bucket, n);
                    }
                    return Ok(Err(e));
                }
            }
        }
        if taken.is_empty() {
            return Ok(Ok(()));
        }
        if let Err(e) = record(store, partner, &taken, now).await {
            for ((purpose, bucket), n) in taken {
                ledger.give_back(partner, purpose, bucket, n);
            }
            return Err(e);
        }
        Ok(Ok(()))
    }

    /// Identifiers `partner` used for `purpose` in the window ending at `now`.
    pub async fn used(&self, partner: &str, purpose: &str, now: i64) -> u64 {
        self.ledger.lock().await.used(partner, purpose, now)
    }
}

async fn record(
    store: &Store,
    partner: &str,
    taken: &BTreeMap<(&str, i64), u64>,
    now: i64,
) -> Result<(), StoreError> {
    let mut w = store.write().await?;
    for ((purpose, bucket), n) in taken {
        sqlx::query(
            "INSERT INTO quota_usage (partner_id, purpose, bucket, identifiers) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (partner_id, purpose, bucket) \
             DO UPDATE SET identifiers = quota_usage.identifiers + excluded.identifiers",
        )
        .bind(partner)
        .bind(*purpose)
        .bind(*bucket)
        .bind(i64::try_from(*n).unwrap_or(i64::MAX))
        .execute(&mut *w.tx)
        .await?;
    }
    sqlx::query("DELETE FROM quota_usage WHERE bucket < $1")
        .bind(horizon(now))
        .execute(&mut *w.tx)
        .await?;
    w.commit().await
}

/// The status code of a refusal: RESOURCE_EXHAUSTED for a quota, PERMISSION_DENIED when the
/// partner does not share for the purpose at all.
pub fn code(e: &Exhausted) -> Code {
    match e.quota {
        Quota::NoShare => Code::PermissionDenied,
        Quota::PerSignal | Quota::PerDay => Code::ResourceExhausted,
    }
}

/// A refusal as a gRPC status naming `field` (e.g. `identifiers` or `ciphertexts`), the quota,
/// its rule and when it frees up.
pub fn status(e: &Exhausted, field: &str) -> tonic::Status {
    let reason = match e.quota {
        Quota::NoShare => "POLICY_REFUSED",
        Quota::PerSignal | Quota::PerDay => "OVER_QUOTA",
    };
    // The message as before: `field: what [rule]`.
    let refusal = crate::status::Refusal::new(code(e), reason, "")
        .violation(field, &e.rule, e.to_string())
        .resource("purpose", &e.purpose);
    match e.frees_at {
        Some(at) => refusal.retry_after(std::time::Duration::from_secs(
            u64::try_from(at.saturating_sub(e.now)).unwrap_or(0),
        )),
        None => refusal,
    }
    .into_status()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use signaalnet_store::Location;
    use std::path::Path;

    const NOW: i64 = 1_790_000_000;

    fn policy() -> PolicySet {
        PolicySet::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies")).unwrap()
    }

    fn signal(purpose: &str, identifiers: usize) -> Ask<'_> {
        Ask {
            purpose,
            identifiers,
            one_signal: true,
        }
    }

    #[tokio::test]
    async fn the_window_survives_a_restart_and_old_usage_is_deleted() {
        let dir = tempfile::tempdir().unwrap();
        survives_a_restart(Location::Sqlite(dir.path().join("role.db"))).await;
    }

    #[tokio::test]
    async fn the_window_survives_a_restart_on_postgres() {
        let Some(admin) = signaalnet_store::test_postgres_url() else {
            return;
        };
        let db = signaalnet_store::ScratchDatabase::create(&admin)
            .await
            .unwrap();
        survives_a_restart(Location::Postgres(db.url().to_owned())).await;
    }

    async fn survives_a_restart(location: Location) {
        let policy = policy();
        let partner = "gemeente_groningen";
        let drieluik = "signalering_drieluik";
        {
            let store = Store::open(&location, &[&crate::schema::MIGRATIONS])
                .await
                .unwrap();
            let quotas = Quotas::load(&store, NOW).await.unwrap();
            // Yesterday's usage, about to leave the window, and a full day of signals today.
            let early = NOW - 24 * 3600 + 30;
            let asks = vec![signal(drieluik, 8); 10];
            for r in quotas
                .take(&store, &policy, partner, &asks, early)
                .await
                .unwrap()
            {
                r.unwrap();
            }
            let asks = vec![signal(drieluik, 8); 240];
            let answers = quotas
                .take(&store, &policy, partner, &asks, NOW)
                .await
                .unwrap();
            // 2,000 a day: 80 + 1,920 fit, the 241st signal of 8 does not.
            assert_eq!(answers.iter().filter(|a| a.is_ok()).count(), 240);
            let refused = quotas
                .take(&store, &policy, partner, &[signal(drieluik, 8)], NOW)
                .await
                .unwrap()
                .remove(0)
                .unwrap_err();
            assert_eq!(refused.quota, Quota::PerDay);
            let status = status(&refused, "identifiers");
            assert_eq!(status.code(), Code::ResourceExhausted);
            assert!(
                status
                    .message()
                    .starts_with("identifiers: quota limits.identifiers_per_day of 2000"),
                "{}",
                status.message()
            );
            // The standard details: which quota, for which field, and when to retry.
            use tonic_types::StatusExt;
            let details = status.get_error_details();
            let quota = &details.quota_failure().unwrap().violations[0];
            assert_eq!(quota.subject, "identifiers");
            assert_eq!(quota.quota_id, "limits.identifiers_per_day");
            assert_eq!(details.error_info().unwrap().reason, "OVER_QUOTA");
            assert!(details.retry_info().unwrap().retry_delay.is_some());
            store.close().await;
        }
        // After a restart the day is still full …
        let store = Store::open(&location, &[&crate::schema::MIGRATIONS])
            .await
            .unwrap();
        let quotas = Quotas::load(&store, NOW + 10).await.unwrap();
        assert_eq!(quotas.used(partner, drieluik, NOW + 10).await, 2_000);
        let again = quotas
            .take(&store, &policy, partner, &[signal(drieluik, 1)], NOW + 10)
            .await
            .unwrap()
            .remove(0)
            .unwrap_err();
        // … until the early usage leaves the window, within two minutes of it.
        let frees = again.frees_at.unwrap();
        assert!(frees > NOW && frees <= NOW + 120 + 30, "{frees}");
        let later = frees;
        let answers = quotas
            .take(&store, &policy, partner, &[signal(drieluik, 8)], later)
            .await
            .unwrap();
        assert!(answers[0].is_ok(), "{answers:?}");
        // The early rows were deleted when quota was taken after they left the window.
        let rows: i64 = sqlx::query("SELECT COUNT(*) AS n FROM quota_usage WHERE bucket < $1")
            .bind(horizon(later))
            .fetch_one(store.pool())
            .await
            .unwrap()
            .get("n");
        assert_eq!(rows, 0);
    }

    #[tokio::test]
    async fn a_transcryptor_batch_is_taken_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(
            &Location::Sqlite(dir.path().join("role.db")),
            &[&crate::schema::MIGRATIONS],
        )
        .await
        .unwrap();
        let policy = policy();
        let quotas = Quotas::load(&store, NOW).await.unwrap();
        let batch = |drieluik: usize, riec: usize| {
            [
                Ask {
                    purpose: "signalering_drieluik",
                    identifiers: drieluik,
                    one_signal: false,
                },
                Ask {
                    purpose: "riec_integrale_analyse",
                    identifiers: riec,
                    one_signal: false,
                },
            ]
        };
        let partner = "politie_noord_nederland";
        quotas
            .take_all(&store, &policy, partner, &batch(1_500, 1_990), NOW)
            .await
            .unwrap()
            .unwrap();
        // The drieluik part would fit, the riec part does not: neither is taken.
        let refused = quotas
            .take_all(&store, &policy, partner, &batch(100, 20), NOW)
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(refused.purpose, "riec_integrale_analyse");
        assert_eq!(status(&refused, "items").code(), Code::ResourceExhausted);
        assert_eq!(
            quotas.used(partner, "signalering_drieluik", NOW).await,
            1_500
        );
        let stored: i64 = sqlx::query("SELECT SUM(identifiers) AS n FROM quota_usage")
            .fetch_one(store.pool())
            .await
            .unwrap()
            .get("n");
        assert_eq!(stored, 3_490);
    }

    #[tokio::test]
    async fn a_signal_over_the_cap_takes_nothing_and_a_batch_is_not_capped_per_signal() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(
            &Location::Sqlite(dir.path().join("role.db")),
            &[&crate::schema::MIGRATIONS],
        )
        .await
        .unwrap();
        let policy = policy();
        let quotas = Quotas::load(&store, NOW).await.unwrap();
        let answers = quotas
            .take(
                &store,
                &policy,
                "politie_noord_nederland",
                &[
                    signal("signalering_drieluik", 9),
                    Ask {
                        purpose: "signalering_drieluik",
                        identifiers: 100,
                        one_signal: false,
                    },
                    signal("zorgcoordinatie", 1),
                ],
                NOW,
            )
            .await
            .unwrap();
        let over = answers[0].as_ref().unwrap_err();
        assert_eq!(over.quota, Quota::PerSignal);
        assert_eq!(over.rule, "default.identifiers_per_signal");
        assert!(answers[1].is_ok());
        assert_eq!(
            code(answers[2].as_ref().unwrap_err()),
            Code::PermissionDenied
        );
        assert_eq!(
            quotas
                .used("politie_noord_nederland", "signalering_drieluik", NOW)
                .await,
            100
        );
    }
}
