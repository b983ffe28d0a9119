//! Remote build contexts, fetched on the client and then read like a local directory (so farm
//! builds upload them as usual), as `docker build URL` does:
//! - a git URL (`https://host/repo.git#ref:subdir`, `git@host:repo.git`, `git://…`, or the
//!   `github.com/owner/repo` form when no such local path exists): checked out as the worker
//!   checks out `ADD <git ref>`;
//! - any other `http(s)://` URL: a tar archive (plain, gzip or zstd) unpacked with the same
//!   hostile-input checks as a farm context, or else a Dockerfile with an empty context.
//!
//! A relative `-f` names a file inside the fetched context, as with BuildKit.

use anyhow::{Context, Result};
use slipway_frontend::lower::git_ref::parse_git_ref;
use slipway_graph::GitSource;
use std::path::{Path, PathBuf};

/// A fetched remote context; the directory goes when this is dropped.
pub struct RemoteContext {
    _scratch: tempfile::TempDir,
    /// The context directory (the checkout or its subdir, the unpacked archive, or empty).
    pub dir: PathBuf,
    /// The Dockerfile, when the URL named one rather than an archive.
    pub dockerfile: Option<PathBuf>,
}

/// The remote context `context` names, checked out; `None` for a local directory or `-`.
pub fn fetch(context: &str, ssh_agent: Option<PathBuf>) -> Result<Option<RemoteContext>> {
    if context == "-" || Path::new(context).exists() {
        return Ok(None);
    }
    let git = parse_git_ref(context).with_context(|| format!("context {context}"))?;
    let Some(git) = git else {
        if context.starts_with("http://") || context.starts_with("https://") {
            return url_context(context).map(Some);
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
    let (dir, commit) = block_on(slipway_worker::source::git::checkout_into(
        &src,
        scratch.path(),
        ssh_agent,
    ))?
    .with_context(|| format!("context {context}"))?;
    tracing::info!(%commit, "git context checked out");
    Ok(Some(RemoteContext {
        _scratch: scratch,
        dir,
        dockerfile: None,
    }))
}

/// Runs `f` to completion on a runtime of its own (the build's runtime starts later).
fn block_on<T>(f: impl std::future::Future<Output = T>) -> Result<T> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(f))
}

/// What a downloaded URL context holds.
#[derive(Debug, PartialEq, Eq)]
enum UrlContent {
    Archive,
    Dockerfile,
}

/// Downloads `url`: an archive is unpacked into the context directory; anything else is the
/// Dockerfile of an empty context.
fn url_context(url: &str) -> Result<RemoteContext> {
    let scratch = tempfile::Builder::new()
        .prefix("slipway-url-context-")
        .tempdir()
        .context("creating a directory for the context")?;
    let download = scratch.path().join("download");
    block_on(slipway_worker::source::http::download(url, &download))?
        .with_context(|| format!("context {url}"))?;
    let dir = scratch.path().join("context");
    std::fs::create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let content = classify(&download).with_context(|| format!("context {url}"))?;
    let dockerfile = match content {
        UrlContent::Archive => {
            let file = std::fs::File::open(&download)?;
            let reader = slipway_oci::layer::decompress(std::io::BufReader::new(file))
                .with_context(|| format!("context {url}"))?;
            slipway_agent::unpack::unpack_reader(reader, &dir)
                .with_context(|| format!("context {url}: unpacking"))?;
            None
        }
        UrlContent::Dockerfile => Some(download),
    };
    Ok(RemoteContext {
        _scratch: scratch,
        dir,
        dockerfile,
    })
}

/// An archive (a tar, possibly gzip or zstd compressed) or a Dockerfile; bzip2 and xz
/// archives are refused.
fn classify(path: &Path) -> Result<UrlContent> {
    let mut head = Vec::with_capacity(6);
    std::io::Read::read_to_end(
        &mut std::io::Read::take(std::fs::File::open(path)?, 6),
        &mut head,
    )?;
    if head.starts_with(b"BZh") || head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        anyhow::bail!("a bzip2 or xz compressed context is not supported yet (gzip and zstd are)");
    }
    let reader = slipway_oci::layer::decompress(std::fs::File::open(path)?)?;
    let mut archive = tar::Archive::new(reader);
    let is_tar = archive
        .entries()
        .ok()
        .and_then(|mut e| e.next())
        .is_some_and(|first| first.is_ok());
    Ok(if is_tar {
        UrlContent::Archive
    } else {
        UrlContent::Dockerfile
    })
}

/// `-f` for a remote context: a relative path names a file in it; a URL that was a
/// Dockerfile is the Dockerfile.
pub fn dockerfile_in(remote: &RemoteContext, file: Option<&str>) -> Option<String> {
    if let Some(d) = &remote.dockerfile {
        return Some(d.to_string_lossy().into_owned());
    }
    match file {
        Some("-") => Some("-".to_string()),
        Some(f) if Path::new(f).is_relative() => {
            Some(remote.dir.join(f).to_string_lossy().into_owned())
        }
        other => other.map(str::to_string),
    }
}
