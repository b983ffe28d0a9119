//! Git sources (`ADD https://host/repo.git#ref:dir`): the reference is resolved to a commit
//! with `git ls-remote` (a full commit id needs no request), and the result is keyed by
//! the remote, the commit and the options, so a checkout already in a snapshot is a cache
//! hit without fetching. Otherwise the commit is fetched shallowly (the whole history only
//! when the remote refuses a fetch by id, or for an abbreviated commit), checked out with
//! its submodules, and the checkout (or its `subdir`) becomes the snapshot, without `.git`
//! unless asked for. Files are root's, with checkout-time modification times (BuildKit's
//! default `mtime=checkout`).
//!
//! git runs with no prompt, no system config, a throwaway `HOME`, and only the network
//! protocols a Dockerfile may name (`GIT_ALLOW_PROTOCOL`); ssh remotes use the request's
//! `default` ssh agent when there is one.

use std::path::{Component, Path, PathBuf};
use std::time::Instant;

use slipway_graph::{Digest, GitSource, Vertex};
use slipway_progress::VertexStatus;
use tokio::process::Command;

use crate::cache::{CacheKey, KeyBuilder};
use crate::mounts::RemoveOnDrop;
use crate::solver::{blocking, Ctx, Done, VertexError};
use crate::SshSource;

/// The protocols git may use (`GIT_ALLOW_PROTOCOL`): never `file` or `ext`.
const ALLOWED_PROTOCOLS: &str = "https:http:git:ssh";

fn key_for(src: &GitSource, commit: &str) -> CacheKey {
    let mut key = KeyBuilder::new("git");
    if src.mtime_commit {
        key.part("mtime", "commit");
    }
    key.part("remote", &src.remote)
        .part("commit", commit)
        .part(
            "subdir",
            &clean_subdir(&src.subdir)
                .unwrap_or_default()
                .to_string_lossy(),
        )
        .part("keep_git_dir", if src.keep_git_dir { "1" } else { "0" })
        .part("submodules", if src.skip_submodules { "0" } else { "1" })
        .finish()
}

/// An error about `src`; a password in its URL never reaches the message (nor does it
/// where git's own output repeats the URL).
fn git_err(src: &GitSource, reason: impl Into<String>) -> VertexError {
    let reason = reason.into();
    let (remote, reason) = match url_password(&src.remote) {
        Some(password) => (
            src.remote.replacen(password, "xxxxx", 1),
            reason.replace(password, "xxxxx"),
        ),
        None => (src.remote.clone(), reason),
    };
    VertexError::Git { remote, reason }
}

/// The password of a `scheme://user:password@host/...` URL.
fn url_password(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split('/').next()?;
    let (userinfo, _) = authority.rsplit_once('@')?;
    let (_, password) = userinfo.split_once(':')?;
    (!password.is_empty()).then_some(password)
}

