//! Exec ops: run a process on a root filesystem with extra mounts.

use super::InputIndex;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecOp {
    /// argv; the frontend has already prepended the shell for shell-form commands.
    pub args: Vec<String>,
    /// `KEY=VALUE`, in order; later entries never repeat a key.
    pub env: Vec<String>,
    /// Working directory (absolute).
    pub cwd: String,
    /// `user[:group]` as written, or empty for the image default (root).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(default)]
    pub network: NetworkMode,
    #[serde(default)]
    pub security: SecurityMode,
    /// The root filesystem input; `None` runs on an empty (scratch) root.
    pub rootfs: Option<InputIndex>,
    /// What the vertex's output 0 is.
    #[serde(default)]
    pub output: ExecOutput,
    /// Extra mounts, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<Mount>,
    /// Secrets exposed as environment variables.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_env: Vec<SecretEnv>,
}

impl ExecOp {
    pub(crate) fn input_refs(&self) -> Vec<InputIndex> {
        let mut refs: Vec<InputIndex> = self.rootfs.into_iter().collect();
        for m in &self.mounts {
            match &m.kind {
                MountKind::Layer { input: Some(i), .. } => refs.push(*i),
                MountKind::Cache { from: Some(i), .. } => refs.push(*i),
                _ => {}
            }
        }
        refs
    }
}

/// What an exec vertex produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecOutput {
    /// Output 0 is the root filesystem after the process exited (a RUN step).
    #[default]
    Rootfs,
    /// Nothing is kept (writable mounts are discarded).
    Discard,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkMode {
    /// The default: the worker's isolated network.
    #[default]
    Sandbox,
    Host,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecurityMode {
    #[default]
    Sandbox,
    /// All capabilities (`RUN --security=insecure`); needs an entitlement.
    Insecure,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    /// Absolute path inside the container.
    pub target: String,
    pub kind: MountKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheSharing {
    #[default]
    Shared,
    Private,
    Locked,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MountKind {
    /// A bind mount of (a path in) an input; writes to a read-write one are discarded.
    Layer {
        /// `None` mounts an empty directory.
        input: Option<InputIndex>,
        /// Path inside the input to mount (`/` for all of it).
        selector: String,
        readonly: bool,
    },
    /// A persistent cache directory shared between builds.
    Cache {
        id: String,
        sharing: CacheSharing,
        /// Initial content of a new cache: this input (at `selector`), else empty.
        from: Option<InputIndex>,
        selector: String,
        /// Owner and mode of a new cache's root directory (BuildKit's defaults: 0, 0, 0755).
        uid: u32,
        gid: u32,
        mode: u32,
        readonly: bool,
    },
    Tmpfs {
        /// Size limit in bytes; `None` is the kernel default.
        size: Option<u64>,
    },
    /// A secret file. Secrets only reach the worker at run time.
    Secret {
        id: String,
        required: bool,
        uid: u32,
        gid: u32,
        mode: u32,
    },
    /// An SSH agent socket forwarded from the client.
    Ssh {
        id: String,
        required: bool,
        uid: u32,
        gid: u32,
        mode: u32,
    },
}

/// A secret exposed as the environment variable `name`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretEnv {
    pub id: String,
    pub name: String,
    pub required: bool,
}
