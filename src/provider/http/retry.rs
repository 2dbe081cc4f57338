//! How often and how long the cloud providers retry transient failures: jittered exponential
//! backoff, lengthened (within a cap) when the API asks for a pause with `Retry-After` or a
//! spent rate-limit budget. Pure.

use std::time::Duration;

use backon::BackoffBuilder as _;

/// The longest pause an API may ask for; a longer one is cut to this.
const MAX_ASKED_PAUSE: Duration = Duration::from_secs(60);

/// How often and how long to retry transient failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: usize,
    pub min_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 6,
            min_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    /// The jittered exponential delays between attempts.
    pub fn delays(&self) -> impl Iterator<Item = Duration> + use<> {
        backon::ExponentialBuilder::default()
            .with_jitter()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_retries)
            .build()
    }
}

/// The backoff delay, or longer when the API asked for it (capped at a minute).
pub fn pause(backoff: Duration, retry_after: Option<Duration>) -> Duration {
    retry_after.map_or(backoff, |asked| backoff.max(asked.min(MAX_ASKED_PAUSE)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_lengthens_but_is_capped() {
        let backoff = Duration::from_millis(500);
        assert_eq!(pause(backoff, None), backoff);
        assert_eq!(
            pause(backoff, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        assert_eq!(
            pause(backoff, Some(Duration::from_secs(3600))),
            Duration::from_secs(60)
        );
        assert_eq!(pause(backoff, Some(Duration::ZERO)), backoff);
    }

    #[test]
    fn retry_policy_gives_bounded_delays() {
        let policy = RetryPolicy {
            max_retries: 3,
            min_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(40),
        };
        let delays: Vec<_> = policy.delays().collect();
        assert_eq!(delays.len(), 3);
        assert!(
            delays
                .iter()
                .all(|d| *d >= Duration::from_millis(10) && *d <= Duration::from_millis(80))
        );
    }
}
