//! The operations a vertex performs: a closed set, modelled on BuildKit's LLB ops
//! (`solver/pb/ops.proto`), with inputs referenced by their index in [`crate::Vertex::inputs`].

mod exec;
mod file;
mod source;

pub use exec::{
    CacheSharing, ExecOp, ExecOutput, Mount, MountKind, NetworkMode, SecretEnv, SecurityMode,
};
pub use file::{
    Chmod, Chown, CopyAction, FileAction, FileOp, MkdirAction, MkfileAction, RmAction, UserSpec,
};
pub use source::{GitSource, HttpSource, ImageSource, LocalContext, SourceOp};

use serde::{Deserialize, Serialize};

/// Index of an input in the owning vertex's `inputs` list.
pub type InputIndex = u32;

/// What a vertex does. Every variant has exactly one output (output index 0): the image
/// source, the exec's root filesystem, the file op's result or the merged layers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Source(SourceOp),
    Exec(ExecOp),
    File(FileOp),
    /// Layers all inputs on top of each other, in order (first input at the bottom).
    Merge(MergeOp),
}

/// Merge of every input of the vertex, in input order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MergeOp {}

impl Op {
    /// A short lower-case name of the kind of op (`source`, `exec`, `file`, `merge`).
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Source(_) => "source",
            Op::Exec(_) => "exec",
            Op::File(_) => "file",
            Op::Merge(_) => "merge",
        }
    }

    /// Every input index the op refers to (for validation).
    pub fn input_refs(&self) -> Vec<InputIndex> {
        match self {
            Op::Source(_) | Op::Merge(_) => Vec::new(),
            Op::Exec(e) => e.input_refs(),
            Op::File(f) => f.input_refs(),
        }
    }
}
