//! Copying blobs and manifests between repositories (mount when the registry allows it,
//! otherwise a stream from the source straight into the upload, never buffered whole).

use super::client::RegistryClient;
use super::error::RegistryError;
use super::manifest::Descriptor;
use super::pull::blob_name;
use super::push::{BlobOutcome, CHUNK_BYTES};
use super::retry::retry;
use super::stream::coalesce;
use super::Reference;
use futures_util::TryStreamExt;
use oci_client::errors::OciDistributionError;

impl RegistryClient {
    /// Makes `blob` present in `to`, taking it from `from`: skipped if present, mounted if both
    /// are on one registry and it agrees, else streamed from `from` into `to`.
    pub async fn copy_blob(
        &self,
        from: &Reference,
        to: &Reference,
        blob: &Descriptor,
    ) -> Result<BlobOutcome, RegistryError> {
        if self.blob_exists(to, &blob.digest).await? {
            return Ok(BlobOutcome::Skipped);
        }
        if self.mount_blob(to, from, &blob.digest).await? {
            return Ok(BlobOutcome::Mounted {
                from: from.repository().to_string(),
            });
        }
        let src = self.session(from).await?;
        let dst = self.session(to).await?;
        let name = blob_name(to, &blob.digest);
        let src_name = blob_name(from, &blob.digest);
        let client = &self.upload_client(&dst, to).await?;
        retry(&self.config.retry, &name, || async {
            let sized = src
                .chunked
                .pull_blob_stream(from, blob.digest.as_str())
                .await
                .map_err(|e| RegistryError::from_oci(&src_name, e))?;
            // Chunked mode sends one PATCH per stream item: regroup the source's small frames
            // into 4 MiB pieces (memory stays bounded by one piece).
            let body = coalesce(
                sized.stream.map_err(OciDistributionError::IoError),
                CHUNK_BYTES,
            );
            client
                .push_blob_stream(to, body, &blob.digest, Some(blob.size))
                .await
                .map_err(|e| RegistryError::from_oci(&name, e))
        })
        .await?;
        Ok(BlobOutcome::Uploaded)
    }
}
