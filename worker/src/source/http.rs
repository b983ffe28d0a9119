//! HTTP(S) sources (`ADD https://…`): the file downloaded into a one-file layer named
//! `filename` (mode 0600, as BuildKit). With an expected checksum the result is known
//! before downloading, so a snapshot of it is a cache hit without any request; otherwise
//! the content digest keys the result.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::time::Instant;

use sha2::{Digest as _, Sha256};
use slipway_graph::{Digest, HttpSource, Vertex};
use slipway_progress::VertexStatus;

use crate::cache::{CacheKey, KeyBuilder};
use crate::mounts::RemoveOnDrop;
use crate::solver::{blocking, Ctx, Done, VertexError};

fn key_for(src: &HttpSource, content: &str) -> CacheKey {
    KeyBuilder::new("http")
        .part("url", &src.url)
        .part("filename", &src.filename)
        .part("content", content)
        .finish()
}

pub(crate) async fn solve(
    ctx: &Ctx,
    digest: &Digest,
    vertex: &Vertex,
    src: &HttpSource,
) -> Result<Done, VertexError> {
    let name = &src.filename;
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(VertexError::Http {
            url: src.url.clone(),
            reason: format!("invalid file name {name:?}"),
        });
    }
    if let Some(sum) = &src.checksum {
        if let Some(done) = super::cached(ctx, digest, vertex, &key_for(src, sum.as_str())).await? {
            return Ok(done);
        }
    }
    ctx.progress
        .vertex(digest, vertex, VertexStatus::Started)
        .await;
    let started = Instant::now();
    let tmp = ctx
        .inner
        .data_dir
        .join("tmp")
        .join(format!("http-{}", uuid::Uuid::new_v4()));
    let _guard = RemoveOnDrop(tmp.clone());
    let content = tokio::select! {
        r = download(&src.url, &tmp) => r?,
        _ = ctx.cancel.cancelled() => return Err(VertexError::Cancelled),
    };
    if let Some(expected) = &src.checksum {
        if expected.as_str() != content {
            return Err(VertexError::ChecksumMismatch {
                url: src.url.clone(),
                expected: expected.to_string(),
                actual: content,
            });
        }
    }
    let key = key_for(src, &content);
    let chain = super::chain_for_key(&key)?;
    if !ctx.inner.snapshotter.contains(&chain) {
        let snapshotter = ctx.inner.snapshotter.clone();
        let (target, file, name) = (chain.clone(), tmp.clone(), name.clone());
        blocking(move || {
            let prepared = snapshotter.prepare_layer_dir(&target, None)?;
            let dest = prepared.path().join(&name);
            std::fs::rename(&file, &dest).map_err(VertexError::io("moving download to", &dest))?;
            std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o600))
                .map_err(VertexError::io("setting mode of", &dest))?;
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

/// Streams `url` into `path`; returns the content's `sha256:` digest.
pub async fn download(url: &str, path: &std::path::Path) -> Result<String, VertexError> {
    let err = |reason: String| VertexError::Http {
        url: url.to_string(),
        reason,
    };
    let client = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|e| err(e.to_string()))?;
    let mut resp = client
        .get(url)
        .send()
        .await
        .map_err(|e| err(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(err(format!("server answered {}", resp.status())));
    }
    let mut file = std::fs::File::create(path).map_err(VertexError::io("creating", path))?;
    let mut hash = Sha256::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| err(e.to_string()))? {
        hash.update(&chunk);
        file.write_all(&chunk)
            .map_err(VertexError::io("writing", path))?;
    }
    file.sync_all().map_err(VertexError::io("syncing", path))?;
    Ok(format!("sha256:{}", hex::encode(hash.finalize())))
}
