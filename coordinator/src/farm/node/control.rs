//! The `Control` service (clients): submit, watch, inspect and cancel builds, list workers,
//! cluster membership. Every call is served by the leader (a follower forwards it, streams
//! included), except `ClusterStatus`, which answers with this node's own view so that a
//! coordinator cut off from the others can still be inspected.

use super::affinity::add_previous_results;
use super::cache_api;
use super::error::NodeError;
use super::forward::Route;
use super::gc_orders;
use super::shared::{now_ms, Shared};
use super::submit::{check_contexts, check_platforms, check_tasks, lower_spec, target_platforms};
use super::views::{build_detail, worker_info};
use super::watch::{watch_build, EventStream};
use crate::farm::planner::plan;
use crate::farm::raft::ClusterInfo;
use crate::farm::state::Command;
use slipway_farm::{BuildId, BuildSpec, WorkerId, WorkerSpec};
use slipway_proto::v1;
use slipway_proto::v1::control_server::Control;
use slipway_proto::ProtoError;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

/// How long a disk-usage call waits for the workers (beyond their renewal period).
const USAGE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a prune waits (a collection first waits for the worker's running solves).
const PRUNE_TIMEOUT: Duration = Duration::from_secs(600);

/// The Control service of one node.
pub struct ControlService {
    pub(super) s: Arc<Shared>,
}

/// Forwards a unary call to the leader or serves it here.
macro_rules! unary {
    ($self:ident, $req:ident, $method:ident, $local:expr) => {
        match $self.s.route(&$req)? {
            Route::Leader { addr, .. } => {
                let mut client = $self.s.forwarder.control(&addr)?;
                client
                    .$method($self.s.forwarder.request($req.into_inner()))
                    .await
            }
            Route::Local => $local.await.map(Response::new).map_err(Status::from),
        }
    };
}

fn parse_build(id: &str) -> Result<BuildId, NodeError> {
    Ok(id.parse::<BuildId>()?)
}

fn cluster_response(info: ClusterInfo) -> v1::ClusterStatusResponse {
    v1::ClusterStatusResponse {
        node_id: info.node_id,
        leader_id: info.leader,
        term: info.term,
        commit_index: info.commit_index,
        applied_index: info.applied_index,
        members: info
            .members
            .into_iter()
            .map(|m| v1::Member {
                id: m.id,
                addr: m.addr,
                voter: m.voter,
            })
            .collect(),
    }
}

impl ControlService {
    async fn submit_local(&self, req: v1::SubmitRequest) -> Result<v1::SubmitResponse, NodeError> {
        let requested = if req.build_id.is_empty() {
            None
        } else {
            Some(parse_build(&req.build_id)?)
        };
        let spec = req.spec.ok_or(ProtoError::MissingField {
            message: "SubmitRequest",
            field: "spec",
        })?;
        let spec = BuildSpec::try_from(spec)?;
        spec.validate()?;
        // A retry of a submission that was committed answers the same build.
        if let Some(id) = requested {
            if self.already_submitted(id, &spec)? {
                tracing::info!(build = %id, "submission retried; answering the existing build");
                return Ok(v1::SubmitResponse {
                    build_id: id.to_string(),
                });
            }
        }
        let s = &self.s;
        // Refuse at once, before lowering (which may wait on registries), a platform that no
        // live worker runs; the planned tasks are checked again.
        let live = self.live_workers();
        check_platforms(&target_platforms(&spec), &live)?;
        check_contexts(&spec, s.in_place_contexts)?;
        let graph = lower_spec(s.registry.clone(), &spec, &live).await?;
        let id = requested.unwrap_or_else(BuildId::new);
        let mut tasks = plan(id, &spec, graph)?;
        s.raft.read(|st| add_previous_results(st, &mut tasks));
        check_tasks(&tasks, &self.live_workers())?;
        let committed = s
            .commit(
                "submit",
                Command::SubmitBuild {
                    id,
                    spec: Box::new(spec.clone()),
                    tasks,
                    at_ms: now_ms(),
                },
            )
            .await;
        match committed {
            Ok(()) => {}
            // A concurrent retry of the same submission was committed first.
            Err(e @ NodeError::Refused { .. }) => {
                if requested.is_none() || !self.already_submitted(id, &spec)? {
                    return Err(e);
                }
            }
            Err(e) => return Err(e),
        }
        Ok(v1::SubmitResponse {
            build_id: id.to_string(),
        })
    }

    /// True when build `id` exists with this very spec; an error when it exists with
    /// another (a client reused an id).
    fn already_submitted(&self, id: BuildId, spec: &BuildSpec) -> Result<bool, NodeError> {
        match self
            .s
            .raft
            .read(|st| st.build(&id).map(|b| b.spec == *spec))
        {
            None => Ok(false),
            Some(true) => Ok(true),
            Some(false) => Err(NodeError::BuildIdTaken { build: id }),
        }
    }

    /// The workers a disk-usage or prune call addresses: the named one (which must be
    /// registered and live) or every live worker.
    fn gc_targets(&self, named: Option<&str>) -> Result<Vec<WorkerId>, NodeError> {
        let live: Vec<WorkerId> = self.live_workers().into_iter().map(|w| w.id).collect();
        let Some(name) = named.filter(|n| !n.is_empty()) else {
            return Ok(live);
        };
        let worker: WorkerId = name.parse()?;
        if !live.contains(&worker) {
            return Err(NodeError::WorkerNotRegistered { worker });
        }
        Ok(vec![worker])
    }

    async fn disk_usage_local(
        &self,
        req: v1::DiskUsageRequest,
    ) -> Result<v1::DiskUsageResponse, NodeError> {
        let targets = self.gc_targets(req.worker_id.as_deref())?;
        let timeout = USAGE_TIMEOUT + Duration::from_millis(2 * self.s.renew_interval_ms);
        let results = gc_orders::round(&self.s.gc_orders, &targets, None, timeout).await;
        Ok(v1::DiskUsageResponse {
            workers: results
                .into_iter()
                .map(|r| v1::WorkerDiskUsage {
                    worker_id: r.worker_id,
                    bytes: r.bytes,
                    entries: r.entries,
                    reclaimable: r.reclaimable,
                    error: r.error,
                })
                .collect(),
        })
    }

    async fn prune_local(&self, req: v1::PruneRequest) -> Result<v1::PruneResponse, NodeError> {
        let targets = self.gc_targets(req.worker_id.as_deref())?;
        let options = req.options.unwrap_or_default();
        let timeout = PRUNE_TIMEOUT + Duration::from_millis(2 * self.s.renew_interval_ms);
        let results = gc_orders::round(&self.s.gc_orders, &targets, Some(options), timeout).await;
        Ok(v1::PruneResponse {
            workers: results
                .into_iter()
                .map(|r| v1::WorkerPruned {
                    worker_id: r.worker_id,
                    bytes_freed: r.bytes_freed,
                    entries_removed: r.entries_removed,
                    bytes_remaining: r.bytes,
                    error: r.error,
                })
                .collect(),
        })
    }

    /// Registers the client's session (its first message names the build), answers
    /// `opened`, then feeds the client's answers to the questions waiting for them until
    /// the stream ends.
    async fn session_local(
        &self,
        mut inbound: Streaming<v1::SessionClientMessage>,
    ) -> Result<BoxStream<v1::SessionServerMessage>, NodeError> {
        use v1::session_client_message::Msg;
        let first = inbound.message().await.ok().flatten();
        let Some(v1::SessionClientMessage {
            msg: Some(Msg::Open(open)),
        }) = first
        else {
            return Err(ProtoError::MissingField {
                message: "SessionClientMessage",
                field: "open (the first message of a session)",
            }
            .into());
        };
        let build = parse_build(&open.build_id)?;
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let opened = v1::SessionServerMessage {
            msg: Some(v1::session_server_message::Msg::Opened(v1::Empty {})),
        };
        // Cannot fail: the receiver is still here.
        let _ = tx.try_send(Ok(opened));
        let token = self.s.sessions.open(build, tx);
        tracing::info!(%build, "client session open");
        let s = self.s.clone();
        tokio::spawn(async move {
            while let Ok(Some(m)) = inbound.message().await {
                match m.msg {
                    Some(Msg::Secret(answer)) => s.sessions.answer(&build, answer),
                    Some(Msg::SshData(data)) => s.sessions.ssh_from_client(&build, data).await,
                    Some(Msg::Open(_)) | None => {}
                }
            }
            s.sessions.close(&build, token);
            tracing::info!(%build, "client session closed");
        });
        Ok(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx)))
    }

    /// Registered workers holding a live lease.
    fn live_workers(&self) -> Vec<WorkerSpec> {
        let now = now_ms();
        let leases = self.s.leases().clone();
        self.s.raft.read(|st| {
            st.workers()
                .filter(|w| w.is_active() && leases.is_live(&w.spec.id, now))
                .map(|w| w.spec.clone())
                .collect()
        })
    }

    async fn get_build_local(&self, req: v1::BuildRef) -> Result<v1::BuildDetail, NodeError> {
        let build = parse_build(&req.build_id)?;
        self.s
            .raft
            .read(|st| build_detail(st, &build))
            .ok_or(NodeError::BuildNotFound { build })
    }

    async fn list_builds_local(&self) -> Result<v1::BuildList, NodeError> {
        Ok(self.s.raft.read(|st| v1::BuildList {
            builds: st
                .builds()
                .filter_map(|b| st.build_summary(&b.id))
                .map(v1::BuildSummary::from)
                .collect(),
        }))
    }

    async fn cancel_local(&self, req: v1::BuildRef) -> Result<v1::BuildSummary, NodeError> {
        let build = parse_build(&req.build_id)?;
        if self.s.raft.read(|st| st.build(&build).is_none()) {
            return Err(NodeError::BuildNotFound { build });
        }
        self.s
            .commit(
                "cancel",
                Command::CancelBuild {
                    build,
                    at_ms: now_ms(),
                },
            )
            .await?;
        self.s
            .raft
            .read(|st| st.build_summary(&build))
            .map(v1::BuildSummary::from)
            .ok_or(NodeError::BuildNotFound { build })
    }

    async fn list_workers_local(&self) -> Result<v1::WorkerList, NodeError> {
        let now = now_ms();
        let leases = self.s.leases().clone();
        Ok(self.s.raft.read(|st| v1::WorkerList {
            workers: st.workers().map(|w| worker_info(w, &leases, now)).collect(),
        }))
    }

    async fn add_node_local(
        &self,
        req: v1::AddNodeRequest,
    ) -> Result<v1::ClusterStatusResponse, NodeError> {
        if req.addr.is_empty() {
            return Err(NodeError::Config {
                what: "node address",
                value: req.addr,
                reason: "must be host:port".to_string(),
            });
        }
        Ok(cluster_response(
            self.s.raft.add_node(req.id, req.addr).await?,
        ))
    }

    async fn remove_node_local(
        &self,
        req: v1::NodeRef,
    ) -> Result<v1::ClusterStatusResponse, NodeError> {
        Ok(cluster_response(self.s.raft.remove_node(req.id).await?))
    }
}

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl Control for ControlService {
    async fn submit(
        &self,
        request: Request<v1::SubmitRequest>,
    ) -> Result<Response<v1::SubmitResponse>, Status> {
        unary!(
            self,
            request,
            submit,
            self.submit_local(request.into_inner())
        )
    }

    type WatchStream = EventStream;

    async fn watch(
        &self,
        request: Request<v1::WatchRequest>,
    ) -> Result<Response<EventStream>, Status> {
        match self.s.route(&request)? {
            Route::Leader { addr, .. } => {
                let mut client = self.s.forwarder.control(&addr)?;
                let resp = client
                    .watch(self.s.forwarder.request(request.into_inner()))
                    .await?;
                Ok(resp.map(|s| Box::pin(s) as EventStream))
            }
            Route::Local => {
                let build = parse_build(&request.get_ref().build_id)?;
                Ok(Response::new(watch_build(self.s.clone(), build)?))
            }
        }
    }

    async fn get_build(
        &self,
        request: Request<v1::BuildRef>,
    ) -> Result<Response<v1::BuildDetail>, Status> {
        unary!(
            self,
            request,
            get_build,
            self.get_build_local(request.into_inner())
        )
    }

    async fn list_builds(
        &self,
        request: Request<v1::ListBuildsRequest>,
    ) -> Result<Response<v1::BuildList>, Status> {
        unary!(self, request, list_builds, self.list_builds_local())
    }

    async fn cancel(
        &self,
        request: Request<v1::BuildRef>,
    ) -> Result<Response<v1::BuildSummary>, Status> {
        unary!(
            self,
            request,
            cancel,
            self.cancel_local(request.into_inner())
        )
    }

    async fn list_workers(
        &self,
        request: Request<v1::ListWorkersRequest>,
    ) -> Result<Response<v1::WorkerList>, Status> {
        unary!(self, request, list_workers, self.list_workers_local())
    }

    async fn drain_worker(
        &self,
        request: Request<v1::DrainRequest>,
    ) -> Result<Response<v1::WorkerInfo>, Status> {
        unary!(
            self,
            request,
            drain_worker,
            cache_api::drain_local(&self.s, request.into_inner())
        )
    }

    async fn cluster_status(
        &self,
        _request: Request<v1::ClusterStatusRequest>,
    ) -> Result<Response<v1::ClusterStatusResponse>, Status> {
        Ok(Response::new(cluster_response(self.s.raft.metrics())))
    }

    async fn add_node(
        &self,
        request: Request<v1::AddNodeRequest>,
    ) -> Result<Response<v1::ClusterStatusResponse>, Status> {
        unary!(
            self,
            request,
            add_node,
            self.add_node_local(request.into_inner())
        )
    }

    async fn remove_node(
        &self,
        request: Request<v1::NodeRef>,
    ) -> Result<Response<v1::ClusterStatusResponse>, Status> {
        unary!(
            self,
            request,
            remove_node,
            self.remove_node_local(request.into_inner())
        )
    }

    async fn disk_usage(
        &self,
        request: Request<v1::DiskUsageRequest>,
    ) -> Result<Response<v1::DiskUsageResponse>, Status> {
        unary!(
            self,
            request,
            disk_usage,
            self.disk_usage_local(request.into_inner())
        )
    }

    async fn prune(
        &self,
        request: Request<v1::PruneRequest>,
    ) -> Result<Response<v1::PruneResponse>, Status> {
        unary!(self, request, prune, self.prune_local(request.into_inner()))
    }

    type SessionStream = BoxStream<v1::SessionServerMessage>;

    async fn session(
        &self,
        request: Request<Streaming<v1::SessionClientMessage>>,
    ) -> Result<Response<Self::SessionStream>, Status> {
        match self.s.route(&request)? {
            Route::Leader { addr, .. } => {
                let mut client = self.s.forwarder.control(&addr)?;
                let inbound = request.into_inner().map_while(|m| m.ok());
                let resp = client.session(self.s.forwarder.request(inbound)).await?;
                Ok(resp.map(|s| Box::pin(s) as Self::SessionStream))
            }
            Route::Local => Ok(Response::new(
                self.session_local(request.into_inner()).await?,
            )),
        }
    }
}
