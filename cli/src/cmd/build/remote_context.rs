//! Remote build contexts: a git URL (`https://host/repo.git#ref:subdir`, `git@host:repo.git`,
//! `git://…`, or the `github.com/owner/repo` form when no such local path exists) is checked
//! out on the client, as the worker checks out `ADD <git ref>`, and the build then reads
//! that directory like a local context (so farm builds upload it as usual). A relative `-f`
//! names a file inside the checkout, as with BuildKit. Remote tarball contexts are refused.

use anyhow::{Context, Result};
use slipway_frontend::lower::git_ref::parse_git_ref;
use slipway_graph::GitSource;
use std::path::{Path, PathBuf};

/// A checked-out remote context; the directory goes when this is dropped.
pub struct RemoteContext {
    _scratch: tempfile::TempDir,
    /// The context directory (the checkout, or its subdir).
    pub dir: PathBuf,
}

/// The remote context `context` names, checked out; `None` for a local directory or `-`.
pub fn fetch(context: &str, ssh_agent: Option<PathBuf>) -> Result<Option<RemoteContext>> {
    if context == "-" || Path::new(context).exists() {
        return Ok(None);
    }
    let git = parse_git_ref(context).with_context(|| format!("context {context}"))?;
    let Some(git) = git else {
        if context.starts_with("http://") || context.starts_with("https://") {
            anyhow::bail!(
                "context {context}: a remote tarball context is not supported yet; use a git URL or a local directory"
            );
        }
        return Ok(None);
    };
    let src = GitSource {
        remote: git.remote.clone(),
        reference: git.reference,
        checksum: git.checksum,
        subdir: git.subdir,
        keep_git_dir: git.keep_git_dir.unwrap_or(false),
        skip_submodules: git.submodules == Some(false),
        mtime_commit: git.mtime == "commit",
    };
    let scratch = tempfile::Builder::new()
        .prefix("slipway-git-context-")
        .tempdir()
        .context("creating a directory for the git context")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let (dir, commit) = runtime
        .block_on(slipway_worker::source::git::checkout_into(
            &src,
            scratch.path(),
            ssh_agent,
        ))
        .with_context(|| format!("context {context}"))?;
    tracing::info!(remote = %git.remote, %commit, "git context checked out");
    Ok(Some(RemoteContext {
        _scratch: scratch,
        dir,
    }))
}

/// `-f` for a remote context: a relative path names a file in the checkout.
pub fn dockerfile_in(remote: &RemoteContext, file: Option<&str>) -> Option<String> {
    match file {
        Some("-") => Some("-".to_string()),
        Some(f) if Path::new(f).is_relative() => {
            Some(remote.dir.join(f).to_string_lossy().into_owned())
        }
        other => other.map(str::to_string),
    }
}
