//! gRPC clients for the coordinators: one lazily connected channel per address, the one
//! in use, and unary calls retried on the next address until one answers.
//!
//! Any coordinator will do: followers forward worker calls to the leader. An answer
//! `UNAVAILABLE` (no leader yet, leader unreachable), a transport error or a timeout moves
//! to the next address after a backoff; any other error code is final for that call.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};

use slipway_proto::v1::worker_api_client::WorkerApiClient;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

use super::config::{AgentTimings, Backoff};
use super::error::AgentError;
use slipway_tls::Security;

/// The coordinators this agent talks to.
#[derive(Debug)]
pub struct Coordinators {
    addrs: Vec<String>,
    channels: Vec<Channel>,
    current: AtomicUsize,
    timings: AgentTimings,
}

impl Coordinators {
    /// Channels to every address (connected on first use).
    pub fn new(
        addrs: &[String],
        security: &Security,
        timings: AgentTimings,
    ) -> Result<Coordinators, AgentError> {
        if addrs.is_empty() {
            return Err(AgentError::InvalidConfig {
                reason: "no coordinator address given".into(),
            });
        }
        let mut channels = Vec::with_capacity(addrs.len());
        for addr in addrs {
            let url = security.grpc_url(addr);
            let bad = |reason: String| AgentError::InvalidConfig {
                reason: format!("coordinator address {addr:?}: {reason}"),
            };
            let mut endpoint = Endpoint::from_shared(url)
                .map_err(|e| bad(e.to_string()))?
                .connect_timeout(timings.connect_timeout)
                .tcp_nodelay(true)
                .http2_keep_alive_interval(std::time::Duration::from_secs(10))
                .keep_alive_timeout(std::time::Duration::from_secs(5))
                .keep_alive_while_idle(true);
            if let Some(tls) = security.tonic_client_tls(None) {
                endpoint = endpoint.tls_config(tls).map_err(|e| bad(e.to_string()))?;
            }
            channels.push(endpoint.connect_lazy());
        }
        Ok(Coordinators {
            addrs: addrs.to_vec(),
            channels,
            current: AtomicUsize::new(0),
            timings,
        })
    }

    pub fn timings(&self) -> &AgentTimings {
        &self.timings
    }

    /// The client in use and its index (pass it to [`Coordinators::failed`]).
    pub fn client(&self) -> (usize, WorkerApiClient<Channel>) {
        let i = self.current.load(Ordering::Relaxed) % self.channels.len();
        // Invariant, not input: `channels` is never empty (checked in `new`) and `i` is
        // reduced modulo its length.
        let channel = self.channels[i].clone();
        (i, slipway_proto::limits::worker_api_client(channel))
    }

    pub fn addr(&self, index: usize) -> &str {
        self.addrs.get(index).map_or("?", String::as_str)
    }

    /// The coordinator at `index` failed: move on to the next one (unless another caller
    /// already did).
    pub fn failed(&self, index: usize) {
        let next = (index + 1) % self.channels.len();
        let _ = self
            .current
            .compare_exchange(index, next, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// Runs the unary call `f` until a coordinator answers it, a final error comes back or
    /// `cancel` fires. (Boxed: a plain `async fn` here trips rustc's `Send` inference for
    /// the spawned task runners, rust-lang/rust#102211.)
    pub fn call<'a, T, F, Fut>(
        &'a self,
        what: &'static str,
        cancel: &'a CancellationToken,
        mut f: F,
    ) -> Pin<Box<dyn Future<Output = Result<T, AgentError>> + Send + 'a>>
    where
        T: Send + 'a,
        F: FnMut(WorkerApiClient<Channel>) -> Fut + Send + 'a,
        Fut: Future<Output = Result<tonic::Response<T>, Status>> + Send + 'a,
    {
        Box::pin(async move {
            let mut backoff = Backoff::new(&self.timings);
            loop {
                let (index, client) = self.client();
                let outcome = tokio::select! {
                    r = tokio::time::timeout(self.timings.request_timeout, f(client)) => r,
                    _ = cancel.cancelled() => return Err(AgentError::Cancelled),
                };
                match outcome {
                    Ok(Ok(response)) => return Ok(response.into_inner()),
                    Ok(Err(status)) if !retryable(&status) => {
                        return Err(AgentError::Rpc {
                            what,
                            addr: self.addr(index).to_string(),
                            status: Box::new(status),
                        })
                    }
                    Ok(Err(status)) => {
                        tracing::debug!(what, coordinator = self.addr(index), code = ?status.code(),
                            message = status.message(), "coordinator call failed, retrying");
                    }
                    Err(_) => {
                        tracing::debug!(
                            what,
                            coordinator = self.addr(index),
                            "coordinator call timed out, retrying"
                        );
                    }
                }
                self.failed(index);
                sleep(backoff.next_wait(), cancel).await?;
            }
        })
    }
}

/// Whether another attempt (on another coordinator) may succeed.
pub fn retryable(status: &Status) -> bool {
    matches!(
        status.code(),
        Code::Unavailable
            | Code::Unknown
            | Code::Internal
            | Code::DeadlineExceeded
            | Code::Aborted
            | Code::ResourceExhausted
            | Code::Cancelled
    )
}

/// Sleeps `d` unless `cancel` fires first.
pub async fn sleep(d: std::time::Duration, cancel: &CancellationToken) -> Result<(), AgentError> {
    tokio::select! {
        _ = tokio::time::sleep(d) => Ok(()),
        _ = cancel.cancelled() => Err(AgentError::Cancelled),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unavailable_and_transport_errors_retry_refusals_do_not() {
        assert!(retryable(&Status::unavailable("no leader")));
        assert!(retryable(&Status::unknown("transport error")));
        assert!(!retryable(&Status::not_found("worker w is not registered")));
        assert!(!retryable(&Status::failed_precondition("stale")));
        assert!(!retryable(&Status::invalid_argument("bad")));
    }

    #[tokio::test]
    async fn failed_moves_to_the_next_address_once() {
        let addrs = vec!["127.0.0.1:1".to_string(), "127.0.0.1:2".to_string()];
        let c = Coordinators::new(&addrs, &Security::Insecure, AgentTimings::default()).unwrap();
        let (i, _) = c.client();
        assert_eq!(i, 0);
        c.failed(0);
        c.failed(0); // a second caller that saw the same failure does not skip ahead
        assert_eq!(c.client().0, 1);
        c.failed(1);
        assert_eq!(c.client().0, 0);
        assert!(Coordinators::new(&[], &Security::Insecure, AgentTimings::default()).is_err());
    }
}
