//! The `WorkerApi` service (workers): registration and lease renewal, the assignment
//! stream, task start/progress/finish and blob locations. Served by the leader; a follower
//! forwards every call (the `Assignments` and `Progress` streams are proxied).

use super::assignments::{assignment_of, AssignmentItem};
use super::cache_api;
use super::error::NodeError;
use super::forward::Route;
use super::shared::{now_ms, Shared};
use crate::farm::state::{Command, FarmState};
use slipway_farm::{BuildId, TaskId, TaskResult, TaskState, WorkerId, WorkerSpec};
use slipway_graph::Digest;
use slipway_proto::v1;
use slipway_proto::v1::task_outcome::Outcome;
use slipway_proto::v1::worker_api_server::WorkerApi;
use slipway_proto::ProtoError;
use std::pin::Pin;
use std::sync::Arc;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};
use uuid::Uuid;

/// The WorkerApi service of one node.
pub struct WorkerApiService {
    pub(super) s: Arc<Shared>,
}

/// What an `Assignments` call returns.
pub type AssignmentStream = Pin<Box<dyn Stream<Item = AssignmentItem> + Send>>;

macro_rules! unary {
    ($self:ident, $req:ident, $method:ident, $local:expr) => {
        match $self.s.route(&$req)? {
            Route::Leader { addr, .. } => {
                let mut client = $self.s.forwarder.worker_api(&addr)?;
                client
                    .$method($self.s.forwarder.request($req.into_inner()))
                    .await
            }
            Route::Local => $local.await.map(Response::new).map_err(Status::from),
        }
    };
}

type SshStream = Pin<Box<dyn Stream<Item = Result<v1::SshFrame, Status>> + Send + 'static>>;

/// How long the leader waits for a client's secrets (under the workers' request timeout).
const SECRET_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(4);

fn worker_id(s: &str) -> Result<WorkerId, NodeError> {
    Ok(s.parse::<WorkerId>()?)
}

fn task_id(s: &str) -> Result<TaskId, NodeError> {
    Ok(s.parse::<TaskId>()?)
}

fn incarnation(message: &'static str, s: &str) -> Result<Uuid, NodeError> {
    Uuid::parse_str(s).map_err(|e| {
        NodeError::Proto(ProtoError::InvalidId {
            message,
            field: "incarnation",
            value: s.to_string(),
            reason: e.to_string(),
        })
    })
}

fn assignment(st: &FarmState, task: &TaskId) -> Option<v1::Assignment> {
    assignment_of(st, task)
}

/// Whether `worker` is registered, active, with this incarnation.
fn registered(st: &FarmState, worker: &WorkerId, inc: Uuid) -> bool {
    st.worker(worker)
        .is_some_and(|w| w.is_active() && w.spec.incarnation == inc)
}

impl WorkerApiService {
    /// A step failure of `task` with the Dockerfile lines of its vertex (the leader holds
    /// the build's Dockerfile and the task's graph; the worker has neither's source lines).
    fn with_excerpt(&self, task: TaskId, failure: slipway_farm::Failure) -> slipway_farm::Failure {
        let slipway_farm::Failure::Step(mut step) = failure else {
            return failure;
        };
        if step.excerpt.is_none() {
            step.excerpt = self.s.raft.read(|st| {
                let t = st.task(&task)?;
                let location = t.spec.graph.vertices.get(&step.vertex)?.location.as_ref()?;
                let dockerfile = &st.build(&t.spec.build)?.spec.dockerfile;
                crate::excerpt::excerpt(dockerfile, location)
            });
        }
        slipway_farm::Failure::Step(step)
    }

