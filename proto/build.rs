//! Generates the `slipway.v1` messages and the Control, WorkerApi and Raft services with
//! tonic-prost-build. Needs `protoc`: `$PROTOC` when set, else `/usr/bin/protoc` (Debian's
//! protobuf-compiler, installed by scripts/setup.sh), else `protoc` on `PATH`.

use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "proto/slipway/v1/common.proto",
    "proto/slipway/v1/control.proto",
    "proto/slipway/v1/worker.proto",
    "proto/slipway/v1/raft.proto",
];

fn protoc() -> PathBuf {
    if let Some(p) = std::env::var_os("PROTOC") {
        return PathBuf::from(p);
    }
    let system = PathBuf::from("/usr/bin/protoc");
    if system.exists() {
        system
    } else {
        PathBuf::from("protoc")
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-env-changed=PROTOC");
    // Each file, not only the include dir: editing a file in place leaves the dir's mtime
    // alone, and the generated code would go stale.
    for p in PROTOS {
        println!("cargo:rerun-if-changed={p}");
    }
    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc());
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // Labels and build args are BTreeMaps in slipway-farm.
        .btree_map(".")
        .compile_with_config(config, PROTOS, &["proto"])?;
    Ok(())
}
