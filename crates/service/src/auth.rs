//! Who is calling: the OIN of the peer certificate, mapped to a partner by the policy set. A
//! certificate acts only as the partner whose OIN it carries; each service then checks the role.
//!
//! A certificate reaches [`caller`] only when the role's revocation lists in force do not revoke
//! it: they are checked at its handshake and again at every request and stream message
//! (`signaalnet_tls::CheckRevocation`, a layer of every server).

use signaalnet_policy::{PartnerRole, PolicySet};
use signaalnet_tls::oin_from_der;
use tonic::{Request, Status};

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub oin: String,
    pub partner_id: String,
    pub role: PartnerRole,
}

impl Caller {
    /// The caller as the actor of an audited step.
    pub fn actor(&self) -> signaalnet_audit::Actor {
        signaalnet_audit::Actor {
            oin: self.oin.clone(),
            role: self.role.as_str().to_owned(),
        }
    }
}

/// Identifies the caller of `request` or refuses with `UNAUTHENTICATED`.
pub fn caller<T>(request: &Request<T>, policy: &PolicySet) -> Result<Caller, Status> {
    let certs = request.peer_certs().ok_or_else(|| {
        Status::unauthenticated("no client certificate: signaalnet requires mutual TLS")
    })?;
    let leaf = certs.first().ok_or_else(|| {
        Status::unauthenticated("the client presented an empty certificate chain")
    })?;
    let oin = oin_from_der(leaf.as_ref())
        .map_err(|e| Status::unauthenticated(format!("client certificate: {e}")))?;
    let partner = policy.partner_by_oin(oin.as_str()).ok_or_else(|| {
        Status::unauthenticated(format!(
            "OIN {oin} is not a partner in policy set {}",
            policy.version()
        ))
    })?;
    Ok(Caller {
        oin: oin.to_string(),
        partner_id: partner.id.clone(),
        role: partner.role,
    })
}
