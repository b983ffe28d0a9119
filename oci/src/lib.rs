//! OCI images, layers, registries and the local content store.
//!
//! Invariant: this crate knows registries, tars and blobs, nothing of builds, Dockerfiles or Raft.
