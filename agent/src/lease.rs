//! Keeping the lease: `Renew` every renewal period with the tasks this worker holds;
//! registering again when the leader no longer knows this incarnation; cancelling the
//! tasks the leader says are no longer wanted here; starting the disk-usage and prune
//! orders that come with an answer.

use std::sync::Arc;

use slipway_farm::TaskId;
use slipway_proto::v1::RenewRequest;

use super::coordinators::sleep;
use super::error::AgentError;
use super::gc_orders;
use super::shared::Shared;

/// Renews until the agent shuts down.
pub async fn keep(shared: Arc<Shared>) {
    let shared = &shared;
    loop {
        if sleep(shared.renew_interval(), &shared.cancel)
            .await
            .is_err()
        {
            return;
        }
        match renew(shared).await {
            Ok(()) => {}
            Err(AgentError::Cancelled) => return,
            Err(e) => tracing::warn!(error = %e, "renewing the lease"),
        }
    }
}

async fn renew(shared: &Arc<Shared>) -> Result<(), AgentError> {
    let request = RenewRequest {
        worker_id: shared.spec.id.to_string(),
        incarnation: shared.spec.incarnation.to_string(),
        running: shared
            .table()
            .held()
            .iter()
            .map(|t| t.to_string())
            .collect(),
    };
    let answer = shared
        .coordinators
        .call("Renew", &shared.cancel, |mut c| {
            let r = request.clone();
            async move { c.renew(r).await }
        })
        .await;
    let answer = match answer {
        Ok(a) => a,
        // Not registered (e.g. a coordinator that lost our registration): register again.
        Err(e) if e.code() == Some(tonic::Code::NotFound) => {
            tracing::warn!(error = %e, "lease unknown; registering again");
            return shared.register().await;
        }
        Err(e) => return Err(e),
    };
    if !answer.known {
        tracing::warn!(worker = %shared.spec.id, "the leader does not know this worker's lease; registering again");
        shared.register().await?;
    }
    for id in &answer.cancel {
        match id.parse::<TaskId>() {
            Ok(task) => {
                if shared.table().cancel(task) {
                    tracing::info!(%task, "the coordinators cancelled this task");
                }
            }
            Err(e) => tracing::warn!(error = %e, "renew answer names an invalid task"),
        }
    }
    for order in answer.gc {
        tracing::info!(order = %order.id, prune = order.prune.is_some(), "disk-usage/prune order");
        gc_orders::start(shared, order);
    }
    Ok(())
}
