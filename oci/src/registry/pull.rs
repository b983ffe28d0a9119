//! Resolving tags, pulling manifests (with platform selection) and streaming blobs to disk.

use super::client::RegistryClient;
use super::error::{from_reqwest, RegistryError};
use super::manifest::{
    sha256_digest, Descriptor, ImageManifest, Manifest, ManifestProblem, ACCEPTED_MANIFEST_TYPES,
};
use super::retry::retry;
use super::Reference;
use bytes::Bytes;
use futures_util::StreamExt;
use slipway_graph::Platform;
use std::path::{Path, PathBuf};
use tokio::io::{AsyncWrite, AsyncWriteExt};

/// A manifest or index as pulled: its exact bytes, digest and parsed form.
#[derive(Debug, Clone)]
pub struct PulledManifest {
    pub digest: String,
    pub media_type: String,
    pub bytes: Bytes,
    pub manifest: Manifest,
}

/// One platform's image manifest, and the index it was picked from (if the reference named one).
#[derive(Debug, Clone)]
pub struct PulledImage {
    pub index_digest: Option<String>,
    pub manifest_digest: String,
    pub media_type: String,
    pub bytes: Bytes,
    pub manifest: ImageManifest,
}

impl RegistryClient {
    /// The digest a tag (or digest) reference currently points to (a HEAD request).
    pub async fn resolve(&self, reference: &Reference) -> Result<String, RegistryError> {
        let s = self.session(reference).await?;
        let name = reference.to_string();
        retry(&self.config.retry, &name, || async {
            s.chunked
                .fetch_manifest_digest(reference, &s.auth)
                .await
                .map_err(|e| RegistryError::from_oci(&name, e))
        })
        .await
    }

    /// Pulls a manifest or index by tag or digest, keeping its exact bytes. The digest is
    /// verified against the reference's digest and the registry's `Docker-Content-Digest`.
    pub async fn pull_manifest(
        &self,
        reference: &Reference,
    ) -> Result<PulledManifest, RegistryError> {
        let s = self.session(reference).await?;
        let name = reference.to_string();
        let (bytes, digest) = retry(&self.config.retry, &name, || async {
            s.chunked
                .pull_manifest_raw(reference, &s.auth, ACCEPTED_MANIFEST_TYPES)
                .await
                .map_err(|e| RegistryError::from_oci(&name, e))
        })
        .await?;
        let actual = sha256_digest(&bytes);
        if digest.starts_with("sha256:") && actual != digest {
            return Err(RegistryError::DigestMismatch {
                reference: name,
                expected: digest,
                actual,
            });
        }
        let (manifest, media_type) = Manifest::parse(&bytes).map_err(|p| match p {
            ManifestProblem::Malformed(detail) => RegistryError::MalformedManifest {
                reference: name.clone(),
                detail,
            },
            ManifestProblem::UnsupportedMediaType(media_type) => {
                RegistryError::UnsupportedMediaType {
                    reference: name.clone(),
                    media_type,
                }
            }
        })?;
        Ok(PulledManifest {
            digest,
            media_type,
            bytes,
            manifest,
        })
    }

    /// Pulls the image manifest for `platform`: directly if the reference names a single
    /// manifest (whatever its platform), or the matching entry of an index.
    pub async fn pull_image(
        &self,
        reference: &Reference,
        platform: &Platform,
    ) -> Result<PulledImage, RegistryError> {
        let top = self.pull_manifest(reference).await?;
        let index = match top.manifest {
            Manifest::Image(manifest) => {
                return Ok(PulledImage {
                    index_digest: None,
                    manifest_digest: top.digest,
                    media_type: top.media_type,
                    bytes: top.bytes,
                    manifest: *manifest,
                })
            }
            Manifest::Index(index) => index,
        };
        let entry = index
            .select(platform)
            .ok_or_else(|| RegistryError::NoMatchingPlatform {
                reference: reference.to_string(),
                platform: platform.to_string(),
                available: index.platforms().join(", "),
            })?;
        let child_ref = reference.clone_with_digest(entry.digest.clone());
        let child = self.pull_manifest(&child_ref).await?;
        if child.bytes.len() as u64 != entry.size {
            return Err(RegistryError::SizeMismatch {
                reference: child_ref.to_string(),
                digest: entry.digest.clone(),
                expected: entry.size,
                actual: child.bytes.len() as u64,
            });
        }
        match child.manifest {
            Manifest::Image(manifest) => Ok(PulledImage {
                index_digest: Some(top.digest),
                manifest_digest: child.digest,
                media_type: child.media_type,
                bytes: child.bytes,
                manifest: *manifest,
            }),
            Manifest::Index(_) => Err(RegistryError::MalformedManifest {
                reference: child_ref.to_string(),
                detail: format!("index entry for {platform} is itself an index"),
            }),
        }
    }