    async fn register_local(
        &self,
        req: v1::RegisterRequest,
    ) -> Result<v1::RegisterResponse, NodeError> {
        let spec = req.spec.ok_or(ProtoError::MissingField {
            message: "RegisterRequest",
            field: "spec",
        })?;
        let spec = WorkerSpec::try_from(spec)?;
        spec.validate()?;
        let (id, inc) = (spec.id.clone(), spec.incarnation);
        let applied = self
            .s
            .commit_lenient(Command::RegisterWorker {
                spec,
                at_ms: now_ms(),
            })
            .await?;
        // Not applied: already registered with this very spec (a retried call).
        if !applied && !self.s.raft.read(|st| registered(st, &id, inc)) {
            return Err(NodeError::Refused {
                what: format!("registering worker {id}"),
                reason: "the coordinators refused the registration".to_string(),
            });
        }
        self.s.leases().grant(&id, inc, now_ms());
        Ok(v1::RegisterResponse {
            lease_ttl_ms: self.s.leases().ttl_ms(),
            renew_interval_ms: self.s.renew_interval_ms,
        })
    }

    /// The build of `task` when `worker` holds it and its graph uses every one of `ids`
    /// (as `used` lists them): what a worker may ask of the build's client.
    fn held_task_using(
        &self,
        what: &str,
        worker: &str,
        task: &str,
        ids: &[String],
        used: impl Fn(&slipway_graph::Graph) -> std::collections::BTreeSet<String>,
    ) -> Result<BuildId, NodeError> {
        let worker = worker_id(worker)?;
        let task = task_id(task)?;
        let held = self.s.raft.read(|st| {
            let t = st.task(&task)?;
            (t.state.worker() == Some(&worker)).then(|| (t.spec.build, used(&t.spec.graph)))
        });
        let refuse = |reason: String| NodeError::Refused {
            what: what.to_string(),
            reason,
        };
        let Some((build, used)) = held else {
            return Err(refuse(format!(
                "task {task} is not held by worker {worker}"
            )));
        };
        if let Some(id) = ids.iter().find(|id| !used.contains(*id)) {
            return Err(refuse(format!("task {task} does not use {id:?}")));
        }
        Ok(build)
    }

    async fn get_secrets_local(
        &self,
        req: v1::SecretsRequest,
    ) -> Result<v1::SecretsResponse, NodeError> {
        let build =
            self.held_task_using("GetSecrets", &req.worker_id, &req.task_id, &req.ids, |g| {
                g.secret_ids()
            })?;
        let secrets = self
            .s
            .sessions
            .ask(&build, &req.ids, SECRET_TIMEOUT)
            .await?;
        Ok(v1::SecretsResponse { secrets })
    }

