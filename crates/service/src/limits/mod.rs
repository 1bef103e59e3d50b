//! Limits on every call of every role: what one client, or one caller, can make a role hold.
//!
//! A role's `[limits]` table ([`Limits`], every key optional) sets them; [`crate::serve`]
//! applies them the same way on every role:
//! - before a client is known, in the accept loop (`signaalnet_tls::accept`): how long its TLS
//!   handshake may take, how many handshakes run at once, how many connections are open at all;
//! - on each connection: HTTP/2 keepalive pings, so a peer that went away without closing is
//!   dropped, and (fixed, see `crate::flow_control`) at most 100 calls at once;
//! - on each call ([`CallLimits`]), per caller, the OIN of its client certificate: a rate (a
//!   token bucket: `requests_per_second` on average, bursts up to `burst`) and how many calls it
//!   may have open at once; a unary call must be answered within `request_timeout_seconds`, and
//!   a stream's client may stay silent at most `stream_idle_timeout_seconds` (a stream as a whole
//!   has no time limit: a million-signal `SubmitSignals` or a `WatchHits` that lasts for days is
//!   what streams are for).
//!
//! A call over a per-caller limit is refused with RESOURCE_EXHAUSTED before its handler runs,
//! with the limit's key in the message and as the `QuotaFailure`'s `quota_id` (e.g.
//! `limits.requests_per_second`) and a `RetryInfo`; a call not answered in time ends with
//! DEADLINE_EXCEEDED naming `limits.request_timeout_seconds` (the handler is dropped: what it
//! had not committed is rolled back). A request over the message size limit is
//! RESOURCE_EXHAUSTED too ([`SizeLimitStatus`]).
//!
//! Per-caller state exists only for callers that completed an mTLS handshake with a certificate
//! of the role's CA, so an unauthenticated client cannot create any; it is bounded besides
//! (`max_callers`), and an idle caller's state is dropped when room is needed.

mod callers;
mod calls;
mod size;

pub use callers::{CallPermit, Callers, OverLimit};
pub use calls::{CallLimits, CallLimitsService};
pub use size::{resource_exhausted, SizeLimitStatus, SizeLimitStatusService, RULE};

use serde::{Deserialize, Serialize};
use signaalnet_tls::accept::AcceptLimits;
use std::num::{NonZeroU32, NonZeroUsize};
use std::time::Duration;

/// A role's `[limits]` table. Every key has a default; unknown keys are refused.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// How long a client has to complete its TLS handshake.
    pub handshake_timeout_seconds: Seconds,
    /// TLS handshakes in progress at once; beyond them the role stops accepting until one ends.
    pub max_handshakes: NonZeroUsize,
    /// Connections open at once; one more is closed as soon as it is accepted.
    pub max_connections: NonZeroUsize,
    /// How long a unary call may take (for a stream: until its handler has started answering).
    pub request_timeout_seconds: Seconds,
    /// How long a stream's client may send nothing while the role waits for its next message.
    pub stream_idle_timeout_seconds: Seconds,
    /// How often the role pings each connection (HTTP/2 PING)…
    pub keepalive_interval_seconds: Seconds,
    /// …and how long it waits for the answer before it drops the connection.
    pub keepalive_timeout_seconds: Seconds,
    /// Calls (unary or streams) one caller may have open at once.
    pub concurrent_calls_per_caller: NonZeroUsize,
    /// Calls one caller may start per second, on average…
    pub requests_per_second: NonZeroU32,
    /// …and at once after a pause (the token bucket's size).
    pub burst: NonZeroU32,
    /// Callers whose state the role keeps at once; a new caller beyond them is refused until
    /// an idle one can be forgotten.
    pub max_callers: NonZeroUsize,
}

impl Default for Limits {
    fn default() -> Self {
        let accept = AcceptLimits::default();
        Self {
            handshake_timeout_seconds: Seconds(accept.handshake_timeout),
            max_handshakes: nonzero(accept.max_handshakes),
            max_connections: nonzero(accept.max_connections),
            request_timeout_seconds: Seconds(Duration::from_secs(30)),
            stream_idle_timeout_seconds: Seconds(Duration::from_secs(300)),
            keepalive_interval_seconds: Seconds(Duration::from_secs(30)),
            keepalive_timeout_seconds: Seconds(Duration::from_secs(20)),
            concurrent_calls_per_caller: NonZeroUsize::new(256).unwrap_or(NonZeroUsize::MIN),
            requests_per_second: NonZeroU32::new(1_000).unwrap_or(NonZeroU32::MIN),
            burst: NonZeroU32::new(2_000).unwrap_or(NonZeroU32::MIN),
            max_callers: NonZeroUsize::new(10_000).unwrap_or(NonZeroUsize::MIN),
        }
    }
}

fn nonzero(n: usize) -> NonZeroUsize {
    NonZeroUsize::new(n).unwrap_or(NonZeroUsize::MIN)
}

impl Limits {
    /// What the accept loop allows.
    pub fn accept(&self) -> AcceptLimits {
        AcceptLimits {
            handshake_timeout: self.handshake_timeout_seconds.0,
            max_handshakes: self.max_handshakes.get(),
            max_connections: self.max_connections.get(),
        }
    }
}

/// A positive, finite number of seconds in a configuration (`0.5`, `30`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Seconds(pub Duration);

/// At most a day: a longer limit is no limit, and a typo of a few zeros should not pass.
const MAX_SECONDS: f64 = 86_400.0;

impl TryFrom<f64> for Seconds {
    type Error = String;

    fn try_from(seconds: f64) -> Result<Self, Self::Error> {
        if !(seconds > 0.0 && seconds <= MAX_SECONDS) {
            return Err(format!(
                "{seconds} is not a number of seconds above 0 and at most {MAX_SECONDS}"
            ));
        }
        Duration::try_from_secs_f64(seconds)
            .map(Seconds)
            .map_err(|e| e.to_string())
    }
}

impl From<Seconds> for f64 {
    fn from(seconds: Seconds) -> Self {
        seconds.0.as_secs_f64()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn an_empty_table_is_the_defaults_and_keys_are_checked() {
        let limits: Limits = toml::from_str("").unwrap();
        assert_eq!(limits, Limits::default());
        let limits: Limits =
            toml::from_str("request_timeout_seconds = 0.25\nrequests_per_second = 3").unwrap();
        assert_eq!(limits.request_timeout_seconds.0, Duration::from_millis(250));
        assert_eq!(limits.requests_per_second.get(), 3);
        for bad in [
            "requests_per_secnd = 3",
            "requests_per_second = 0",
            "request_timeout_seconds = 0",
            "request_timeout_seconds = -1",
            "handshake_timeout_seconds = 1e9",
        ] {
            assert!(toml::from_str::<Limits>(bad).is_err(), "{bad}");
        }
    }
}
