//! Waiting for a cloud resource to reach a state: read it, and until it is there or the
//! deadline passes, pause with growing intervals, remembering each state seen for the error.
//! Which resource, which states and how fast the pause grows are the provider's.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use super::{MachineId, ProviderError};

/// A deadline and the pause before the next read, growing up to a maximum.
#[derive(Debug, Clone, Copy)]
pub struct Poller {
    until: Instant,
    interval: Duration,
    max: Duration,
    grow: fn(Duration) -> Duration,
}

impl Poller {
    /// Polling for at most `deadline` from now, pausing `min` first, then `grow(pause)`, never
    /// more than `max`.
    pub fn new(
        deadline: Duration,
        min: Duration,
        max: Duration,
        grow: fn(Duration) -> Duration,
    ) -> Poller {
        Poller {
            until: Instant::now() + deadline,
            interval: min,
            max,
            grow,
        }
    }

    /// Pause before the next read, never past the deadline; `false` (at once) when the
    /// deadline has passed.
    pub async fn pause(&mut self) -> bool {
        let now = Instant::now();
        if now >= self.until {
            return false;
        }
        tokio::time::sleep(self.interval.min(self.until - now)).await;
        self.interval = (self.grow)(self.interval).min(self.max);
        true
    }
}

/// How polling ended.
pub enum Waited<T> {
    Reached(Box<T>),
    /// The deadline passed; the states seen, each change once, in order.
    TimedOut(Vec<String>),
}

impl<T> Waited<T> {
    /// What reached the running state, or the provisioning error for machine `id` of
    /// `provider`, which did not within `waited`.
    pub fn started(
        self,
        provider: &'static str,
        id: &MachineId,
        waited: Duration,
    ) -> Result<Box<T>, ProviderError> {
        match self {
            Waited::Reached(found) => Ok(found),
            Waited::TimedOut(states_seen) => Err(ProviderError::Provisioning {
                provider,
                id: id.to_string(),
                waited,
                states_seen,
            }),
        }
    }
}

/// Read with `fetch` until `done`, for as long as `poller` allows; `state` names what was
/// read, for the states seen.
pub async fn until<T, F, Fut>(
    mut poller: Poller,
    fetch: F,
    state: impl Fn(&T) -> &str,
    done: impl Fn(&T) -> bool,
) -> Result<Waited<T>, ProviderError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    let mut seen: Vec<String> = Vec::new();
    loop {
        let current = fetch().await?;
        let name = state(&current);
        if seen.last().map(String::as_str) != Some(name) {
            seen.push(name.to_string());
        }
        if done(&current) {
            return Ok(Waited::Reached(Box::new(current)));
        }
        if !poller.pause().await {
            return Ok(Waited::TimedOut(seen));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn poller(deadline_ms: u64) -> Poller {
        Poller::new(
            Duration::from_millis(deadline_ms),
            Duration::from_millis(1),
            Duration::from_millis(4),
            |pause| pause * 2,
        )
    }

    #[tokio::test]
    async fn stops_at_the_wanted_state_with_each_change_once() {
        let reads = AtomicUsize::new(0);
        let states = ["new", "new", "booting", "running"];
        let waited = until(
            poller(5_000),
            || async { Ok(states[reads.fetch_add(1, Ordering::SeqCst)]) },
            |s| s,
            |s| *s == "running",
        )
        .await
        .unwrap();
        assert!(matches!(waited, Waited::Reached(s) if *s == "running"));
        assert_eq!(reads.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn times_out_with_the_states_seen() {
        let waited = until(poller(20), || async { Ok("stuck") }, |s| s, |_| false)
            .await
            .unwrap();
        let Waited::TimedOut(seen) = waited else {
            panic!("expected a timeout");
        };
        assert_eq!(seen, ["stuck"]);
    }

    #[test]
    fn a_timeout_while_starting_is_a_provisioning_error() {
        let id = MachineId::from("42");
        let reached = Waited::Reached(Box::new(7)).started("Test", &id, Duration::ZERO);
        assert_eq!(*reached.unwrap(), 7);
        let timed_out = Waited::<u8>::TimedOut(vec!["starting".into()]);
        let err = timed_out
            .started("Test", &id, Duration::from_secs(3))
            .unwrap_err();
        assert!(
            matches!(err, ProviderError::Provisioning { ref states_seen, .. } if states_seen == &["starting"]),
            "{err}"
        );
    }

    #[tokio::test]
    async fn pauses_grow_up_to_the_maximum() {
        let mut poller = poller(5_000);
        for _ in 0..4 {
            assert!(poller.pause().await);
        }
        assert_eq!(poller.interval, Duration::from_millis(4));
        assert!(
            !super::Poller::new(Duration::ZERO, Duration::ZERO, Duration::ZERO, |p| p)
                .pause()
                .await
        );
    }
}
