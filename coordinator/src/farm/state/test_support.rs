//! Builders of farm values for the state and scheduler tests.

use slipway_farm::{
    BlobDescriptor, BuildId, BuildSpec, PlatformSupport, TaskId, TaskResult, TaskSpec, WorkerId,
    WorkerSpec,
};
use slipway_graph::{Digest, Graph, Platform};
use std::collections::BTreeMap;
use uuid::Uuid;

pub fn wid(name: &str) -> WorkerId {
    name.parse().expect("test worker names are valid")
}

pub fn platform(s: &str) -> Platform {
    s.parse().expect("test platforms are valid")
}

pub fn worker_spec(name: &str, native: &[&str], emulated: &[&str], slots: u32) -> WorkerSpec {
    WorkerSpec {
        id: wid(name),
        incarnation: Uuid::new_v4(),
        platforms: PlatformSupport {
            native: native.iter().map(|p| platform(p)).collect(),
            emulated: emulated.iter().map(|p| platform(p)).collect(),
        },
        slots,
        labels: BTreeMap::new(),
        data_addr: format!("{name}:7000"),
    }
}

pub fn task_spec(build: BuildId, platform: Platform) -> TaskSpec {
    TaskSpec {
        docker_media_types: false,
        id: TaskId::new(),
        build,
        name: platform.to_string(),
        platform,
        kind: Default::default(),
        graph: Graph::new(),
        depends_on: Vec::new(),
        context: None,
        pushes: Vec::new(),
        no_cache: false,
        pull: false,
        source_date_epoch: None,
        affinity: Vec::new(),
        cache_from: Vec::new(),
        cache_to: Vec::new(),
        named_contexts: Default::default(),
        allow: Default::default(),
    }
}

pub fn build_spec(platforms: &[&str]) -> BuildSpec {
    BuildSpec {
        name: "app".into(),
        dockerfile: "FROM scratch\n".into(),
        dockerfile_name: "Dockerfile".into(),
        platforms: platforms.iter().map(|p| platform(p)).collect(),
        ..BuildSpec::default()
    }
}

fn blob(media_type: &str, seed: &str) -> BlobDescriptor {
    BlobDescriptor {
        media_type: media_type.into(),
        digest: Digest::of_bytes(seed.as_bytes()),
        size: 42,
    }
}

pub fn result_for(platform: &Platform) -> TaskResult {
    let p = platform.to_string();
    TaskResult {
        platform: platform.clone(),
        manifest: blob("application/vnd.oci.image.manifest.v1+json", &p),
        config: blob("application/vnd.oci.image.config.v1+json", &p),
        layers: vec![],
        cached: 0,
        executed: 1,
        cache: Vec::new(),
    }
}

/// A task failure with `message` (no step).
pub fn fails(message: &str) -> slipway_farm::Failure {
    slipway_farm::Failure::Task {
        task: String::new(),
        message: message.to_string(),
    }
}
