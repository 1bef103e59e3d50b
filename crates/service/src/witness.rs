//! `WitnessService` and its callers: the coordinator and the transcryptors keep and countersign
//! other roles' audit checkpoints ([`WitnessGrpc`], a thin wrapper around
//! `signaalnet_audit::Audit::witness`), and every role offers its newest checkpoint to the
//! witnesses it is configured with ([`Witness`]), so that its own operator cannot cut off or
//! rewrite its trail unnoticed.

use crate::policy::PolicyTarget;
use crate::status::Refusal;
use crate::ServeError;
use signaalnet_audit::witness::{Objection, Offered, Witnessed};
use signaalnet_audit::{Audit, AuditError, Checkpoint, WitnessError};
use signaalnet_policy::LivePolicy;
use signaalnet_proto::v1 as pb;
use signaalnet_proto::v1::witness_service_client::WitnessServiceClient;
use signaalnet_proto::v1::witness_service_server::WitnessService;
use signaalnet_store::Store;
use std::sync::Arc;
use std::time::Duration;
use tonic::transport::Channel;
use tonic::{Code, Request, Response, Status};

/// `signaalnet.v1.WitnessService` of a role that witnesses (the coordinator, a transcryptor).
pub struct WitnessGrpc {
    target: Arc<dyn PolicyTarget>,
    policy: LivePolicy,
}

impl WitnessGrpc {
    /// Keeps what it witnesses in `target`'s store and countersigns with `target`'s audit key.
    pub fn new(target: Arc<dyn PolicyTarget>, policy: LivePolicy) -> Self {
        Self { target, policy }
    }
}

#[tonic::async_trait]
impl WitnessService for WitnessGrpc {
    async fn witness(
        &self,
        request: Request<pb::WitnessRequest>,
    ) -> Result<Response<pb::WitnessReceipt>, Status> {
        let policy = self.policy.current();
        let caller = crate::caller(&request, &policy)?;
        let r = request.into_inner();
        let offered = Offered {
            checkpoint: Checkpoint {
                seq: r.seq,
                hash: r.hash,
                at_ms: r.at_ms,
                key_id: r.key_id,
                signature: r.signature,
            },
            // Not hex: no key, which the witness refuses naming `public_key`.
            public_key: hex::decode(&r.public_key).unwrap_or_default(),
            key_change_reason: r.key_change_reason,
        };
        let audit = self.target.audit();
        match audit
            .witness(self.target.store(), &policy, &caller.actor(), &offered)
            .await
        {
            Ok(witnessed) => Ok(Response::new(receipt(witnessed, audit))),
            Err(WitnessError::Refused(objection)) => Err(refusal(&objection).into_status()),
            Err(WitnessError::Audit(e)) => {
                tracing::error!(error = %e, caller = %caller.oin, "witnessing a checkpoint failed");
                Err(Status::internal(
                    "the witness could not store the checkpoint",
                ))
            }
        }
    }
}

fn receipt(w: Witnessed, audit: &Audit) -> pb::WitnessReceipt {
    pb::WitnessReceipt {
        oin: w.oin,
        seq: w.seq,
        hash: w.hash,
        at_ms: w.at_ms,
        witnessed_at_ms: w.witnessed_at_ms,
        witness_oin: w.witness_oin,
        witness_key_id: w.witness_key_id,
        witness_public_key: hex::encode(audit.public_key()),
        countersignature: w.countersignature,
    }
}

/// A refused checkpoint as a status: FAILED_PRECONDITION when it conflicts with what the
/// witness holds, PERMISSION_DENIED for the witness's own trail, else INVALID_ARGUMENT.
fn refusal(objection: &Objection) -> Refusal {
    let refusal = if objection.conflicts() {
        Refusal::new(
            Code::FailedPrecondition,
            "CHECKPOINT_CONFLICT",
            "checkpoint not witnessed",
        )
    } else if *objection == Objection::OwnTrail {
        Refusal::policy("checkpoint not witnessed")
    } else {
        Refusal::invalid("checkpoint not witnessed")
    };
    refusal.violation(objection.field(), objection.rule(), objection.to_string())
}

