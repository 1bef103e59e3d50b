//! Checkpoints: the role's Ed25519 signature over the newest entry's hash. The chain alone
//! shows an entry changed in place; only a signature the role alone can make shows a chain that
//! was recomputed from some entry on, or cut off at the end.

use crate::entry;
use crate::writer::head;
use crate::{Audit, AuditError};
use signaalnet_store::Store;
use sqlx::{AnyConnection, Row};

impl Audit {
    /// Signs the newest entry if no checkpoint covers it yet; returns the seq it signed.
    pub async fn seal(&self, store: &Store) -> Result<Option<i64>, AuditError> {
        let mut w = store.write().await?;
        let (seq, hash) = head(&mut w.tx).await?;
        let signed: i64 = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS seq FROM audit_checkpoints")
            .fetch_one(&mut *w.tx)
            .await?
            .get("seq");
        if seq == 0 || signed >= seq {
            return Ok(None);
        }
        self.sign(&mut w.tx, seq, &hash).await?;
        w.commit().await?;
        Ok(Some(seq))
    }

    pub(crate) async fn sign(
        &self,
        conn: &mut AnyConnection,
        seq: i64,
        hash: &str,
    ) -> Result<(), AuditError> {
        let at_ms = self.clock.now_ms();
        let signature = self
            .signer
            .sign(&entry::checkpoint_message(seq, hash, at_ms));
        sqlx::query(
            "INSERT INTO audit_checkpoints (seq, hash, at_ms, key_id, signature) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(seq)
        .bind(hash)
        .bind(at_ms)
        .bind(self.signer.key_id())
        .bind(signature)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}