    /// Bridges one forwarded ssh-agent connection of a task held by the calling worker to
    /// the build client's session.
    async fn ssh_forward_local(
        &self,
        mut inbound: Streaming<v1::SshFrame>,
    ) -> Result<SshStream, NodeError> {
        let first = inbound
            .message()
            .await
            .ok()
            .flatten()
            .ok_or(ProtoError::MissingField {
                message: "SshFrame",
                field: "worker_id/task_id/ssh_id (the first frame)",
            })?;
        let build = self.held_task_using(
            "SshForward",
            &first.worker_id,
            &first.task_id,
            std::slice::from_ref(&first.ssh_id),
            |g| g.ssh_ids(),
        )?;
        let task = first.task_id.clone();
        let (conn_id, mut from_client) = self.s.sessions.open_ssh(&build, &first.ssh_id)?;
        let s = self.s.clone();
        let conn = conn_id.clone();
        // The step's bytes go to the client; the first frame may carry some already.
        tokio::spawn(async move {
            let mut frame = Some(first);
            while let Some(f) = frame.take() {
                let close = f.close;
                if !f.data.is_empty() || close {
                    let data = v1::SshData {
                        conn_id: conn.clone(),
                        data: f.data,
                        close,
                    };
                    if !s.sessions.ssh_to_client(&build, data).await || close {
                        return;
                    }
                }
                frame = inbound.message().await.ok().flatten();
            }
            let close = v1::SshData {
                conn_id: conn,
                data: Vec::new(),
                close: true,
            };
            s.sessions.ssh_to_client(&build, close).await;
        });
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        tokio::spawn(async move {
            while let Some(d) = from_client.recv().await {
                let close = d.close;
                let frame = v1::SshFrame {
                    data: d.data,
                    close,
                    ..Default::default()
                };
                if tx.send(Ok(frame)).await.is_err() || close {
                    break;
                }
            }
        });
        tracing::debug!(%build, %task, conn = %conn_id, "ssh agent connection forwarded");
        Ok(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx)))
    }

    async fn gc_done_local(&self, req: v1::GcResult) -> Result<v1::Ack, NodeError> {
        let worker = worker_id(&req.worker_id)?;
        let order = req.order_id.clone();
        if !self.s.gc_orders.complete(&worker, req) {
            tracing::debug!(%worker, %order, "an answer to an order nobody waits for");
        }
        Ok(v1::Ack {})
    }

    async fn renew_local(&self, req: v1::RenewRequest) -> Result<v1::RenewResponse, NodeError> {
        let worker = worker_id(&req.worker_id)?;
        let inc = incarnation("RenewRequest", &req.incarnation)?;
        let now = now_ms();
        let running: Vec<TaskId> = req
            .running
            .iter()
            .map(|t| task_id(t))
            .collect::<Result<_, _>>()?;
        let (is_registered, cancel, resend) = self.s.raft.read(|st| {
            let cancel: Vec<String> = running
                .iter()
                .filter(|t| st.task(t).is_none_or(|r| r.state.worker() != Some(&worker)))
                .map(|t| t.to_string())
                .collect();
            // Assigned to it, not running there, assigned a while ago: the assignment may
            // have been lost with a stream; send it again (workers ignore duplicates).
            let resend: Vec<v1::Assignment> = st
                .tasks_assigned_to(&worker)
                .into_iter()
                .filter(|t| match &t.state {
                    TaskState::Assigned { at_ms, .. } => {
                        !running.contains(&t.spec.id)
                            && now.saturating_sub(*at_ms) > self.s.renew_interval_ms
                    }
                    _ => false,
                })
                .filter_map(|t| assignment(st, &t.spec.id))
                .collect();
            (registered(st, &worker, inc), cancel, resend)
        });
        let known = {
            let mut leases = self.s.leases();
            if leases.get(&worker).is_none() && is_registered {
                // Registered through an earlier leader: a full lease from now.
                leases.grant(&worker, inc, now);
            }
            is_registered && leases.renew(&worker, inc, now)
        };
        let mut gc = Vec::new();
        if known {
            for a in resend {
                self.s.assignments.send(&worker, inc, a);
            }
            gc = self.s.gc_orders.take_unsent(&worker);
        }
        Ok(v1::RenewResponse { known, cancel, gc })
    }

    fn assignments_local(
        &self,
        req: v1::AssignmentsRequest,
    ) -> Result<AssignmentStream, NodeError> {
        let worker = worker_id(&req.worker_id)?;
        let inc = incarnation("AssignmentsRequest", &req.incarnation)?;
        if !self.s.raft.read(|st| registered(st, &worker, inc)) {
            return Err(NodeError::WorkerNotRegistered { worker });
        }
        // Open first, then send what it holds: an assignment committed in between is sent
        // twice at worst (workers ignore a task they already run).
        let (tx, rx) = self.s.assignments.open(&worker, inc);
        let held: Vec<v1::Assignment> = self.s.raft.read(|st| {
            st.tasks_assigned_to(&worker)
                .into_iter()
                .filter(|t| !t.state.is_final())
                .filter_map(|t| assignment(st, &t.spec.id))
                .collect()
        });
        for a in held {
            let _ = tx.send(Ok(a));
        }
        Ok(Box::pin(UnboundedReceiverStream::new(rx)))
    }

    async fn started_local(&self, req: v1::TaskRef) -> Result<v1::Ack, NodeError> {
        let task = task_id(&req.task_id)?;
        let worker = worker_id(&req.worker_id)?;
        // A stale start (task reassigned or canceled) is ignored; Renew tells the worker.
        self.s
            .commit_lenient(Command::TaskStarted {
                task,
                worker,
                at_ms: now_ms(),
            })
            .await?;
        Ok(v1::Ack {})
    }

    async fn progress_local(
        &self,
        mut reports: Streaming<v1::ProgressReport>,
    ) -> Result<v1::Ack, NodeError> {
        while let Some(report) = reports.next().await {
            let Ok(report) = report else { break };
            let Ok(task) = task_id(&report.task_id) else {
                continue;
            };
            if let Some(build) = self.s.raft.read(|st| st.task(&task).map(|t| t.spec.build)) {
                self.s.progress.publish(build, report);
            }
        }
        Ok(v1::Ack {})
    }

    async fn finish_local(&self, req: v1::TaskOutcome) -> Result<v1::Ack, NodeError> {
        let task = task_id(&req.task_id)?;
        let worker = worker_id(&req.worker_id)?;
        let at_ms = now_ms();
        let cmd = match req.outcome {
            Some(Outcome::Result(r)) => Command::TaskSucceeded {
                task,
                worker,
                result: TaskResult::try_from(r)?,
                at_ms,
            },
            Some(Outcome::Error(message)) => Command::TaskFailed {
                task,
                worker: Some(worker),
                failure: slipway_farm::Failure::Task {
                    task: String::new(),
                    message,
                },
                at_ms,
            },
            Some(Outcome::Failure(f)) => Command::TaskFailed {
                task,
                worker: Some(worker),
                failure: self.with_excerpt(task, slipway_farm::Failure::try_from(f)?),
                at_ms,
            },
            None => {
                return Err(ProtoError::MissingField {
                    message: "TaskOutcome",
                    field: "outcome",
                }
                .into())
            }
        };
        // A late or duplicate outcome (the task was re-run elsewhere) is ignored.
        self.s.commit_lenient(cmd).await?;
        Ok(v1::Ack {})
    }

    async fn record_blob_local(&self, req: v1::BlobLocation) -> Result<v1::Ack, NodeError> {
        let digest = parse_digest("BlobLocation", &req.digest)?;
        let worker = worker_id(&req.worker_id)?;
        self.s
            .commit_lenient(Command::RecordBlob { digest, worker })
            .await?;
        Ok(v1::Ack {})
    }

    async fn find_blob_local(&self, req: v1::BlobRef) -> Result<v1::BlobLocations, NodeError> {
        let digest = parse_digest("BlobRef", &req.digest)?;
        let now = now_ms();
        let leases = self.s.leases().clone();
        Ok(self.s.raft.read(|st| v1::BlobLocations {
            data_addrs: st
                .blob_locations(&digest)
                .into_iter()
                .filter(|w| leases.is_live(&w.spec.id, now))
                .map(|w| w.spec.data_addr.clone())
                .collect(),
        }))
    }
}

