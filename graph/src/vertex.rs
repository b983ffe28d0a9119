//! Vertices: one op, its inputs and its platform, identified by a digest over exactly those.

use crate::{Digest, GraphError, Op, Platform};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A reference to output `output` of the vertex `vertex`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Input {
    pub vertex: Digest,
    #[serde(default)]
    pub output: u32,
}

impl Input {
    /// Output 0 of `vertex` (every op has exactly one output today).
    pub fn of(vertex: Digest) -> Input {
        Input { vertex, output: 0 }
    }
}

/// Where in the build definition a vertex came from (1-based lines).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceLocation {
    pub file: String,
    pub start_line: usize,
    pub end_line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vertex {
    pub op: Op,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<Input>,
    /// The platform the op runs for (execs run on it, possibly emulated).
    pub platform: Platform,
    /// What progress shows, e.g. `[linux/arm64 build 2/5] RUN make`. Not part of the digest.
    pub name: String,
    /// Free-form metadata (e.g. `com.docker.dockerfile.v1.command`). Not part of the digest.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub description: BTreeMap<String, String>,
    /// Not part of the digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<SourceLocation>,
}

/// The part of a vertex its identity is computed over.
#[derive(Serialize)]
struct DigestPreimage<'a> {
    version: &'static str,
    op: &'a Op,
    platform: &'a Platform,
    inputs: &'a [Input],
}

const PREIMAGE_VERSION: &str = "slipway.vertex.v1";

impl Vertex {
    /// A vertex with no name, description or location.
    pub fn new(op: Op, inputs: Vec<Input>, platform: Platform) -> Vertex {
        Vertex {
            op,
            inputs,
            platform,
            name: String::new(),
            description: BTreeMap::new(),
            location: None,
        }
    }

    pub fn with_name(mut self, name: impl Into<String>) -> Vertex {
        self.name = name.into();
        self
    }

    /// The vertex's identity: sha256 over the canonical JSON of (version, op, platform,
    /// inputs). Struct fields serialise in declaration order and every map in the IR is a
    /// `BTreeMap`, so the bytes are the same on every run and machine.
    pub fn digest(&self) -> Digest {
        Digest::of_bytes(&self.canonical_bytes())
    }

    fn canonical_bytes(&self) -> Vec<u8> {
        let pre = DigestPreimage {
            version: PREIMAGE_VERSION,
            op: &self.op,
            platform: &self.platform,
            inputs: &self.inputs,
        };
        // Serialising plain structs, enums, strings and integers cannot fail; should it
        // ever, the error text still yields a (distinct) stable preimage.
        serde_json::to_vec(&pre).unwrap_or_else(|e| format!("unserialisable: {e}").into_bytes())
    }

    /// Checks that every input index the op uses exists.
    pub fn check_input_refs(&self, digest: &Digest) -> Result<(), GraphError> {
        let count = self.inputs.len();
        for index in self.op.input_refs() {
            if usize::try_from(index).map_or(true, |i| i >= count) {
                return Err(GraphError::InputIndexOutOfRange {
                    vertex: digest.clone(),
                    index,
                    inputs: count,
                });
            }
        }
        Ok(())
    }
}
