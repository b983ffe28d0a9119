//! SSH agent forwarding for one RUN step: a proxy socket with the step's owner and mode,
//! in a private temp dir, forwarding each connection to the client's agent socket (as
//! BuildKit does, so the agent's own socket keeps its permissions).

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tokio::net::{UnixListener, UnixStream};
use tokio::task::JoinHandle;

/// A running proxy; stopped and removed on drop.
#[derive(Debug)]
pub struct SshProxy {
    dir: PathBuf,
    socket: PathBuf,
    task: JoinHandle<()>,
}

impl SshProxy {
    /// Listens on a new socket under `tmp_root` owned by `uid:gid` with `mode`, forwarding
    /// to `agent`. Must be called inside a tokio runtime.
    pub fn start(
        tmp_root: &Path,
        agent: &Path,
        uid: u32,
        gid: u32,
        mode: u32,
    ) -> std::io::Result<SshProxy> {
        let md = std::fs::metadata(agent)?;
        if !md.file_type().is_socket() {
            return Err(std::io::Error::other(format!(
                "{} is not a socket",
                agent.display()
            )));
        }
        let dir = tmp_root.join(format!("ssh-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir(&dir)?;
        let cleanup = super::RemoveOnDrop(dir.clone());
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o711))?;
        let socket = dir.join("agent.sock");
        let listener = UnixListener::bind(&socket)?;
        std::os::unix::fs::chown(&socket, Some(uid), Some(gid))?;
        std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(mode & 0o777))?;
        let agent = agent.to_path_buf();
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let agent = agent.clone();
                tokio::spawn(async move {
                    match UnixStream::connect(&agent).await {
                        Ok(mut upstream) => {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                        }
                        Err(e) => {
                            tracing::warn!(agent = %agent.display(), error = %e, "connecting to the ssh agent");
                        }
                    }
                });
            }
        });
        std::mem::forget(cleanup);
        Ok(SshProxy { dir, socket, task })
    }

    /// The socket to bind-mount into the container.
    pub fn path(&self) -> &Path {
        &self.socket
    }
}

impl Drop for SshProxy {
    fn drop(&mut self) {
        self.task.abort();
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            tracing::warn!(dir = %self.dir.display(), error = %e, "removing an ssh proxy dir");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn forwards_to_the_agent_with_owner_and_mode() {
        let tmp = tempfile::tempdir().unwrap();
        let agent_path = tmp.path().join("agent");
        let agent = UnixListener::bind(&agent_path).unwrap();
        tokio::spawn(async move {
            let (mut s, _) = agent.accept().await.unwrap();
            let mut buf = [0u8; 4];
            s.read_exact(&mut buf).await.unwrap();
            s.write_all(&buf).await.unwrap();
        });
        let uid = nix::unistd::geteuid().as_raw();
        let gid = nix::unistd::getegid().as_raw();
        let proxy = SshProxy::start(tmp.path(), &agent_path, uid, gid, 0o600).unwrap();
        let md = std::fs::metadata(proxy.path()).unwrap();
        assert_eq!(md.mode() & 0o777, 0o600);
        let mut c = UnixStream::connect(proxy.path()).await.unwrap();
        c.write_all(b"ping").await.unwrap();
        let mut back = [0u8; 4];
        c.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"ping");
        let dir = proxy.path().parent().unwrap().to_path_buf();
        drop(proxy);
        assert!(!dir.exists());
        let not_socket = tmp.path().join("file");
        std::fs::write(&not_socket, "").unwrap();
        assert!(SshProxy::start(tmp.path(), &not_socket, uid, gid, 0o600).is_err());
    }
}