fn parse_digest(message: &'static str, s: &str) -> Result<Digest, NodeError> {
    s.parse::<Digest>().map_err(|source| {
        NodeError::Proto(ProtoError::InvalidDigest {
            message,
            field: "digest",
            source,
        })
    })
}

#[tonic::async_trait]
impl WorkerApi for WorkerApiService {
    async fn register(
        &self,
        request: Request<v1::RegisterRequest>,
    ) -> Result<Response<v1::RegisterResponse>, Status> {
        unary!(
            self,
            request,
            register,
            self.register_local(request.into_inner())
        )
    }

    type SshForwardStream = SshStream;

    async fn ssh_forward(
        &self,
        request: Request<Streaming<v1::SshFrame>>,
    ) -> Result<Response<SshStream>, Status> {
        match self.s.route(&request)? {
            Route::Leader { addr, .. } => {
                let mut client = self.s.forwarder.worker_api(&addr)?;
                let inbound = request.into_inner().map_while(|m| m.ok());
                let resp = client
                    .ssh_forward(self.s.forwarder.request(inbound))
                    .await?;
                Ok(resp.map(|s| Box::pin(s) as SshStream))
            }
            Route::Local => Ok(Response::new(
                self.ssh_forward_local(request.into_inner()).await?,
            )),
        }
    }

