//! The build context as a manifest: the client walks the context with the `.dockerignore`
//! rules and hashes every file (in parallel, skipping files whose size, mtime, ctime, inode
//! and device match the previous run's hash cache), then encodes the manifest's index and
//! pages. The hash cache lives under `$XDG_CACHE_HOME/slipway/context/` (or
//! `~/.cache/slipway/context/`), one file per context directory, so an unchanged context is
//! not read again.

use anyhow::{Context, Result};
use sha2::{Digest as _, Sha256};
use slipway_fsutil::context::{ContextManifest, EncodedManifest};
use slipway_fsutil::{walk_context, HashCache, HashStats, PatternMatcher, WalkOptions};
use std::path::{Path, PathBuf};

/// A walked and encoded context.
#[derive(Debug)]
pub struct PreparedContext {
    pub root: PathBuf,
    pub manifest: ContextManifest,
    pub encoded: EncodedManifest,
    /// Files hashed this time and taken from the cache.
    pub hashing: HashStats,
}

/// Walks `dir` (minus `excludes`) into a manifest. Blocking.
pub fn prepare_context(dir: &Path, excludes: &[String]) -> Result<PreparedContext> {
    let root = std::path::absolute(dir).with_context(|| format!("context {}", dir.display()))?;
    let matcher =
        PatternMatcher::new(excludes).map_err(|e| anyhow::anyhow!(".dockerignore: {e}"))?;
    let cache_file = hash_cache_file(&root);
    let previous = cache_file.as_deref().and_then(load_cache);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 16));
    let walk = walk_context(
        &root,
        &WalkOptions {
            excludes: Some(&matcher),
            previous: previous.as_ref(),
            threads,
        },
    )
    .with_context(|| format!("reading the context {}", root.display()))?;
    if let Some(path) = &cache_file {
        if let Err(e) = save_cache(path, &walk.cache) {
            tracing::warn!(path = %path.display(), error = %format!("{e:#}"), "keeping the context hash cache");
        }
    }
    let manifest = ContextManifest::from_listing(&root, &walk.listing)
        .with_context(|| format!("describing the context {}", root.display()))?;
    let encoded = manifest.encode().context("encoding the context manifest")?;
    Ok(PreparedContext {
        root,
        manifest,
        encoded,
        hashing: walk.stats,
    })
}

/// `<cache>/slipway/context/<sha256 of the absolute context path>.json`; `None` when there
/// is no cache directory (no `$XDG_CACHE_HOME` and no `$HOME`).
fn hash_cache_file(root: &Path) -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".cache"))
        })?;
    let key = hex::encode(Sha256::digest(root.as_os_str().as_encoded_bytes()));
    Some(
        base.join("slipway")
            .join("context")
            .join(format!("{key}.json")),
    )
}

/// The previous run's cache; a missing or unreadable one is no cache.
fn load_cache(path: &Path) -> Option<HashCache> {
    let bytes = std::fs::read(path).ok()?;
    match serde_json::from_slice(&bytes) {
        Ok(cache) => Some(cache),
        Err(e) => {
            tracing::debug!(path = %path.display(), error = %e, "ignoring an unreadable context hash cache");
            None
        }
    }
}

/// Writes the cache atomically (temporary file, then rename).
fn save_cache(path: &Path, cache: &HashCache) -> Result<()> {
    let dir = path.parent().context("cache path has no parent")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a file in {}", dir.display()))?;
    serde_json::to_writer(std::io::BufWriter::new(tmp.as_file_mut()), cache)
        .context("writing the context hash cache")?;
    tmp.persist(path)
        .with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use slipway_fsutil::context::{parse_index, parse_page};

    /// Both tests change the process environment; one at a time.
    static ENV: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn ignored_files_stay_out_and_the_cache_skips_unchanged_files() {
        let _env = ENV.lock().unwrap_or_else(|p| p.into_inner());
        let cache = tempfile::tempdir().unwrap();
        std::env::set_var("XDG_CACHE_HOME", cache.path());
        let ctx = tempfile::tempdir().unwrap();
        std::fs::write(ctx.path().join("a.txt"), "a").unwrap();
        std::fs::write(ctx.path().join("b.txt"), "b").unwrap();
        std::fs::create_dir(ctx.path().join("logs")).unwrap();
        std::fs::write(ctx.path().join("logs/x.log"), "x").unwrap();
        let excludes = ["logs".to_string()];

        let first = prepare_context(ctx.path(), &excludes).unwrap();
        let paths: Vec<&str> = first
            .manifest
            .entries()
            .iter()
            .map(|e| e.path.as_str())
            .collect();
        assert_eq!(paths, ["a.txt", "b.txt"]);
        assert_eq!(first.hashing.hashed, 2);
        let refs = parse_index(&first.encoded.index.bytes).unwrap();
        let page = parse_page(&first.encoded.pages[0].bytes, &refs[0]).unwrap();
        assert_eq!(page.len(), 2);

        // a second run reads nothing unchanged; the same tree gives the same manifest
        let second = prepare_context(ctx.path(), &excludes).unwrap();
        assert_eq!(second.hashing.hashed, 0);
        assert_eq!(second.hashing.reused, 2);
        assert_eq!(second.encoded.index.digest, first.encoded.index.digest);

        std::fs::write(ctx.path().join("a.txt"), "changed").unwrap();
        let third = prepare_context(ctx.path(), &excludes).unwrap();
        assert_eq!(third.hashing.hashed, 1);
        assert_ne!(third.encoded.index.digest, first.encoded.index.digest);
        std::env::remove_var("XDG_CACHE_HOME");
    }

    #[test]
    fn cache_files_are_per_context_directory() {
        let _env = ENV.lock().unwrap_or_else(|p| p.into_inner());
        std::env::set_var("XDG_CACHE_HOME", "/c");
        let a = hash_cache_file(Path::new("/x/a")).unwrap();
        let b = hash_cache_file(Path::new("/x/b")).unwrap();
        assert!(a.starts_with("/c/slipway/context"));
        assert_ne!(a, b);
        std::env::remove_var("XDG_CACHE_HOME");
    }
}
