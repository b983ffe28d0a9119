//! Pushing: blobs from disk (HEAD skip, cross-repository mount, streamed upload), then child
//! manifests by digest, then the root (index or manifest) by digest and under each tag.
//!
//! Streaming: uploads go through oci-client's `push_blob_stream`, which takes a byte stream
//! (a single streamed `PUT` with `Content-Length` in monolithic mode, one `PATCH` per stream item
//! in chunked mode). We feed it the file in fixed-size pieces (`stream::file_chunks`), so no
//! layer is ever held in memory and no reqwest code of our own is needed for uploads. A retry
//! reopens the file and starts the upload session over. Measured: < 40 MiB peak RSS pushing a
//! 1 GiB layer (BENCHMARKS.md).

use super::client::{RegistryClient, UploadMode};
use super::error::RegistryError;
use super::manifest::{sha256_digest, Descriptor};
use super::pull::blob_name;
use super::retry::retry;
use super::stream::file_chunks;
use super::Reference;
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use std::path::PathBuf;

/// oci-client splits chunked uploads into PATCHes of at most this many bytes.
pub(crate) const CHUNK_BYTES: usize = 4 * 1024 * 1024;
/// Read size for monolithic (single streamed PUT) uploads.
const MONOLITHIC_READ_BYTES: usize = 1024 * 1024;

/// A blob on local disk and the descriptor it must match.
#[derive(Debug, Clone)]
pub struct LocalBlob {
    pub descriptor: Descriptor,
    pub path: PathBuf,
}

/// A manifest or index exactly as it will be stored (its digest is over these bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawManifest {
    pub media_type: String,
    pub bytes: Bytes,
}

impl RawManifest {
    pub fn new(media_type: &str, bytes: impl Into<Bytes>) -> RawManifest {
        RawManifest {
            media_type: media_type.to_string(),
            bytes: bytes.into(),
        }
    }

    pub fn digest(&self) -> String {
        sha256_digest(&self.bytes)
    }

    /// A descriptor for this document (to put in an index).
    pub fn descriptor(&self) -> Descriptor {
        Descriptor::new(&self.media_type, &self.digest(), self.bytes.len() as u64)
    }
}

/// Everything one push sends: blobs, then `children` by digest, then `root` last.
#[derive(Debug, Clone)]
pub struct PushPlan {
    pub blobs: Vec<LocalBlob>,
    /// Manifests referenced by the root (an index's per-platform manifests); pushed by digest.
    pub children: Vec<RawManifest>,
    /// The manifest or index the tags point to.
    pub root: RawManifest,
}

/// Options of one push.
#[derive(Debug, Clone, Default)]
pub struct PushOptions {
    /// Tags to point at the root. Empty = push by digest only.
    pub tags: Vec<String>,
    /// Repositories (same registry) that may already hold the blobs; mounted instead of uploaded.
    pub mount_from: Vec<Reference>,
}

/// What a push did, counted per blob.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushReport {
    /// Digest of the root manifest or index.
    pub digest: String,
    pub blobs_uploaded: u64,
    pub bytes_uploaded: u64,
    pub blobs_skipped: u64,
    pub bytes_skipped: u64,
    pub blobs_mounted: u64,
    pub bytes_mounted: u64,
    pub manifests_pushed: u64,
    pub tags: Vec<String>,
}

impl PushReport {
    pub(crate) fn count(&mut self, outcome: &BlobOutcome, size: u64) {
        match outcome {
            BlobOutcome::Skipped => {
                self.blobs_skipped += 1;
                self.bytes_skipped += size;
            }
            BlobOutcome::Mounted { .. } => {
                self.blobs_mounted += 1;
                self.bytes_mounted += size;
            }
            BlobOutcome::Uploaded => {
                self.blobs_uploaded += 1;
                self.bytes_uploaded += size;
            }
        }
    }
}

/// How one blob reached the target repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobOutcome {
    /// Already there (HEAD answered 200).
    Skipped,
    /// Mounted from another repository of the same registry (201 to `POST ?mount=&from=`).
    Mounted {
        from: String,
    },
    Uploaded,
}

impl RegistryClient {
    /// Whether `repo` holds the blob (HEAD).
    pub async fn blob_exists(&self, repo: &Reference, digest: &str) -> Result<bool, RegistryError> {
        let s = self.session(repo).await?;
        let name = blob_name(repo, digest);
        retry(&self.config.retry, &name, || async {
            s.chunked
                .blob_exists(repo, digest)
                .await
                .map_err(|e| RegistryError::from_oci(&name, e))
        })
        .await
    }

    /// Mounts `digest` from `from` into `repo`. `Ok(false)` when the registry did not mount it
    /// (202 or an error): the caller uploads instead. oci-client's `mount_blob` treats anything
    /// but 201 as an error; on a 202 the registry has opened an upload session that we leave to
    /// expire (it holds no data) and upload through a fresh one.
    pub async fn mount_blob(
        &self,
        repo: &Reference,
        from: &Reference,
        digest: &str,
    ) -> Result<bool, RegistryError> {
        if from.resolve_registry() != repo.resolve_registry()
            || from.repository() == repo.repository()
        {
            return Ok(false);
        }
        let s = self.session(repo).await?;
        match s.chunked.mount_blob(repo, from, digest).await {
            Ok(()) => Ok(true),
            Err(e) => {
                tracing::debug!(repo = %repo, from = %from, digest, error = %e, "mount refused, uploading instead");
                Ok(false)
            }
        }
    }

