//! The one retry policy of every role: after a failed call to another role (or a failed
//! delivery) wait exponentially longer, doubling from a first delay up to a ceiling, with
//! jitter. The jitter matters: without it every node that lost the coordinator at the same
//! moment would come back at the same moment, again and again.
//!
//! Built on `backon`. Its jitter adds up to the delay itself, so the policy starts from half
//! the nominal delays: each wait falls in `[d/2, d)` of the nominal `d`, never longer than the
//! fixed delays this replaced.

use backon::ExponentialBuilder;
use std::time::Duration;

/// Exponential backoff from `first` (doubling) up to `ceiling`, with jitter, without a limit on
/// attempts (a caller that has a deadline adds `with_total_delay`).
pub fn policy(first: Duration, ceiling: Duration) -> ExponentialBuilder {
    ExponentialBuilder::new()
        .with_min_delay(first / 2)
        .with_max_delay(ceiling / 2)
        .with_factor(2.0)
        .with_jitter()
        .without_max_times()
}

/// The wait after `failures` failures under `policy`, for a wait kept as a due time rather than
/// slept (the node's outbox persists when a signal is due again).
pub fn delay_after(policy: ExponentialBuilder, failures: u32) -> Duration {
    use backon::BackoffBuilder;
    let mut delays = policy.build();
    let mut delay = Duration::ZERO;
    // Past a few dozen failures every delay is the ceiling.
    for _ in 0..=failures.min(64) {
        match delays.next() {
            Some(d) => delay = d,
            None => break,
        }
    }
    delay
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_ceiling_within_half_and_whole() {
        let p = || policy(Duration::from_secs(1), Duration::from_secs(32));
        for _ in 0..50 {
            for (failures, nominal) in [(0, 1), (1, 2), (2, 4), (5, 32), (9, 32)] {
                let d = delay_after(p(), failures);
                let nominal = Duration::from_secs(nominal);
                assert!(d >= nominal / 2 && d < nominal, "{failures}: {d:?}");
            }
        }
    }
}
