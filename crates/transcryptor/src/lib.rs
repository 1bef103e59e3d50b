//! The transcryptor service.
//!
//! - `Convert` is for partner nodes only (gemeente, politie, NLA, ZVH, by the OIN in their
//!   certificate): a coordinator that could convert ciphertexts it made itself could compute the
//!   matching pseudonym of any identifier it chose.
//! - `GetKeyShare` is for the coordinator only, and only for the coordinator context this
//!   transcryptor was configured with.
//! - Every request is logged with caller, purpose of the call and sizes, never a value; every
//!   caller is rate-limited (ciphertexts per second with bursts: governor, [`RateLimiter`]).
#![forbid(unsafe_code)]

mod rate;
pub mod role;
mod seen;
mod serve;
mod service;

pub use rate::RateLimiter;
pub use serve::serve;
pub use service::TranscryptorGrpc;
pub use signaalnet_service::{caller, Caller, ServeError};

/// What the transcryptor's policy reloads record into: its own store and trail.
pub struct TranscryptorTrail {
    pub store: std::sync::Arc<signaalnet_store::Store>,
    pub audit: std::sync::Arc<signaalnet_audit::Audit>,
}

#[tonic::async_trait]
impl signaalnet_service::policy::PolicyTarget for TranscryptorTrail {
    fn store(&self) -> &signaalnet_store::Store {
        &self.store
    }

    fn audit(&self) -> &signaalnet_audit::Audit {
        &self.audit
    }
}