/// How long one offer to a witness may take.
const OFFER_TIMEOUT: Duration = Duration::from_secs(10);

/// A witness this role offers its checkpoints to, by its URL as configured.
#[derive(Clone)]
pub struct Witness {
    url: String,
    client: WitnessServiceClient<Channel>,
}

impl std::fmt::Debug for Witness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Witness({})", self.url)
    }
}

/// Why an offer to a witness did not end with a kept receipt.
#[derive(Debug, thiserror::Error)]
pub enum OfferError {
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error("the witness did not answer within {0:?}")]
    Timeout(Duration),
    #[error("the witness answered {}: {}", .0.code(), .0.message())]
    Refused(Status),
    #[error("the witness's receipt does not hold: {0}")]
    Receipt(&'static str),
}

impl Witness {
    /// A witness at `url` (`https://host:port`), called over mTLS under `trust`; its
    /// certificate must carry the OIN of a coordinator or transcryptor in `policy`
    /// ([`crate::witness_channel`]).
    pub fn new(
        url: &str,
        trust: &std::sync::Arc<signaalnet_tls::Trust>,
        policy: &signaalnet_policy::LivePolicy,
    ) -> Result<Self, ServeError> {
        Ok(Self {
            url: url.to_owned(),
            client: WitnessServiceClient::new(crate::witness_channel(url, trust, policy)?),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Offers the trail's newest checkpoint unless this witness countersigned it already, and
    /// keeps the receipt; returns the `seq` newly countersigned. A trail that went back is
    /// offered too, for the witness to refuse.
    pub async fn offer(&self, audit: &Audit, store: &Store) -> Result<Option<i64>, OfferError> {
        let Some(checkpoint) = signaalnet_audit::newest_checkpoint(store).await? else {
            return Ok(None);
        };
        if signaalnet_audit::receipt_held(store, &self.url, checkpoint.seq, &checkpoint.hash)
            .await?
        {
            return Ok(None);
        }
        let request = pb::WitnessRequest {
            seq: checkpoint.seq,
            hash: checkpoint.hash.clone(),
            at_ms: checkpoint.at_ms,
            key_id: checkpoint.key_id.clone(),
            signature: checkpoint.signature.clone(),
            public_key: hex::encode(audit.public_key()),
            key_change_reason: String::new(),
        };
        let receipt = tokio::time::timeout(OFFER_TIMEOUT, self.client.clone().witness(request))
            .await
            .map_err(|_| OfferError::Timeout(OFFER_TIMEOUT))?
            .map_err(OfferError::Refused)?
            .into_inner();
        let kept = checked(receipt, audit, &checkpoint)?;
        signaalnet_audit::keep_receipt(store, &self.url, &kept).await?;
        Ok(Some(kept.seq))
    }
}

/// The receipt as kept, once it is known to countersign `checkpoint` of this role.
fn checked(
    r: pb::WitnessReceipt,
    audit: &Audit,
    checkpoint: &Checkpoint,
) -> Result<Witnessed, OfferError> {
    if r.oin != audit.own().oin
        || r.seq != checkpoint.seq
        || r.hash != checkpoint.hash
        || r.at_ms != checkpoint.at_ms
    {
        return Err(OfferError::Receipt("it names another checkpoint"));
    }
    let witness_key =
        hex::decode(&r.witness_public_key).map_err(|_| OfferError::Receipt("no witness key"))?;
    if signaalnet_audit::key_id(&witness_key) != r.witness_key_id {
        return Err(OfferError::Receipt("the witness key id is not its key's"));
    }
    let kept = Witnessed {
        oin: r.oin,
        seq: r.seq,
        hash: r.hash,
        at_ms: r.at_ms,
        key_id: checkpoint.key_id.clone(),
        signature: checkpoint.signature.clone(),
        public_key: hex::encode(audit.public_key()),
        key_change_reason: String::new(),
        witnessed_at_ms: r.witnessed_at_ms,
        witness_oin: r.witness_oin,
        witness_key_id: r.witness_key_id,
        countersignature: r.countersignature,
    };
    if !kept.countersigned_by(&witness_key) {
        return Err(OfferError::Receipt("the countersignature does not verify"));
    }
    Ok(kept)
}
