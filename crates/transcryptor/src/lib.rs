//! The transcryptor service.
//!
//! - `Convert` is for partner nodes only (gemeente, politie, NLA, ZVH, by the OIN in their
//!   certificate): a coordinator that could convert ciphertexts it made itself could compute the
//!   matching pseudonym of any identifier it chose.
//! - `GetKeyShare` is for the coordinator only, and only for the coordinator context this
//!   transcryptor was configured with.
//! - Every request is logged with caller, purpose of the call and sizes, never a value; every
//!   caller is rate-limited (ciphertexts per second, token bucket).
#![forbid(unsafe_code)]

mod rate;
mod serve;
mod service;

pub use rate::RateLimiter;
pub use serve::serve;
pub use service::TranscryptorGrpc;
pub use signaalnet_service::{caller, Caller, ServeError};
