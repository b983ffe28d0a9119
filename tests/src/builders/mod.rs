//! The builders a test drives: slipway itself and the peers. Each builds a Dockerfile to a tag
//! and exports the result as an OCI image layout (`<layout>:<ref>`), where `image` unpacks it.

pub mod buildah;
pub mod dockerd;
pub mod slipway;

use std::path::PathBuf;

/// One `build` invocation, in builder-neutral terms.
#[derive(Clone, Debug, Default)]
pub struct BuildRequest {
    pub context: PathBuf,
    pub dockerfile: PathBuf,
    pub tag: String,
    pub build_args: Vec<(String, String)>,
    /// (id, source file)
    pub secrets: Vec<(String, PathBuf)>,
    /// ssh-agent socket forwarded as `default`.
    pub ssh_socket: Option<PathBuf>,
    pub target: Option<String>,
    /// `--platform` value (comma-separated list); none builds for the host.
    pub platform: Option<String>,
    /// Extra flags appended as given (builder-specific).
    pub extra: Vec<String>,
}

impl BuildRequest {
    /// The flags every docker-compatible CLI understands the same way.
    pub fn common_flags(&self) -> Vec<String> {
        let mut f = vec!["-f".to_string(), self.dockerfile.display().to_string()];
        for (k, v) in &self.build_args {
            f.push("--build-arg".into());
            f.push(format!("{k}={v}"));
        }
        for (id, src) in &self.secrets {
            f.push("--secret".into());
            f.push(format!("id={id},src={}", src.display()));
        }
        if let Some(sock) = &self.ssh_socket {
            f.push("--ssh".into());
            f.push(format!("default={}", sock.display()));
        }
        if let Some(t) = &self.target {
            f.push("--target".into());
            f.push(t.clone());
        }
        if let Some(p) = &self.platform {
            f.push("--platform".into());
            f.push(p.clone());
        }
        f.push("-t".into());
        f.push(self.tag.clone());
        f.extend(self.extra.iter().cloned());
        f
    }
}
