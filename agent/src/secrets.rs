//! The secrets of a farm task: the ids its graph mounts are asked of the coordinators
//! (`GetSecrets`), which relay the question to the build's client; the values stay in
//! memory and reach the solve as [`SecretSource::Value`] (each RUN that mounts one puts it
//! on a private tmpfs, as in the embedded build). A secret the client does not have is
//! left out, so the solve applies the mount's `required` as BuildKit does.

use std::collections::BTreeMap;

use slipway_farm::TaskSpec;
use slipway_proto::v1::SecretsRequest;

use super::error::TaskError;
use super::shared::Shared;
use slipway_worker::{SecretBytes, SecretSource};

/// The secrets `spec` uses, fetched from the build's client (empty when it uses none).
pub async fn fetch(
    shared: &Shared,
    spec: &TaskSpec,
) -> Result<BTreeMap<String, SecretSource>, TaskError> {
    let ids: Vec<String> = spec.graph.secret_ids().into_iter().collect();
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let request = SecretsRequest {
        worker_id: shared.spec.id.to_string(),
        task_id: spec.id.to_string(),
        ids,
    };
    let answer = shared
        .coordinators
        .call("GetSecrets", &shared.cancel, |mut c| {
            let r = request.clone();
            async move { c.get_secrets(r).await }
        })
        .await
        .map_err(|source| TaskError::Agent {
            task: spec.id,
            source,
        })?;
    let found: BTreeMap<String, SecretSource> = answer
        .secrets
        .into_iter()
        .filter(|s| s.found)
        .map(|s| (s.id, SecretSource::Value(SecretBytes(s.value))))
        .collect();
    tracing::info!(task = %spec.id, asked = request.ids.len(), found = found.len(),
        "secrets from the build's client");
    Ok(found)
}
