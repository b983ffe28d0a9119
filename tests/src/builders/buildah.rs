//! buildah 1.28 (`buildah bud --isolation chroot`) with private storage (vfs driver).

use super::BuildRequest;
use crate::process::{require_binary, run};
use anyhow::Result;
use std::path::Path;
use std::process::Command;
use tempfile::TempDir;

const BUILDAH: &str = "/usr/bin/buildah";

pub struct Buildah {
    dir: TempDir,
}

impl Buildah {
    pub fn new() -> Result<Self> {
        require_binary(BUILDAH, "buildah")?;
        let dir = tempfile::Builder::new()
            .prefix("sw-buildah")
            .tempdir_in("/tmp")?;
        let b = Buildah { dir };
        run(b.buildah().arg("version"))?;
        Ok(b)
    }

    fn buildah(&self) -> Command {
        let mut c = Command::new(BUILDAH);
        c.arg("--root")
            .arg(self.dir.path().join("root"))
            .arg("--runroot")
            .arg(self.dir.path().join("run"))
            .args(["--storage-driver", "vfs"])
            .env("BUILDAH_ISOLATION", "chroot");
        c
    }

    /// `buildah bud --isolation chroot --tls-verify=false ...` to `req.tag`.
    pub fn build(&self, req: &BuildRequest) -> Result<()> {
        run(self
            .buildah()
            .args([
                "bud",
                "--isolation",
                "chroot",
                "--tls-verify=false",
                "--layers=false",
            ])
            .args(req.common_flags())
            .arg(&req.context))
        .map(|_| ())
    }

    /// `buildah push --tls-verify=false TAG docker://TAG`.
    pub fn push(&self, tag: &str) -> Result<()> {
        run(self.buildah().args([
            "push",
            "-q",
            "--tls-verify=false",
            tag,
            &format!("docker://{tag}"),
        ]))
        .map(|_| ())
    }

    /// `buildah push TAG oci:LAYOUT:REF`.
    pub fn export(&self, tag: &str, layout: &Path, reference: &str) -> Result<()> {
        run(self.buildah().args([
            "push",
            "-q",
            tag,
            &format!("oci:{}:{reference}", layout.display()),
        ]))
        .map(|_| ())
    }
}

impl Drop for Buildah {
    fn drop(&mut self) {
        let _ = self.buildah().args(["rm", "--all"]).output();
        let _ = self.buildah().args(["rmi", "--all", "--force"]).output();
    }
}
