//! Per-caller rate limiting of conversions: ciphertexts per second per caller, with bursts, as
//! governor's keyed GCRA limiter (equivalent to a token bucket per caller).
//!
//! This is a rate, kept in memory; the daily probing quotas are counts kept in the role's
//! database (`signaalnet_service::quota`), which survive a restart.

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::Quota;
use std::num::NonZeroU32;

/// Allows each caller `per_second` ciphertexts on average with bursts up to `burst`.
#[derive(Debug)]
pub struct RateLimiter<C: Clock = DefaultClock> {
    limiter: governor::RateLimiter<
        String,
        DefaultKeyedStateStore<String>,
        C,
        NoOpMiddleware<C::Instant>,
    >,
}

impl RateLimiter {
    pub fn new(per_second: u32, burst: u32) -> Self {
        Self::with_clock(per_second, burst, DefaultClock::default())
    }
}

impl<C: Clock> RateLimiter<C> {
    /// A limiter on `clock` (a fake one in tests). A rate below one per second is taken as one:
    /// governor's quotas replenish; a caller is never locked out for good.
    pub fn with_clock(per_second: u32, burst: u32, clock: C) -> Self {
        let quota = Quota::per_second(NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN))
            .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN));
        Self {
            limiter: governor::RateLimiter::new(quota, DefaultKeyedStateStore::default(), clock),
        }
    }

    /// Takes `cost` ciphertexts from `caller`'s allowance; on refusal returns the seconds until
    /// enough are back, infinite when `cost` is more than a burst.
    pub fn take(&self, caller: &str, cost: usize) -> Result<(), f64> {
        let Some(cost) = NonZeroU32::new(u32::try_from(cost).unwrap_or(u32::MAX)) else {
            return Ok(());
        };
        match self.limiter.check_key_n(&caller.to_owned(), cost) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(not_until
                .wait_time_from(self.limiter.clock().now())
                .as_secs_f64()),
            Err(_insufficient_capacity) => Err(f64::INFINITY),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;
    use std::time::Duration;

    #[test]
    fn refills_over_time_and_separates_callers() {
        let clock = FakeRelativeClock::default();
        let limiter = RateLimiter::with_clock(10, 20, clock.clone());
        assert!(limiter.take("a", 20).is_ok());
        assert!(limiter.take("a", 1).is_err());
        assert!(limiter.take("b", 20).is_ok());
        clock.advance(Duration::from_secs(1));
        assert!(limiter.take("a", 10).is_ok());
        clock.advance(Duration::from_secs(8));
        assert_eq!(limiter.take("a", 21), Err(f64::INFINITY));
    }
}
