//! The build context as one content-addressed tar: the client walks the context with the
//! `.dockerignore` rules, writes the selected entries (in listing order, so the same tree
//! gives the same bytes) into a temporary file and names it by its sha256.

use anyhow::{Context, Result};
use sha2::{Digest as _, Sha256};
use slipway_fsutil::{walk_context, EntryKind, PatternMatcher, WalkOptions};
use slipway_graph::Digest;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A context tar written to disk.
#[derive(Debug)]
pub struct ContextTar {
    pub path: PathBuf,
    pub digest: Digest,
    pub size: u64,
    pub files: usize,
}

/// Writes the context at `dir` (minus `excludes`) as a tar in `out_dir`.
pub fn write_context_tar(dir: &Path, excludes: &[String], out_dir: &Path) -> Result<ContextTar> {
    let matcher =
        PatternMatcher::new(excludes).map_err(|e| anyhow::anyhow!(".dockerignore: {e}"))?;
    let walk = walk_context(
        dir,
        &WalkOptions {
            excludes: Some(&matcher),
            ..WalkOptions::default()
        },
    )
    .with_context(|| format!("reading the context {}", dir.display()))?;

    let path = out_dir.join(format!("context-{}.tar", std::process::id()));
    let file =
        std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    let mut hashing = HashingWriter {
        inner: std::io::BufWriter::with_capacity(1 << 20, file),
        hash: Sha256::new(),
        size: 0,
    };
    let mut files = 0;
    {
        let mut builder = tar::Builder::new(&mut hashing);
        builder.follow_symlinks(false);
        builder.mode(tar::HeaderMode::Complete);
        for entry in &walk.listing.entries {
            let src = dir.join(&entry.path);
            match entry.kind {
                EntryKind::File | EntryKind::Dir | EntryKind::Symlink => {
                    builder
                        .append_path_with_name(&src, &entry.path)
                        .with_context(|| format!("adding {} to the context", entry.path))?;
                    if entry.kind == EntryKind::File {
                        files += 1;
                    }
                }
                // Devices, fifos and sockets are not sent (BuildKit's fsutil skips them too).
                _ => {}
            }
        }
        builder.finish().context("finishing the context tar")?;
    }
    hashing.inner.flush().context("writing the context tar")?;
    let digest_hex = hex::encode(hashing.hash.finalize());
    let digest: Digest = format!("sha256:{digest_hex}")
        .parse()
        .map_err(|e| anyhow::anyhow!("context digest: {e}"))?;
    Ok(ContextTar {
        path,
        digest,
        size: hashing.size,
        files,
    })
}

struct HashingWriter<W> {
    inner: W,
    hash: Sha256,
    size: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignored_files_stay_out_and_same_tree_gives_same_digest() {
        let ctx = tempfile::tempdir().unwrap();
        std::fs::write(ctx.path().join("a.txt"), "a").unwrap();
        std::fs::create_dir(ctx.path().join("logs")).unwrap();
        std::fs::write(ctx.path().join("logs/x.log"), "x").unwrap();
        let out = tempfile::tempdir().unwrap();
        let t1 = write_context_tar(ctx.path(), &["logs".to_string()], out.path()).unwrap();
        let mut names = Vec::new();
        let mut ar = tar::Archive::new(std::fs::File::open(&t1.path).unwrap());
        for e in ar.entries().unwrap() {
            names.push(e.unwrap().path().unwrap().to_string_lossy().into_owned());
        }
        assert_eq!(names, vec!["a.txt".to_string()]);
        assert_eq!(t1.files, 1);
        let t2 = write_context_tar(ctx.path(), &["logs".to_string()], out.path()).unwrap();
        assert_eq!(t1.digest, t2.digest);
        std::fs::write(ctx.path().join("a.txt"), "b").unwrap();
        let t3 = write_context_tar(ctx.path(), &["logs".to_string()], out.path()).unwrap();
        assert_ne!(t1.digest, t3.digest);
    }
}
