//! Wire views of the replicated state: task and worker rows as `builds inspect` and
//! `workers ls` show them.

use super::leases::Leases;
use crate::farm::state::{FarmState, TaskRecord, WorkerRecord};
use slipway_farm::BuildId;
use slipway_proto::v1;

/// One task as `TaskInfo`.
pub fn task_info(t: &TaskRecord) -> v1::TaskInfo {
    slipway_proto::convert::task_info(&t.spec, &t.state, t.attempt)
}

/// A build with its tasks, when known.
pub fn build_detail(state: &FarmState, build: &BuildId) -> Option<v1::BuildDetail> {
    let summary = state.build_summary(build)?;
    Some(v1::BuildDetail {
        summary: Some(v1::BuildSummary::from(summary)),
        tasks: state.tasks_of(build).into_iter().map(task_info).collect(),
    })
}

/// One worker as `WorkerInfo`: alive when registered and holding an unexpired lease.
pub fn worker_info(w: &WorkerRecord, leases: &Leases, now_ms: u64) -> v1::WorkerInfo {
    let alive = w.is_active() && leases.is_live(&w.spec.id, now_ms);
    v1::WorkerInfo {
        spec: Some(v1::WorkerSpec::from(w.spec.clone())),
        alive,
        lease_age_ms: leases.age_ms(&w.spec.id, now_ms).unwrap_or(0),
        running_tasks: w.running(),
        assigned_total: w.assigned_total,
        draining: w.draining,
    }
}