    async fn get_secrets(
        &self,
        request: Request<v1::SecretsRequest>,
    ) -> Result<Response<v1::SecretsResponse>, Status> {
        unary!(
            self,
            request,
            get_secrets,
            self.get_secrets_local(request.into_inner())
        )
    }

    async fn gc_done(&self, request: Request<v1::GcResult>) -> Result<Response<v1::Ack>, Status> {
        unary!(
            self,
            request,
            gc_done,
            self.gc_done_local(request.into_inner())
        )
    }

    async fn renew(
        &self,
        request: Request<v1::RenewRequest>,
    ) -> Result<Response<v1::RenewResponse>, Status> {
        unary!(self, request, renew, self.renew_local(request.into_inner()))
    }

    type AssignmentsStream = AssignmentStream;

    async fn assignments(
        &self,
        request: Request<v1::AssignmentsRequest>,
    ) -> Result<Response<AssignmentStream>, Status> {
        match self.s.route(&request)? {
            Route::Leader { addr, .. } => {
                let mut client = self.s.forwarder.worker_api(&addr)?;
                let resp = client
                    .assignments(self.s.forwarder.request(request.into_inner()))
                    .await?;
                Ok(resp.map(|s| Box::pin(s) as AssignmentStream))
            }
            Route::Local => Ok(Response::new(self.assignments_local(request.into_inner())?)),
        }
    }

    async fn started(&self, request: Request<v1::TaskRef>) -> Result<Response<v1::Ack>, Status> {
        unary!(
            self,
            request,
            started,
            self.started_local(request.into_inner())
        )
    }

    async fn progress(
        &self,
        request: Request<Streaming<v1::ProgressReport>>,
    ) -> Result<Response<v1::Ack>, Status> {
        match self.s.route(&request)? {
            Route::Leader { addr, .. } => {
                let mut client = self.s.forwarder.worker_api(&addr)?;
                // Proxy the reports until the worker's stream ends or fails.
                let reports = request.into_inner().map_while(|r| r.ok());
                client.progress(self.s.forwarder.request(reports)).await
            }
            Route::Local => self
                .progress_local(request.into_inner())
                .await
                .map(Response::new)
                .map_err(Status::from),
        }
    }

    async fn finish(&self, request: Request<v1::TaskOutcome>) -> Result<Response<v1::Ack>, Status> {
        unary!(
            self,
            request,
            finish,
            self.finish_local(request.into_inner())
        )
    }

    async fn record_blob(
        &self,
        request: Request<v1::BlobLocation>,
    ) -> Result<Response<v1::Ack>, Status> {
        unary!(
            self,
            request,
            record_blob,
            self.record_blob_local(request.into_inner())
        )
    }

    async fn find_blob(
        &self,
        request: Request<v1::BlobRef>,
    ) -> Result<Response<v1::BlobLocations>, Status> {
        unary!(
            self,
            request,
            find_blob,
            self.find_blob_local(request.into_inner())
        )
    }

    /// Answered here, leader or not: the index is a hint.
    async fn lookup_cache(
        &self,
        request: Request<v1::CacheQuery>,
    ) -> Result<Response<v1::CacheAnswer>, Status> {
        cache_api::lookup_local(&self.s, request.into_inner())
            .map(Response::new)
            .map_err(Status::from)
    }

    async fn record_cache(
        &self,
        request: Request<v1::CacheRecords>,
    ) -> Result<Response<v1::Ack>, Status> {
        unary!(
            self,
            request,
            record_cache,
            cache_api::record_local(&self.s, request.into_inner())
        )
    }

    async fn forget_blobs(
        &self,
        request: Request<v1::ForgottenBlobs>,
    ) -> Result<Response<v1::Ack>, Status> {
        unary!(
            self,
            request,
            forget_blobs,
            cache_api::forget_local(&self.s, request.into_inner())
        )
    }
}
