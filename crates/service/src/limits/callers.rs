//! Per-caller state of [`super::CallLimits`]: a token bucket and the calls open, per OIN, in a
//! map of bounded size. Pure apart from the lock: time is passed in, so it is tested directly.
//!
//! A caller whose bucket is full and who has no call open is indistinguishable from one never
//! seen, so its entry can be forgotten whenever room is needed: the map holds at most
//! `max_callers` entries, and only a flood of distinct callers that are all busy at once can
//! fill it (each of them then has a certificate of the role's CA).

use super::Limits;
use crate::status::Refusal;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tonic::Code;

/// The rule of a caller over its rate.
pub const RATE_RULE: &str = "limits.requests_per_second";
/// The rule of a caller over its open calls.
pub const CONCURRENCY_RULE: &str = "limits.concurrent_calls_per_caller";
/// The rule of a new caller while the map is full.
pub const CALLERS_RULE: &str = "limits.max_callers";

/// Every caller's state, shared by the connections of one role.
#[derive(Debug)]
pub struct Callers {
    per_second: f64,
    burst: f64,
    concurrent: usize,
    max_callers: usize,
    state: Mutex<HashMap<String, Caller>>,
}

#[derive(Debug, Clone, Copy)]
struct Caller {
    tokens: f64,
    at: Instant,
    open: usize,
}

/// One admitted call: it counts among its caller's open calls until dropped.
#[derive(Debug)]
pub struct CallPermit {
    callers: Arc<Callers>,
    oin: String,
}

impl Callers {
    pub fn new(limits: &Limits) -> Self {
        Self {
            per_second: f64::from(limits.requests_per_second.get()),
            burst: f64::from(limits.burst.get()),
            concurrent: limits.concurrent_calls_per_caller.get(),
            max_callers: limits.max_callers.get(),
            state: Mutex::new(HashMap::new()),
        }
    }

    /// Admits one call of `oin` at `now`, or says which limit it is over.
    pub fn admit(self: &Arc<Self>, oin: &str, now: Instant) -> Result<CallPermit, OverLimit> {
        // A panic while holding the lock leaves the counts as they were: still usable.
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if !state.contains_key(oin) && state.len() >= self.max_callers {
            state.retain(|_, c| !self.forgettable(c, now));
            if state.len() >= self.max_callers {
                return Err(over(
                    CALLERS_RULE,
                    format!(
                        "the role keeps track of at most {} callers at once and all are busy",
                        self.max_callers
                    ),
                    Duration::from_secs(1),
                ));
            }
        }
        let caller = state.entry(oin.to_owned()).or_insert(Caller {
            tokens: self.burst,
            at: now,
            open: 0,
        });
        self.refill(caller, now);
        if caller.tokens < 1.0 {
            let wait = Duration::from_secs_f64((1.0 - caller.tokens) / self.per_second);
            return Err(over(
                RATE_RULE,
                format!(
                    "more than {} calls a second (bursts of {}) from this caller",
                    self.per_second, self.burst
                ),
                wait,
            ));
        }
        if caller.open >= self.concurrent {
            return Err(over(
                CONCURRENCY_RULE,
                format!(
                    "this caller already has {} calls open; wait for one to end",
                    self.concurrent
                ),
                Duration::from_secs(1),
            ));
        }
        caller.tokens -= 1.0;
        caller.open += 1;
        Ok(CallPermit {
            callers: Arc::clone(self),
            oin: oin.to_owned(),
        })
    }

    /// Callers with state now (for tests and metrics).
    pub fn len(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn refill(&self, caller: &mut Caller, now: Instant) {
        let elapsed = now.saturating_duration_since(caller.at).as_secs_f64();
        caller.tokens = (caller.tokens + elapsed * self.per_second).min(self.burst);
        caller.at = caller.at.max(now);
    }

    fn forgettable(&self, caller: &Caller, now: Instant) -> bool {
        let mut caller = *caller;
        self.refill(&mut caller, now);
        caller.open == 0 && caller.tokens >= self.burst
    }

    fn release(&self, oin: &str) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(caller) = state.get_mut(oin) {
            caller.open = caller.open.saturating_sub(1);
        }
    }
}

