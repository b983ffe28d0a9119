//! An `ssh-agent` on a private socket, for `RUN --mount=type=ssh`.

use crate::process::run_stdout;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use tempfile::TempDir;

/// A running agent; killed on drop.
pub struct SshAgent {
    pid: i32,
    socket: PathBuf,
    _dir: TempDir,
}

impl SshAgent {
    pub fn start() -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("slipway-e2e-ssh")
            .tempdir()?;
        let socket = dir.path().join("agent.sock");
        let out = run_stdout(Command::new("ssh-agent").arg("-s").arg("-a").arg(&socket)).context(
            "ssh-agent is needed for the ssh mount case (apt-get install openssh-client)",
        )?;
        // Output: `SSH_AUTH_SOCK=...; export SSH_AUTH_SOCK;\nSSH_AGENT_PID=123; export SSH_AGENT_PID;`
        let pid = out
            .split(';')
            .find_map(|part| part.trim().strip_prefix("SSH_AGENT_PID="))
            .and_then(|p| p.trim().parse::<i32>().ok());
        let Some(pid) = pid else {
            bail!("could not read SSH_AGENT_PID from ssh-agent output: {out}");
        };
        Ok(SshAgent {
            pid,
            socket,
            _dir: dir,
        })
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }
}

impl Drop for SshAgent {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.pid.to_string()).status();
    }
}
