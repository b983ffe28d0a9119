//! Harness for slipway's end-to-end and differential tests. It drives binaries only: a
//! `docker-registry` on a free loopback port, the `slipway` binary, and the peer builders
//! (dockerd 20.10 with BuildKit, buildah 1.28), then compares what they produced.

pub mod builders;
pub mod case;
pub mod cluster;
pub mod compare;
pub mod exclusions;
pub mod git;
pub mod image;
pub mod process;
pub mod registry;
pub mod seed;
pub mod sshagent;
pub mod tree;

use std::path::PathBuf;

/// The workspace root (the directory holding the root Cargo.toml).
pub fn workspace_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(PathBuf::from).unwrap_or(here)
}

/// The cargo target directory the workspace builds into.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                workspace_root().join(dir)
            }
        }
        None => workspace_root().join("target"),
    }
}