impl Drop for CallPermit {
    fn drop(&mut self) {
        self.callers.release(&self.oin);
    }
}

/// A call over one of its caller's limits.
#[derive(Debug, Clone, PartialEq)]
pub struct OverLimit {
    /// The limit's key, e.g. [`RATE_RULE`].
    pub rule: &'static str,
    description: String,
    retry_after: Duration,
}

impl OverLimit {
    /// RESOURCE_EXHAUSTED, reason `RATE_LIMITED`, naming the limit, with when to retry.
    pub fn refusal(&self) -> Refusal {
        // RetryInfo carries whole seconds; a wait below one is still "retry in a second".
        let retry = Duration::from_secs(self.retry_after.as_secs_f64().ceil().max(1.0) as u64);
        Refusal::new(Code::ResourceExhausted, "RATE_LIMITED", "")
            .violation("caller", self.rule, self.description.clone())
            .retry_after(retry)
    }
}

fn over(rule: &'static str, description: String, retry_after: Duration) -> OverLimit {
    OverLimit {
        rule,
        description,
        retry_after,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::num::{NonZeroU32, NonZeroUsize};

    fn callers(per_second: u32, burst: u32, concurrent: usize, max: usize) -> Arc<Callers> {
        Arc::new(Callers::new(&Limits {
            requests_per_second: NonZeroU32::new(per_second).unwrap(),
            burst: NonZeroU32::new(burst).unwrap(),
            concurrent_calls_per_caller: NonZeroUsize::new(concurrent).unwrap(),
            max_callers: NonZeroUsize::new(max).unwrap(),
            ..Limits::default()
        }))
    }

    fn rule(over: OverLimit) -> &'static str {
        let status = over.refusal().into_status();
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert!(status.message().ends_with(&format!("[{}]", over.rule)));
        over.rule
    }

    #[test]
    fn a_burst_then_the_rate_per_caller() {
        let callers = callers(2, 3, 100, 10);
        let t = Instant::now();
        let held: Vec<_> = (0..3).map(|_| callers.admit("a", t).unwrap()).collect();
        assert_eq!(rule(callers.admit("a", t).unwrap_err()), RATE_RULE);
        // Another caller has a bucket of its own.
        assert!(callers.admit("b", t).is_ok());
        // Half a second later one call (2 a second) is back, not two.
        let later = t + Duration::from_millis(500);
        assert!(callers.admit("a", later).is_ok());
        assert_eq!(rule(callers.admit("a", later).unwrap_err()), RATE_RULE);
        drop(held);
    }

    #[test]
    fn open_calls_per_caller_are_bounded_until_one_ends() {
        let callers = callers(1000, 1000, 2, 10);
        let t = Instant::now();
        let first = callers.admit("a", t).unwrap();
        let _second = callers.admit("a", t).unwrap();
        assert_eq!(rule(callers.admit("a", t).unwrap_err()), CONCURRENCY_RULE);
        assert!(callers.admit("b", t).is_ok());
        drop(first);
        assert!(callers.admit("a", t).is_ok());
    }

    #[test]
    fn the_map_is_bounded_and_idle_callers_make_room() {
        let callers = callers(10, 10, 10, 2);
        let t = Instant::now();
        let busy = callers.admit("a", t).unwrap();
        drop(callers.admit("b", t).unwrap());
        // "b" is idle but has not refilled its one token yet: no room for "c".
        assert_eq!(rule(callers.admit("c", t).unwrap_err()), CALLERS_RULE);
        let later = t + Duration::from_secs(1);
        assert!(callers.admit("c", later).is_ok());
        assert_eq!(callers.len(), 2);
        drop(busy);
    }
}