    /// Pushes one blob from disk: skipped if present, mounted if possible, else streamed.
    pub async fn push_blob(
        &self,
        repo: &Reference,
        blob: &LocalBlob,
        mount_from: &[Reference],
    ) -> Result<BlobOutcome, RegistryError> {
        let digest = blob.descriptor.digest.as_str();
        if self.blob_exists(repo, digest).await? {
            return Ok(BlobOutcome::Skipped);
        }
        for from in mount_from {
            if self.mount_blob(repo, from, digest).await? {
                return Ok(BlobOutcome::Mounted {
                    from: from.repository().to_string(),
                });
            }
        }
        self.upload_blob(repo, blob).await?;
        Ok(BlobOutcome::Uploaded)
    }

    /// Uploads a blob from disk without checking for it first (streamed; retried from the start).
    pub async fn upload_blob(
        &self,
        repo: &Reference,
        blob: &LocalBlob,
    ) -> Result<(), RegistryError> {
        let s = self.session(repo).await?;
        let name = blob_name(repo, &blob.descriptor.digest);
        let io_err = |source| RegistryError::Io {
            reference: name.clone(),
            path: blob.path.clone(),
            source,
        };
        let size = tokio::fs::metadata(&blob.path).await.map_err(io_err)?.len();
        if size != blob.descriptor.size {
            return Err(RegistryError::SizeMismatch {
                reference: name.clone(),
                digest: blob.descriptor.digest.clone(),
                expected: blob.descriptor.size,
                actual: size,
            });
        }
        let read = match self.config.upload {
            UploadMode::Monolithic => MONOLITHIC_READ_BYTES,
            UploadMode::Chunked => CHUNK_BYTES,
        };
        let client = &self.upload_client(&s, repo).await?;
        retry(&self.config.retry, &name, || async {
            let file = tokio::fs::File::open(&blob.path).await.map_err(io_err)?;
            client
                .push_blob_stream(
                    repo,
                    file_chunks(file, read),
                    &blob.descriptor.digest,
                    Some(size),
                )
                .await
                .map_err(|e| RegistryError::from_oci(&name, e))
        })
        .await?;
        Ok(())
    }

    /// Pushes manifest bytes unchanged under `reference` (tag or digest); returns their digest.
    pub async fn push_manifest(
        &self,
        reference: &Reference,
        manifest: &RawManifest,
    ) -> Result<String, RegistryError> {
        let s = self.session(reference).await?;
        let name = reference.to_string();
        let content_type =
            reqwest::header::HeaderValue::from_str(&manifest.media_type).map_err(|_| {
                RegistryError::UnsupportedMediaType {
                    reference: name.clone(),
                    media_type: manifest.media_type.clone(),
                }
            })?;
        retry(&self.config.retry, &name, || async {
            s.chunked
                .push_manifest_raw(reference, manifest.bytes.clone(), content_type.clone())
                .await
                .map_err(|e| RegistryError::from_oci(&name, e))
        })
        .await?;
        Ok(manifest.digest())
    }

    /// Pushes a whole image or index into `repo` (its tag, if any, is ignored: see `opts.tags`).
    pub async fn push(
        &self,
        repo: &Reference,
        plan: &PushPlan,
        opts: &PushOptions,
    ) -> Result<PushReport, RegistryError> {
        let mut report = PushReport {
            digest: plan.root.digest(),
            ..PushReport::default()
        };
        let outcomes: Vec<(BlobOutcome, u64)> = futures_util::stream::iter(plan.blobs.iter())
            .map(|blob| async move {
                let outcome = self.push_blob(repo, blob, &opts.mount_from).await?;
                Ok::<_, RegistryError>((outcome, blob.descriptor.size))
            })
            .buffer_unordered(self.config.max_concurrent_uploads.max(1))
            .try_collect()
            .await?;
        for (outcome, size) in &outcomes {
            report.count(outcome, *size);
        }
        for child in &plan.children {
            self.push_manifest(&by_digest(repo, &child.digest()), child)
                .await?;
            report.manifests_pushed += 1;
        }
        self.push_manifest(&by_digest(repo, &report.digest), &plan.root)
            .await?;
        report.manifests_pushed += 1;
        for tag in &opts.tags {
            self.push_manifest(&with_tag(repo, tag), &plan.root).await?;
            report.tags.push(tag.clone());
        }
        Ok(report)
    }
}

/// `repo@digest` (any tag dropped).
pub(crate) fn by_digest(repo: &Reference, digest: &str) -> Reference {
    Reference::with_digest(
        repo.registry().to_string(),
        repo.repository().to_string(),
        digest.to_string(),
    )
}

/// `repo:tag`.
pub(crate) fn with_tag(repo: &Reference, tag: &str) -> Reference {
    Reference::with_tag(
        repo.registry().to_string(),
        repo.repository().to_string(),
        tag.to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_counts_each_outcome() {
        let mut r = PushReport::default();
        r.count(&BlobOutcome::Uploaded, 10);
        r.count(&BlobOutcome::Skipped, 5);
        r.count(&BlobOutcome::Mounted { from: "a".into() }, 7);
        r.count(&BlobOutcome::Uploaded, 1);
        assert_eq!((r.blobs_uploaded, r.bytes_uploaded), (2, 11));
        assert_eq!((r.blobs_skipped, r.bytes_skipped), (1, 5));
        assert_eq!((r.blobs_mounted, r.bytes_mounted), (1, 7));
    }

    #[test]
    fn raw_manifest_digest_is_over_exact_bytes() {
        let a = RawManifest::new("x", &b"{\"a\":1}"[..]);
        let b = RawManifest::new("x", &b"{ \"a\": 1 }"[..]);
        assert_ne!(a.digest(), b.digest());
        assert_eq!(a.descriptor().size, 7);
    }
}
