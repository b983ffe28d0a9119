use crate::Digest;

/// Why a graph is not well formed.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error("vertex {vertex} refers to input {input}, which is not in the graph")]
    MissingInput { vertex: Digest, input: Digest },
    #[error("vertex {vertex} uses input index {index} but has only {inputs} inputs")]
    InputIndexOutOfRange {
        vertex: Digest,
        index: u32,
        inputs: usize,
    },
    #[error("vertex stored under {key} has digest {computed}")]
    DigestMismatch { key: Digest, computed: Digest },
    #[error("the graph has a cycle through vertex {vertex}")]
    Cycle { vertex: Digest },
    #[error("output {index} ({platform}) has root {root}, which is not in the graph")]
    MissingRoot {
        index: usize,
        platform: String,
        root: Digest,
    },
    #[error("no vertex {digest} in the graph")]
    UnknownVertex { digest: Digest },
    #[error("graph JSON: {source}")]
    Json {
        #[from]
        source: serde_json::Error,
    },
}
