//! Bounded retries with exponential backoff for transient registry failures.

use super::error::RegistryError;
use std::future::Future;
use std::time::Duration;

/// How transient failures (5xx, 429, connection errors) are retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryConfig {
    /// Total attempts, the first included (1 = no retry).
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(8),
        }
    }
}

impl RetryConfig {
    /// The pause before attempt `attempt + 1` (attempt counts from 1).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// Runs `op` until it succeeds, fails with a non-transient error, or the attempts run out.
pub(crate) async fn retry<T, F, Fut>(
    cfg: &RetryConfig,
    reference: &str,
    mut op: F,
) -> Result<T, RegistryError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, RegistryError>>,
{
    let max = cfg.max_attempts.max(1);
    let mut attempt = 1;
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) if e.is_transient() && attempt < max => {
                let pause = cfg.backoff(attempt);
                tracing::debug!(reference, attempt, ?pause, error = %e, "transient registry error, retrying");
                tokio::time::sleep(pause).await;
                attempt += 1;
            }
            Err(e) if e.is_transient() && max > 1 => {
                return Err(RegistryError::RetriesExhausted {
                    reference: reference.to_string(),
                    attempts: attempt,
                    last: Box::new(e),
                })
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn fast(max_attempts: u32) -> RetryConfig {
        RetryConfig {
            max_attempts,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(4),
        }
    }

    fn busy() -> RegistryError {
        RegistryError::Status {
            reference: "r".into(),
            status: 503,
            message: String::new(),
        }
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let c = RetryConfig {
            max_attempts: 9,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(350),
        };
        assert_eq!(c.backoff(1), Duration::from_millis(100));
        assert_eq!(c.backoff(2), Duration::from_millis(200));
        assert_eq!(c.backoff(3), Duration::from_millis(350));
        assert_eq!(c.backoff(40), Duration::from_millis(350));
    }

    #[tokio::test]
    async fn retries_transient_then_succeeds() {
        let calls = AtomicU32::new(0);
        let r = retry(&fast(4), "r", || async {
            if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                Err(busy())
            } else {
                Ok(7)
            }
        })
        .await;
        assert_eq!(r.unwrap(), 7);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn gives_up_after_bound() {
        let calls = AtomicU32::new(0);
        let r: Result<(), _> = retry(&fast(3), "r", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(busy())
        })
        .await;
        assert!(matches!(
            r,
            Err(RegistryError::RetriesExhausted { attempts: 3, .. })
        ));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn permanent_errors_are_not_retried() {
        let calls = AtomicU32::new(0);
        let r: Result<(), _> = retry(&fast(5), "r", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(RegistryError::NotFound {
                reference: "r".into(),
                code: None,
            })
        })
        .await;
        assert!(matches!(r, Err(RegistryError::NotFound { .. })));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