pub(crate) async fn solve(
    ctx: &Ctx,
    digest: &Digest,
    vertex: &Vertex,
    src: &GitSource,
) -> Result<Done, VertexError> {
    let subdir = subdir_of(src)?;
    let scratch = ctx
        .inner
        .data_dir
        .join("tmp")
        .join(format!("git-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(scratch.join("home")).map_err(VertexError::io("creating", &scratch))?;
    let _guard = RemoveOnDrop(scratch.clone());
    let git = Git {
        src,
        home: scratch.join("home"),
        ssh_agent: ctx
            .req
            .ssh
            .get("default")
            .map(|SshSource::AgentSocket(p)| p.clone()),
    };
    let commit = tokio::select! {
        r = git.resolve() => r?,
        _ = ctx.cancel.cancelled() => return Err(VertexError::Cancelled),
    };
    let key = key_for(src, &commit);
    if let Some(done) = super::cached(ctx, digest, vertex, &key).await? {
        return Ok(done);
    }
    let chain = super::chain_for_key(&key)?;
    ctx.progress
        .vertex(digest, vertex, VertexStatus::Started)
        .await;
    let started = Instant::now();
    let checkout = scratch.join("checkout");
    let commit_time = tokio::select! {
        r = git.checkout_with_time(&checkout, &commit) => r?.1,
        _ = ctx.cancel.cancelled() => return Err(VertexError::Cancelled),
    };
    if !ctx.inner.snapshotter.contains(&chain) {
        let snapshotter = ctx.inner.snapshotter.clone();
        let target = chain.clone();
        let (src, keep) = (src.clone(), src.keep_git_dir);
        blocking(move || {
            let root = result_root(&src, &checkout, &subdir)?;
            let prepared = snapshotter.prepare_layer_dir(&target, None)?;
            for entry in std::fs::read_dir(&root).map_err(VertexError::io("reading", &root))? {
                let entry = entry.map_err(VertexError::io("reading", &root))?;
                let name = entry.file_name();
                if name == ".git" && !(keep && subdir.as_os_str().is_empty()) {
                    continue;
                }
                let dest = prepared.path().join(&name);
                std::fs::rename(entry.path(), &dest)
                    .map_err(VertexError::io("moving the checkout to", &dest))?;
            }
            if let Some(t) = commit_time {
                set_mtimes(prepared.path(), t)?;
            }
            snapshotter.commit(prepared)?;
            Ok(())
        })
        .await?;
    }
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    ctx.progress
        .vertex(digest, vertex, VertexStatus::Done { duration_ms })
        .await;
    Ok(super::done(chain, key))
}

/// Checks `src` out into `scratch/checkout` outside any solve (a git build context on the
/// client): the same resolution, fetch and checkout as a solve, `.git` removed unless
/// `keep_git_dir`. Returns the directory holding the result (the checkout or its subdir)
/// and the commit.
pub async fn checkout_into(
    src: &GitSource,
    scratch: &Path,
    ssh_agent: Option<PathBuf>,
) -> Result<(PathBuf, String), VertexError> {
    let subdir = subdir_of(src)?;
    let home = scratch.join("home");
    std::fs::create_dir_all(&home).map_err(VertexError::io("creating", &home))?;
    let git = Git {
        src,
        home,
        ssh_agent,
    };
    let commit = git.resolve().await?;
    let checkout = scratch.join("checkout");
    let (commit, commit_time) = git.checkout_with_time(&checkout, &commit).await?;
    if !src.keep_git_dir {
        let dot_git = checkout.join(".git");
        std::fs::remove_dir_all(&dot_git).map_err(VertexError::io("removing", &dot_git))?;
    }
    if let Some(t) = commit_time {
        set_mtimes(&checkout, t)?;
    }
    Ok((result_root(src, &checkout, &subdir)?, commit))
}

/// Sets the modification (and access) time of everything under `root`, `root` included, to
/// `secs`; symlinks themselves, never their targets.
fn set_mtimes(root: &Path, secs: i64) -> Result<(), VertexError> {
    use nix::sys::stat::{utimensat, UtimensatFlags};
    use nix::sys::time::TimeSpec;
    let t = TimeSpec::new(secs, 0);
    // Children before their directories, so setting a child does not touch a parent later.
    for entry in walkdir::WalkDir::new(root).contents_first(true) {
        let entry = entry.map_err(|e| VertexError::Io {
            op: "walking",
            path: root.to_path_buf(),
            source: e.into(),
        })?;
        utimensat(
            nix::fcntl::AT_FDCWD,
            entry.path(),
            &t,
            &t,
            UtimensatFlags::NoFollowSymlink,
        )
        .map_err(|e| VertexError::Io {
            op: "setting the times of",
            path: entry.path().to_path_buf(),
            source: e.into(),
        })?;
    }
    Ok(())
}

/// The source's subdir, cleaned; an error when it would leave the repository.
fn subdir_of(src: &GitSource) -> Result<PathBuf, VertexError> {
    clean_subdir(&src.subdir).ok_or_else(|| {
        git_err(
            src,
            format!("subdir {:?} leaves the repository", src.subdir),
        )
    })
}

/// The directory of `checkout` that is the result: the checkout or its `subdir`, which
/// must be a directory.
fn result_root(src: &GitSource, checkout: &Path, subdir: &Path) -> Result<PathBuf, VertexError> {
    let root = checkout.join(subdir);
    if !std::fs::symlink_metadata(&root).is_ok_and(|m| m.is_dir()) {
        return Err(git_err(
            src,
            format!("subdir {:?} is not a directory of the checkout", src.subdir),
        ));
    }
    Ok(root)
}

/// `subdir` as a relative path inside the checkout (`""` for the root); `None` when it
/// would leave it.
fn clean_subdir(subdir: &str) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in Path::new(subdir).components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The commit `reference` names in `git ls-remote` output (`<id>\t<ref>` lines), with git's
/// precedence (`refs/<r>`, `refs/tags/<r>`, `refs/heads/<r>`); a peeled annotated tag
/// (`^{}`) names the commit, not the tag object.
pub(crate) fn pick_ref(ls_remote: &str, reference: &str) -> Option<String> {
    let wanted = if reference.is_empty() {
        "HEAD"
    } else {
        reference
    };
    let candidates = [
        wanted.to_string(),
        format!("refs/{wanted}"),
        format!("refs/tags/{wanted}"),
        format!("refs/heads/{wanted}"),
    ];
    let lines: Vec<(&str, &str)> = ls_remote
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(id, name)| (id.trim(), name.trim()))
        .collect();
    for name in &candidates {
        let peeled = format!("{name}^{{}}");
        if let Some((id, _)) = lines.iter().find(|(_, n)| *n == peeled) {
            return Some(id.to_string());
        }
        if let Some((id, _)) = lines.iter().find(|(_, n)| n == name) {
            return Some(id.to_string());
        }
    }
    None
}

/// One git source's commands.
struct Git<'a> {
    src: &'a GitSource,
    home: PathBuf,
    ssh_agent: Option<PathBuf>,
}

