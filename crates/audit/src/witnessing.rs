//! Witnessing, the stored part: a witness judges an offered checkpoint against what it holds
//! for the caller ([`crate::witness::judge`]), keeps and countersigns it and records the step in
//! its own trail, all in one transaction; a role reads its newest checkpoint to offer and keeps
//! the receipts it got; `signaalnet audit witnessed` reads what a witness holds for a role.

use crate::witness::{judge, receipt_message, Judgement, Objection, Offered, Witnessed};
use crate::{Actor, Audit, AuditError, Checkpoint, Event, Step};
use signaalnet_policy::PolicySet;
use signaalnet_store::Store;
use sqlx::{AnyConnection, Row};

/// Why a witness did not countersign.
#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    /// The checkpoint is refused; the caller is told why.
    #[error(transparent)]
    Refused(#[from] Objection),
    #[error(transparent)]
    Audit(#[from] AuditError),
}

impl From<sqlx::Error> for WitnessError {
    fn from(e: sqlx::Error) -> Self {
        Self::Audit(e.into())
    }
}

impl From<signaalnet_store::StoreError> for WitnessError {
    fn from(e: signaalnet_store::StoreError) -> Self {
        Self::Audit(e.into())
    }
}

impl Audit {
    /// Witnesses the checkpoint `offered` by `caller`: refuses it, or keeps it, countersigns it
    /// with this role's audit key and records a `witness` step; a checkpoint held already gets
    /// the receipt it got then. A refusal is recorded as a `refuse` step.
    pub async fn witness(
        &self,
        store: &Store,
        policy: &PolicySet,
        caller: &Actor,
        offered: &Offered,
    ) -> Result<Witnessed, WitnessError> {
        let outcome = self.witness_in(store, policy, caller, offered).await;
        if let Err(WitnessError::Refused(objection)) = &outcome {
            let event = Event::new(Step::Refuse, policy)
                .by(caller.clone())
                .reference(reference(&caller.oin, offered.checkpoint.seq))
                .detail(format!(
                    "checkpoint to witness refused ({}): {objection}",
                    objection.rule()
                ));
            self.try_record(store, event).await;
        }
        outcome
    }

    async fn witness_in(
        &self,
        store: &Store,
        policy: &PolicySet,
        caller: &Actor,
        offered: &Offered,
    ) -> Result<Witnessed, WitnessError> {
        if caller.oin == self.own().oin {
            return Err(Objection::OwnTrail.into());
        }
        let c = &offered.checkpoint;
        let mut w = store.write().await?;
        let newest = held(&mut w.tx, &caller.oin, None).await?;
        let at_seq = held(&mut w.tx, &caller.oin, Some(c.seq)).await?;
        if let Judgement::Again(receipt) = judge(offered, newest.as_ref(), at_seq.as_ref())? {
            return Ok(*receipt);
        }
        let witnessed = Witnessed {
            oin: caller.oin.clone(),
            seq: c.seq,
            hash: c.hash.clone(),
            at_ms: c.at_ms,
            key_id: c.key_id.clone(),
            signature: c.signature.clone(),
            public_key: hex::encode(&offered.public_key),
            key_change_reason: offered.key_change_reason.clone(),
            witnessed_at_ms: self.clock.now_ms(),
            witness_oin: self.own().oin.clone(),
            witness_key_id: self.signer.key_id().to_owned(),
            countersignature: self.signer.sign(&receipt_message(
                &caller.oin,
                c.seq,
                &c.hash,
                c.at_ms,
            )),
        };
        sqlx::query(&format!(
            "INSERT INTO audit_witnessed ({WITNESSED}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ))
        .bind(&witnessed.oin)
        .bind(witnessed.seq)
        .bind(&witnessed.hash)
        .bind(witnessed.at_ms)
        .bind(&witnessed.key_id)
        .bind(&witnessed.signature)
        .bind(&witnessed.public_key)
        .bind(&witnessed.key_change_reason)
        .bind(witnessed.witnessed_at_ms)
        .bind(&witnessed.witness_oin)
        .bind(&witnessed.witness_key_id)
        .bind(&witnessed.countersignature)
        .execute(&mut *w.tx)
        .await?;
        let mut detail = format!(
            "witnessed checkpoint {} (hash {}, key {})",
            c.seq, c.hash, c.key_id
        );
        if let Some(newest) = newest.filter(|n| n.key_id != c.key_id) {
            detail.push_str(&format!(
                "; the key changed from {}: {}",
                newest.key_id, offered.key_change_reason
            ));
        }
        let event = Event::new(Step::Witness, policy)
            .by(caller.clone())
            .reference(reference(&caller.oin, c.seq))
            .detail(detail);
        self.append(&mut w.tx, event).await?;
        w.commit().await?;
        Ok(witnessed)
    }
}

/// How a witnessed checkpoint is referred to in the witness's trail.
fn reference(oin: &str, seq: i64) -> String {
    format!("checkpoint:{oin}/{seq}")
}

/// The record held for `oin` at `seq`, or its newest when `seq` is `None`.
async fn held(
    conn: &mut AnyConnection,
    oin: &str,
    seq: Option<i64>,
) -> Result<Option<Witnessed>, AuditError> {
    let row = match seq {
        Some(seq) => {
            sqlx::query(&format!(
                "SELECT {WITNESSED} FROM audit_witnessed WHERE oin = $1 AND seq = $2"
            ))
            .bind(oin)
            .bind(seq)
            .fetch_optional(&mut *conn)
            .await?
        }
        None => {
            sqlx::query(&format!(
                "SELECT {WITNESSED} FROM audit_witnessed WHERE oin = $1 ORDER BY seq DESC LIMIT 1"
            ))
            .bind(oin)
            .fetch_optional(&mut *conn)
            .await?
        }
    };
    Ok(row.as_ref().map(witnessed_from))
}

/// Every checkpoint of the role with `oin` this witness holds, oldest first.
pub async fn witnessed(store: &Store, oin: &str) -> Result<Vec<Witnessed>, AuditError> {
    Ok(sqlx::query(&format!(
        "SELECT {WITNESSED} FROM audit_witnessed WHERE oin = $1 ORDER BY seq"
    ))
    .bind(oin)
    .fetch_all(store.pool())
    .await?
    .iter()
    .map(witnessed_from)
    .collect())
}

/// The trail's newest checkpoint, the one a role offers its witnesses.
pub async fn newest_checkpoint(store: &Store) -> Result<Option<Checkpoint>, AuditError> {
    Ok(sqlx::query(
        "SELECT seq, hash, at_ms, key_id, signature FROM audit_checkpoints \
         ORDER BY seq DESC LIMIT 1",
    )
    .fetch_optional(store.pool())
    .await?
    .map(|row| Checkpoint {
        seq: row.get("seq"),
        hash: row.get("hash"),
        at_ms: row.get("at_ms"),
        key_id: row.get("key_id"),
        signature: row.get("signature"),
    }))
}

/// Whether `witness` (a URL as configured) has countersigned this role's checkpoint over entry
/// `seq` with `hash`, by the receipts kept. Anything else is offered, a checkpoint older than
/// one the witness holds included: after a cut or a restored backup the witness then refuses
/// it, loudly, in its own trail and in this role's log.
pub async fn receipt_held(
    store: &Store,
    witness: &str,
    seq: i64,
    hash: &str,
) -> Result<bool, AuditError> {
    Ok(sqlx::query(
        "SELECT seq FROM audit_witness_receipts WHERE witness = $1 AND seq = $2 AND hash = $3",
    )
    .bind(witness)
    .bind(seq)
    .bind(hash)
    .fetch_optional(store.pool())
    .await?
    .is_some())
}

/// Keeps the receipt `witness` (a URL as configured) gave for one of this role's checkpoints.
pub async fn keep_receipt(
    store: &Store,
    witness: &str,
    receipt: &Witnessed,
) -> Result<(), AuditError> {
    let mut w = store.write().await?;
    sqlx::query(
        "INSERT INTO audit_witness_receipts (witness, seq, hash, at_ms, witnessed_at_ms, \
         witness_oin, witness_key_id, countersignature) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (witness, seq) DO NOTHING",
    )
    .bind(witness)
    .bind(receipt.seq)
    .bind(&receipt.hash)
    .bind(receipt.at_ms)
    .bind(receipt.witnessed_at_ms)
    .bind(&receipt.witness_oin)
    .bind(&receipt.witness_key_id)
    .bind(&receipt.countersignature)
    .execute(&mut *w.tx)
    .await?;
    w.commit().await?;
    Ok(())
}

fn witnessed_from(row: &sqlx::any::AnyRow) -> Witnessed {
    Witnessed {
        oin: row.get("oin"),
        seq: row.get("seq"),
        hash: row.get("hash"),
        at_ms: row.get("at_ms"),
        key_id: row.get("key_id"),
        signature: row.get("signature"),
        public_key: row.get("public_key"),
        key_change_reason: row.get("key_change_reason"),
        witnessed_at_ms: row.get("witnessed_at_ms"),
        witness_oin: row.get("witness_oin"),
        witness_key_id: row.get("witness_key_id"),
        countersignature: row.get("countersignature"),
    }
}

const WITNESSED: &str = "oin, seq, hash, at_ms, key_id, signature, public_key, \
                         key_change_reason, witnessed_at_ms, witness_oin, witness_key_id, \
                         countersignature";
