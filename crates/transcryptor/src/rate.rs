//! Per-caller rate limiting: a token bucket of ciphertexts per caller.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Allows each caller `per_second` ciphertexts on average with bursts up to `burst`.
#[derive(Debug)]
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(per_second: u32, burst: u32) -> Self {
        Self {
            per_second: f64::from(per_second),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes `cost` tokens for `caller`; on refusal returns the seconds until enough are back.
    pub fn take(&self, caller: &str, cost: usize) -> Result<(), f64> {
        self.take_at(caller, cost, Instant::now())
    }

    fn take_at(&self, caller: &str, cost: usize, now: Instant) -> Result<(), f64> {
        let cost = cost as f64;
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, last) = buckets
            .entry(caller.to_owned())
            .or_insert((self.burst, now));
        let refill = now.saturating_duration_since(*last).as_secs_f64() * self.per_second;
        *tokens = (*tokens + refill).min(self.burst);
        *last = now;
        if cost > self.burst {
            return Err(f64::INFINITY);
        }
        if *tokens >= cost {
            *tokens -= cost;
            Ok(())
        } else {
            Err((cost - *tokens) / self.per_second.max(f64::MIN_POSITIVE))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn refills_over_time_and_separates_callers() {
        let limiter = RateLimiter::new(10, 20);
        let t0 = Instant::now();
        assert!(limiter.take_at("a", 20, t0).is_ok());
        assert!(limiter.take_at("a", 1, t0).is_err());
        assert!(limiter.take_at("b", 20, t0).is_ok());
        assert!(limiter
            .take_at("a", 10, t0 + Duration::from_secs(1))
            .is_ok());
        assert_eq!(
            limiter.take_at("a", 21, t0 + Duration::from_secs(9)),
            Err(f64::INFINITY)
        );
    }
}