impl Git<'_> {
    fn command(&self, dir: Option<&Path>) -> Command {
        let mut c = Command::new("git");
        if let Some(d) = dir {
            c.arg("-C").arg(d);
        }
        c.env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_ALLOW_PROTOCOL", ALLOWED_PROTOCOLS)
            .env("HOME", &self.home)
            .env(
                "GIT_SSH_COMMAND",
                "ssh -F /dev/null -o StrictHostKeyChecking=no -o BatchMode=yes",
            )
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .kill_on_drop(true);
        match &self.ssh_agent {
            Some(sock) => c.env("SSH_AUTH_SOCK", sock),
            None => c.env_remove("SSH_AUTH_SOCK"),
        };
        c
    }

    /// Runs git with `args`; its stdout, or an error carrying what it printed.
    async fn run(&self, dir: Option<&Path>, args: &[&str]) -> Result<String, VertexError> {
        let out = self
            .command(dir)
            .args(args)
            .output()
            .await
            .map_err(|e| git_err(self.src, format!("running git: {e}")))?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            return Err(git_err(
                self.src,
                format!(
                    "git {} failed ({}): {}",
                    args.first().copied().unwrap_or_default(),
                    out.status,
                    stderr.trim()
                ),
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The commit the source names: a full commit id as it is, else from `ls-remote`;
    /// an abbreviated commit id is resolved after fetching. The checksum is checked.
    async fn resolve(&self) -> Result<String, VertexError> {
        let r = &self.src.reference;
        let commit = if r.len() == 40 && is_hex(r) {
            r.to_ascii_lowercase()
        } else {
            let listed = self.run(None, &["ls-remote", &self.src.remote]).await?;
            match pick_ref(&listed, r) {
                Some(c) => c,
                None if r.len() >= 4 && is_hex(r) => String::new(),
                None => {
                    return Err(git_err(
                        self.src,
                        format!("no branch or tag {r:?} in the repository"),
                    ))
                }
            }
        };
        if commit.is_empty() {
            // An abbreviated commit: known only after fetching the history.
            return Ok(format!("abbrev:{}", r.to_ascii_lowercase()));
        }
        self.check_checksum(&commit)?;
        Ok(commit)
    }

    fn check_checksum(&self, commit: &str) -> Result<(), VertexError> {
        let want = self.src.checksum.to_ascii_lowercase();
        if !want.is_empty() && !commit.starts_with(&want) {
            return Err(git_err(
                self.src,
                format!(
                    "{:?} resolved to commit {commit}, which does not match the expected checksum {want}",
                    self.src.reference
                ),
            ));
        }
        Ok(())
    }

    /// Fetches `commit` into a new repository at `dir` and checks it out; the full commit id
    /// checked out.
    async fn checkout(&self, dir: &Path, commit: &str) -> Result<String, VertexError> {
        let d = dir.to_string_lossy().to_string();
        self.run(None, &["init", "-q", &d]).await?;
        self.run(Some(dir), &["remote", "add", "origin", &self.src.remote])
            .await?;
        let target = match commit.strip_prefix("abbrev:") {
            None => {
                let shallow = self
                    .run(
                        Some(dir),
                        &["fetch", "-q", "--depth=1", "--no-tags", "origin", commit],
                    )
                    .await;
                if shallow.is_err() {
                    // Remotes that refuse a fetch by id: the whole history.
                    self.fetch_all(dir).await?;
                }
                commit.to_string()
            }
            Some(prefix) => {
                self.fetch_all(dir).await?;
                let full = self
                    .run(
                        Some(dir),
                        &[
                            "rev-parse",
                            "--verify",
                            "-q",
                            &format!("{prefix}^{{commit}}"),
                        ],
                    )
                    .await
                    .map_err(|_| {
                        git_err(
                            self.src,
                            format!("no branch, tag or commit {prefix:?} in the repository"),
                        )
                    })?;
                let full = full.trim().to_string();
                self.check_checksum(&full)?;
                full
            }
        };
        self.run(Some(dir), &["checkout", "-q", "--detach", &target])
            .await?;
        if !self.src.skip_submodules && dir.join(".gitmodules").exists() {
            self.run(
                Some(dir),
                &[
                    "submodule",
                    "update",
                    "-q",
                    "--init",
                    "--recursive",
                    "--depth=1",
                ],
            )
            .await?;
        }
        Ok(target)
    }

    /// [`Git::checkout`], then the commit's committer time when the source asks for commit
    /// mtimes.
    async fn checkout_with_time(
        &self,
        dir: &Path,
        commit: &str,
    ) -> Result<(String, Option<i64>), VertexError> {
        let commit = self.checkout(dir, commit).await?;
        if !self.src.mtime_commit {
            return Ok((commit, None));
        }
        let out = self
            .run(Some(dir), &["log", "-1", "--format=%ct", &commit])
            .await?;
        let secs = out.trim().parse::<i64>().map_err(|_| {
            git_err(
                self.src,
                format!("commit time of {commit}: {:?} is not a number", out.trim()),
            )
        })?;
        Ok((commit, Some(secs)))
    }

    async fn fetch_all(&self, dir: &Path) -> Result<(), VertexError> {
        self.run(
            Some(dir),
            &[
                "fetch",
                "-q",
                "--tags",
                "origin",
                "+refs/heads/*:refs/remotes/origin/*",
            ],
        )
        .await
        .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LS: &str = "1111111111111111111111111111111111111111\tHEAD\n\
        2222222222222222222222222222222222222222\trefs/heads/main\n\
        3333333333333333333333333333333333333333\trefs/heads/v1\n\
        4444444444444444444444444444444444444444\trefs/tags/v1\n\
        5555555555555555555555555555555555555555\trefs/tags/v1^{}\n\
        6666666666666666666666666666666666666666\trefs/tags/light\n\
        7777777777777777777777777777777777777777\trefs/pull/42/head\n";

    #[test]
    fn refs_resolve_with_gits_precedence() {
        let c = |r: &str| pick_ref(LS, r).map(|id| id[..1].to_string());
        assert_eq!(c("").as_deref(), Some("1"), "no ref: HEAD");
        assert_eq!(c("main").as_deref(), Some("2"));
        assert_eq!(
            c("v1").as_deref(),
            Some("5"),
            "the tag wins over the branch, peeled to its commit"
        );
        assert_eq!(c("refs/heads/v1").as_deref(), Some("3"));
        assert_eq!(c("light").as_deref(), Some("6"));
        assert_eq!(c("pull/42/head").as_deref(), Some("7"));
        assert_eq!(c("nope"), None);
    }

    #[test]
    fn passwords_in_urls_never_reach_errors() {
        let src = GitSource {
            remote: "https://bob:hunter2@example.com/r.git".into(),
            ..GitSource::default()
        };
        let e = git_err(
            &src,
            "fatal: unable to access 'https://bob:hunter2@example.com/r.git/': 403",
        )
        .to_string();
        assert!(!e.contains("hunter2"), "{e}");
        assert!(e.contains("https://bob:xxxxx@example.com/r.git"), "{e}");
        assert_eq!(url_password("git@github.com:o/r.git"), None);
        assert_eq!(url_password("https://token@example.com/r.git"), None);
        assert_eq!(url_password("https://a:b@h/r.git"), Some("b"));
    }

    #[test]
    fn subdirs_stay_inside_the_checkout() {
        assert_eq!(clean_subdir(""), Some(PathBuf::new()));
        assert_eq!(clean_subdir("/a/./b/"), Some(PathBuf::from("a/b")));
        assert_eq!(clean_subdir("a/../b"), Some(PathBuf::from("b")));
        assert_eq!(clean_subdir("../x"), None);
        assert_eq!(clean_subdir("a/../../x"), None);
    }

    #[test]
    fn the_key_follows_commit_and_options() {
        let src = GitSource {
            remote: "https://example.com/r.git".into(),
            ..GitSource::default()
        };
        let base = key_for(&src, "a");
        assert_eq!(base, key_for(&src, "a"));
        assert_ne!(base, key_for(&src, "b"));
        let keep = GitSource {
            keep_git_dir: true,
            ..src.clone()
        };
        assert_ne!(base, key_for(&keep, "a"));
        let sub = GitSource {
            subdir: "docs".into(),
            ..src.clone()
        };
        assert_ne!(base, key_for(&sub, "a"));
        // The reference itself is not part of the key: two names of one commit share it.
        let named = GitSource {
            reference: "main".into(),
            ..src
        };
        assert_eq!(base, key_for(&named, "a"));
    }
}
