//! Git repositories served by a local `git daemon` (the `git://` protocol on a loopback
//! port), for the tests of git sources.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// `git daemon` serving the repositories under `root` on a loopback port.
pub struct GitServer {
    child: Child,
    addr: SocketAddr,
    root: PathBuf,
}

impl Drop for GitServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `git -C dir ARGS` (as a fixed author); its trimmed stdout. Panics on failure.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl GitServer {
    /// Starts the daemon on a free loopback port, serving `root` (created).
    pub fn start(root: &Path) -> GitServer {
        std::fs::create_dir_all(root).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // git-daemon itself (not `git daemon`, whose child would outlive a kill).
        let exec_path = Command::new("git").arg("--exec-path").output().unwrap();
        let exec_path = String::from_utf8_lossy(&exec_path.stdout)
            .trim()
            .to_string();
        let child = Command::new(Path::new(&exec_path).join("git-daemon"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .args([
                "--reuseaddr",
                "--export-all",
                "--listen=127.0.0.1",
                &format!("--port={port}"),
            ])
            .arg(format!("--base-path={}", root.display()))
            .arg(root)
            .spawn()
            .unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut child = child;
        while TcpStream::connect(addr).is_err() {
            assert!(
                child.try_wait().unwrap().is_none(),
                "git daemon exited at start"
            );
            assert!(Instant::now() < deadline, "git daemon did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        GitServer {
            child,
            addr,
            root: root.to_path_buf(),
        }
    }

    /// A work tree `name` whose commits the daemon serves as `git://addr/name`.
    pub fn repo(&self, name: &str) -> (PathBuf, String) {
        let dir = self.root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        git(&dir, &["init", "-q", "-b", "main"]);
        (dir, format!("git://{}/{name}", self.addr))
    }
}

/// Writes `files` (path, content) into the work tree `dir` and commits them; the commit id.
pub fn commit(dir: &Path, files: &[(&str, &str)], message: &str) -> String {
    for (path, content) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "--allow-empty", "-m", message]);
    git(dir, &["rev-parse", "HEAD"])
}
