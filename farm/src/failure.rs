//! Why a task or a build failed, as the replicated state records it: typed, so a client can
//! tell a failed step from a push that failed or a platform no worker runs, and render a
//! step's failure as BuildKit does (the step, its exit code, its last output lines and the
//! Dockerfile lines it came from) whether the build ran on a farm or in one process.

use serde::{Deserialize, Serialize};
use slipway_graph::Digest;
use std::fmt;

/// A build step (a vertex of the graph) that failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepFailure {
    /// The vertex that failed.
    pub vertex: Digest,
    /// Its progress name, e.g. `[build 3/5] RUN make`.
    pub name: String,
    /// The process's exit code, when a process exited.
    pub exit_code: Option<i32>,
    /// What went wrong (for a process: BuildKit's `process "…" did not complete
    /// successfully: exit code: N`, with its last output lines).
    pub message: String,
    /// The Dockerfile lines of the step (`Dockerfile:3` and a framed excerpt), when the
    /// step came from a Dockerfile line the build's coordinator knows.
    #[serde(default)]
    pub excerpt: Option<String>,
}

/// Why a task or a build failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Failure {
    /// A step of the task failed.
    Step(StepFailure),
    /// The task failed outside its steps (its context, caches, the push of its image, the
    /// worker's own trouble); `task` names it (`linux/arm64`, `stage build`).
    Task { task: String, message: String },
    /// No live worker runs the task's platform, natively or emulated.
    Unplaceable { platform: String, message: String },
    /// The task's worker was lost this many times.
    WorkerLost {
        task: String,
        attempts: u32,
        reason: String,
    },
    /// The index or its tags could not be pushed.
    Push { repository: String, message: String },
    /// The results could not be stitched into one root.
    Stitch { message: String },
    /// A `--cache-to` export failed.
    CacheExport { message: String },
}

impl Failure {
    /// The same failure, naming the task it happened in (a step's failure names its step).
    pub fn in_task(self, task: &str) -> Failure {
        match self {
            Failure::Task { message, .. } => Failure::Task {
                task: task.to_string(),
                message,
            },
            other => other,
        }
    }

    /// The failed step, if a step failed.
    pub fn step(&self) -> Option<&StepFailure> {
        match self {
            Failure::Step(s) => Some(s),
            _ => None,
        }
    }
}

impl fmt::Display for Failure {
    /// One line (a step's excerpt is not part of it: see [`StepFailure::excerpt`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Step(s) => write!(f, "{}: {}", s.name, s.message),
            Failure::Task { task, message } => write!(f, "{task}: {message}"),
            // The message names the platform (`no worker runs platform linux/s390x`).
            Failure::Unplaceable { message, .. } => write!(f, "{message}"),
            Failure::WorkerLost {
                task,
                attempts,
                reason,
            } => write!(
                f,
                "{task}: lost its worker {attempts} times; last: {reason}"
            ),
            Failure::Push {
                repository,
                message,
            } => write!(f, "pushing to {repository}: {message}"),
            Failure::Stitch { message } => write!(f, "stitching the image: {message}"),
            Failure::CacheExport { message } => write!(f, "exporting the cache: {message}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_read_as_one_line_and_keep_their_step() {
        let step = Failure::Step(StepFailure {
            vertex: Digest::of_bytes(b"v"),
            name: "[2/2] RUN false".into(),
            exit_code: Some(1),
            message: "exit code: 1".into(),
            excerpt: Some("Dockerfile:2".into()),
        });
        assert_eq!(step.to_string(), "[2/2] RUN false: exit code: 1");
        assert_eq!(step.step().and_then(|s| s.exit_code), Some(1));
        let task = Failure::Task {
            task: String::new(),
            message: "context missing".into(),
        }
        .in_task("linux/arm64");
        assert_eq!(task.to_string(), "linux/arm64: context missing");
        assert!(task.step().is_none());
        let json = serde_json::to_string(&step).unwrap();
        assert_eq!(serde_json::from_str::<Failure>(&json).unwrap(), step);
    }
}