    /// Streams a blob into `path` (via `path.partial`, renamed once the digest and size check
    /// out). Retries start over. Returns the byte count.
    pub async fn pull_blob_to_file(
        &self,
        repo: &Reference,
        blob: &Descriptor,
        path: &Path,
    ) -> Result<u64, RegistryError> {
        let name = blob_name(repo, &blob.digest);
        let partial = partial_path(path);
        let n = retry(&self.config.retry, &name, || async {
            let file =
                tokio::fs::File::create(&partial)
                    .await
                    .map_err(|source| RegistryError::Io {
                        reference: name.clone(),
                        path: partial.clone(),
                        source,
                    })?;
            let mut out = tokio::io::BufWriter::with_capacity(256 * 1024, file);
            let n = self.pull_blob_to_writer(repo, blob, &mut out).await?;
            out.flush().await.map_err(|source| RegistryError::Io {
                reference: name.clone(),
                path: partial.clone(),
                source,
            })?;
            Ok(n)
        })
        .await;
        match n {
            Ok(n) => {
                tokio::fs::rename(&partial, path)
                    .await
                    .map_err(|source| RegistryError::Io {
                        reference: name.clone(),
                        path: path.to_path_buf(),
                        source,
                    })?;
                Ok(n)
            }
            Err(e) => {
                let _ = tokio::fs::remove_file(&partial).await;
                Err(e)
            }
        }
    }

    /// Streams a blob into `out`, verifying digest and size (one attempt: a writer cannot rewind).
    pub async fn pull_blob_to_writer<W: AsyncWrite + Unpin>(
        &self,
        repo: &Reference,
        blob: &Descriptor,
        out: &mut W,
    ) -> Result<u64, RegistryError> {
        let s = self.session(repo).await?;
        let name = blob_name(repo, &blob.digest);
        let mut stream = s
            .chunked
            .pull_blob_stream(repo, blob.digest.as_str())
            .await
            .map_err(|e| RegistryError::from_oci(&name, e))?;
        let mut written: u64 = 0;
        while let Some(piece) = stream.next().await {
            let piece = piece.map_err(|e| stream_error(&name, e))?;
            written += piece.len() as u64;
            if written > blob.size {
                return Err(RegistryError::SizeMismatch {
                    reference: name,
                    digest: blob.digest.clone(),
                    expected: blob.size,
                    actual: written,
                });
            }
            out.write_all(&piece)
                .await
                .map_err(|source| RegistryError::Io {
                    reference: name.clone(),
                    path: PathBuf::new(),
                    source,
                })?;
        }
        if written != blob.size {
            return Err(RegistryError::SizeMismatch {
                reference: name,
                digest: blob.digest.clone(),
                expected: blob.size,
                actual: written,
            });
        }
        Ok(written)
    }
}

pub(crate) fn blob_name(repo: &Reference, digest: &str) -> String {
    format!("{}/{}@{}", repo.registry(), repo.repository(), digest)
}

fn partial_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".partial");
    path.with_file_name(name)
}

/// Errors surfaced by oci-client's verifying stream: digest mismatches and transport failures.
pub(crate) fn stream_error(name: &str, e: std::io::Error) -> RegistryError {
    use oci_client::errors::DigestError;
    if let Some(DigestError::VerificationError { expected, actual }) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<DigestError>())
    {
        return RegistryError::DigestMismatch {
            reference: name.to_string(),
            expected: expected.clone(),
            actual: actual.clone(),
        };
    }
    if e.get_ref()
        .is_some_and(|inner| inner.is::<reqwest::Error>())
    {
        if let Some(Ok(re)) = e
            .into_inner()
            .map(|inner| inner.downcast::<reqwest::Error>())
        {
            return from_reqwest(name.to_string(), *re);
        }
        return RegistryError::Protocol {
            reference: name.to_string(),
            detail: "blob stream failed".into(),
        };
    }
    RegistryError::Io {
        reference: name.to_string(),
        path: PathBuf::new(),
        source: e,
    }
}
