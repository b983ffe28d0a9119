//! How the agent is set up.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use slipway_farm::WorkerId;
use slipway_tls::Security;

/// Everything [`Agent::run`](super::Agent::run) needs besides the worker.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// This worker's stable name (`worker-2`).
    pub worker_id: WorkerId,
    /// gRPC addresses of the coordinators (`host:port` or `scheme://host:port`); any of
    /// them will do (followers forward to the leader).
    pub coordinators: Vec<String>,
    /// mTLS or insecure, for gRPC and the data plane alike.
    pub security: Security,
    /// Tasks run at once (at least 1).
    pub slots: u32,
    pub labels: BTreeMap<String, String>,
    /// Where the data plane (QUIC) listens; port 0 picks one.
    pub data_listen: SocketAddr,
    /// `host:port` other workers and clients reach the data plane at. Empty: the bound
    /// address, with an unspecified IP (`0.0.0.0`, `::`) replaced by loopback, which only
    /// suits a single-machine farm.
    pub data_advertise: String,
    /// Emulated platforms to offer: `None` offers every platform the emulation probe found;
    /// `Some(list)` offers only those (each must be one the probe found).
    pub emulated: Option<Vec<slipway_graph::Platform>>,
    pub timings: AgentTimings,
    /// Garbage collection whenever the worker falls idle (`None`: never).
    pub gc: Option<slipway_worker::gc::GcOptions>,
    /// Read contexts that are directories in place: only for the worker of a one-process
    /// farm, which runs in the client's process (the embedded `slipway build`).
    pub in_place_contexts: bool,
}

impl AgentConfig {
    /// A config with one slot, no labels, insecure transport and the data plane on an
    /// ephemeral loopback port.
    pub fn new(worker_id: WorkerId, coordinators: Vec<String>) -> AgentConfig {
        AgentConfig {
            worker_id,
            coordinators,
            security: Security::Insecure,
            slots: 1,
            labels: BTreeMap::new(),
            data_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_advertise: String::new(),
            emulated: None,
            timings: AgentTimings::default(),
            gc: None,
            in_place_contexts: false,
        }
    }
}

/// Intervals and timeouts of the agent's conversations with the coordinators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentTimings {
    /// Lease renewal period; `None`: the period the coordinator answers at registration.
    pub renew_interval: Option<Duration>,
    /// Connecting to a coordinator.
    pub connect_timeout: Duration,
    /// One unary call (register, renew, started, finish, blob lookups).
    pub request_timeout: Duration,
    /// First and longest wait between retries (doubling in between).
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// How many times a context blob is looked up while no worker holds it yet.
    pub blob_lookups: u32,
    /// On shutdown, how long running tasks get to clean up after being cancelled.
    pub shutdown_grace: Duration,
}

impl Default for AgentTimings {
    fn default() -> Self {
        AgentTimings {
            renew_interval: None,
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(5),
            backoff_initial: Duration::from_millis(50),
            backoff_max: Duration::from_secs(2),
            blob_lookups: 5,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// Doubling waits between `initial` and `max`.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    next: Duration,
    initial: Duration,
    max: Duration,
}

impl Backoff {
    pub fn new(t: &AgentTimings) -> Backoff {
        Backoff {
            next: t.backoff_initial,
            initial: t.backoff_initial,
            max: t.backoff_max.max(t.backoff_initial),
        }
    }

    /// The wait before the next retry.
    pub fn next_wait(&mut self) -> Duration {
        let wait = self.next;
        self.next = (self.next * 2).min(self.max);
        wait
    }

    pub fn reset(&mut self) {
        self.next = self.initial;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_max_and_resets() {
        let t = AgentTimings {
            backoff_initial: Duration::from_millis(100),
            backoff_max: Duration::from_millis(350),
            ..AgentTimings::default()
        };
        let mut b = Backoff::new(&t);
        let waits: Vec<u64> = (0..4).map(|_| b.next_wait().as_millis() as u64).collect();
        assert_eq!(waits, vec![100, 200, 350, 350]);
        b.reset();
        assert_eq!(b.next_wait(), Duration::from_millis(100));
    }
}
