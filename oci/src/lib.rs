//! OCI images, layers, registries and the local content store.
//!
//! Invariant: this crate knows registries, tars and blobs, nothing of builds, Dockerfiles or Raft.

pub mod auth;
pub mod digest;
pub mod export;
pub mod image;
pub mod imagetools;
pub mod layer;
pub mod media;
pub mod platform;
pub mod registry;
pub mod store;

pub use digest::{Digest, DigestError};
pub use media::MediaTypes;
pub use store::{ContentStore, StoreError};
