//! Tasks: the pieces a build is cut into, each run by one worker.

use crate::cache::{CacheExport, CacheImport, CacheRecord};
use crate::{BuildId, ContextRef, Placement, PushTarget, TaskId, WorkerId};
use serde::{Deserialize, Serialize};
use slipway_graph::{Digest, Graph, Platform};

/// A content descriptor (OCI's mediaType, digest, size).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobDescriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
}

/// One piece of a build, placed on one worker: the graph of one platform's image (or of a
/// stage chain whose output another task consumes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskSpec {
    pub id: TaskId,
    pub build: BuildId,
    /// A short name for progress and `builds inspect`, e.g. `linux/arm64`.
    pub name: String,
    /// The platform the task's RUN steps execute as.
    pub platform: Platform,
    /// Whether the task's output is one of the build's platform images or a stage other
    /// tasks consume.
    #[serde(default)]
    pub kind: TaskKind,
    /// The vertices to solve; `graph.outputs` are the images this task produces.
    pub graph: Graph,
    /// Tasks whose results this one consumes (must succeed first).
    pub depends_on: Vec<TaskId>,
    pub context: Option<ContextRef>,
    /// Push the task's image by digest into each of these repositories (no tags: the
    /// coordinator tags the index).
    #[serde(default)]
    pub pushes: Vec<PushTarget>,
    pub no_cache: bool,
    pub pull: bool,
    pub source_date_epoch: Option<i64>,
    /// Digests of the inputs (base images, contexts, vertex cache keys) whose presence on a
    /// worker makes it a better place for this task.
    pub affinity: Vec<Digest>,
    /// The build's `--cache-from` (the farm's shared index is always consulted first).
    #[serde(default)]
    pub cache_from: Vec<CacheImport>,
    /// The build's `--cache-to`: decides the cache mode of the solve (max when any is) and
    /// where the worker pushes the records' blobs.
    #[serde(default)]
    pub cache_to: Vec<CacheExport>,
    /// The build's local `--build-context` directories, by name (the graph's local
    /// sources of that name read them).
    #[serde(default)]
    pub named_contexts: std::collections::BTreeMap<String, ContextRef>,
    /// The build's `--allow` entitlements.
    #[serde(default)]
    pub allow: std::collections::BTreeSet<slipway_graph::Entitlement>,
    /// Docker media types for the image (`oci-mediatypes=false`).
    #[serde(default)]
    pub docker_media_types: bool,
}

/// What a task's output is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum TaskKind {
    /// One platform image of the build (stitched into the index, exported).
    #[default]
    Image,
    /// A stage shared by several tasks, or run on another platform than the tasks that
    /// consume it (e.g. `FROM --platform=$BUILDPLATFORM`): its result reaches the tasks
    /// that depend on it through their solves, never the build's outputs.
    Stage,
}

/// What a worker hands back for a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskResult {
    pub platform: Platform,
    /// The platform image's manifest (pushed by digest when the task had a push target).
    pub manifest: BlobDescriptor,
    pub config: BlobDescriptor,
    pub layers: Vec<BlobDescriptor>,
    /// Vertices answered from the cache and vertices executed.
    pub cached: u32,
    pub executed: u32,
    /// The cache records the task's solve produced (their blobs are on the worker).
    #[serde(default)]
    pub cache: Vec<CacheRecord>,
}

/// A task's lifecycle. Transitions: `Pending → Assigned → Running → Succeeded|Failed`;
/// `Assigned|Running → Pending` when the worker is lost (attempt + 1); any non-final state
/// to `Canceled`.
// `Succeeded` holds the result inline: one state per task, read far more than moved.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaskState {
    /// Waiting for its dependencies or for a worker.
    Pending,
    Assigned {
        worker: WorkerId,
        placement: Placement,
        at_ms: u64,
    },
    Running {
        worker: WorkerId,
        placement: Placement,
        at_ms: u64,
    },
    Succeeded {
        worker: WorkerId,
        result: TaskResult,
    },
    Failed {
        worker: Option<WorkerId>,
        failure: crate::Failure,
    },
    Canceled,
}

impl TaskState {
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            TaskState::Succeeded { .. } | TaskState::Failed { .. } | TaskState::Canceled
        )
    }

    /// The worker holding the task, while assigned or running.
    pub fn worker(&self) -> Option<&WorkerId> {
        match self {
            TaskState::Assigned { worker, .. } | TaskState::Running { worker, .. } => Some(worker),
            _ => None,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            TaskState::Pending => "pending",
            TaskState::Assigned { .. } => "assigned",
            TaskState::Running { .. } => "running",
            TaskState::Succeeded { .. } => "succeeded",
            TaskState::Failed { .. } => "failed",
            TaskState::Canceled => "canceled",
        }
    }
}
