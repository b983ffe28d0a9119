//! `imagetools create`: an index stitched from existing manifests and indexes (source indexes
//! are flattened), with blobs and manifests copied or mounted into each target repository when
//! a source lives elsewhere, and the index pushed to every target tag last.

use super::config::fetch_summary;
use super::ImagetoolsError;
use crate::registry::manifest::{DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX};
use crate::registry::{
    Descriptor, Index, Manifest, PlatformSpec, PushReport, RawManifest, Reference, RegistryClient,
};
use std::collections::BTreeMap;

/// Options of `create`.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// Annotations on the index itself.
    pub index_annotations: BTreeMap<String, String>,
    /// Annotations added to every manifest descriptor of the index.
    pub descriptor_annotations: BTreeMap<String, String>,
    /// Build the index but push nothing.
    pub dry_run: bool,
}

/// The result of `create`.
#[derive(Debug, Clone)]
pub struct CreateReport {
    /// The index exactly as pushed.
    pub index: RawManifest,
    pub digest: String,
    /// `registry/repo:tag` of every target written.
    pub pushed: Vec<String>,
    /// Blob and manifest counters over all targets.
    pub copy: PushReport,
}

/// One manifest that goes into the new index, and where it can be read from.
struct Entry {
    source: Reference,
    descriptor: Descriptor,
}

/// Stitches an index from `sources` and pushes it to each of `targets` (tags).
pub async fn create(
    client: &RegistryClient,
    targets: &[Reference],
    sources: &[Reference],
    opts: &CreateOptions,
) -> Result<CreateReport, ImagetoolsError> {
    if sources.is_empty() {
        return Err(ImagetoolsError::NoSources);
    }
    if targets.is_empty() && !opts.dry_run {
        return Err(ImagetoolsError::NoTargets);
    }
    let mut entries: Vec<Entry> = Vec::new();
    for source in sources {
        for entry in collect(client, source).await? {
            if !entries
                .iter()
                .any(|e| e.descriptor.digest == entry.descriptor.digest)
            {
                entries.push(entry);
            }
        }
    }
    for e in &mut entries {
        for (k, v) in &opts.descriptor_annotations {
            e.descriptor.annotations.insert(k.clone(), v.clone());
        }
    }
    let index = build_index(&entries, opts);
    let target_name = targets
        .first()
        .map(|t| t.to_string())
        .unwrap_or_else(|| "(dry run)".into());
    let bytes = serde_json::to_vec_pretty(&index).map_err(|source| ImagetoolsError::Serialise {
        target: target_name,
        source,
    })?;
    let raw = RawManifest::new(index.media_type.as_deref().unwrap_or(OCI_INDEX), bytes);
    let mut report = CreateReport {
        digest: raw.digest(),
        index: raw,
        pushed: Vec::new(),
        copy: PushReport::default(),
    };
    report.copy.digest = report.digest.clone();
    if opts.dry_run {
        return Ok(report);
    }
    for target in targets {
        for e in &entries {
            copy_manifest(client, &e.source, target, &e.descriptor, &mut report.copy).await?;
        }
        client.push_manifest(target, &report.index).await?;
        report.copy.manifests_pushed += 1;
        report.pushed.push(target.to_string());
    }
    Ok(report)
}

/// The manifests a source contributes: itself, or every entry of the index it names.
async fn collect(
    client: &RegistryClient,
    source: &Reference,
) -> Result<Vec<Entry>, ImagetoolsError> {
    let pulled = client.pull_manifest(source).await?;
    match pulled.manifest {
        Manifest::Index(index) => Ok(index
            .manifests
            .into_iter()
            .map(|descriptor| Entry {
                source: source.clone(),
                descriptor,
            })
            .collect()),
        Manifest::Image(m) => {
            let summary = fetch_summary(client, source, &m.config).await?;
            let mut descriptor = Descriptor::new(
                &pulled.media_type,
                &pulled.digest,
                pulled.bytes.len() as u64,
            );
            descriptor.platform = Some(PlatformSpec::from_platform(&summary.platform));
            Ok(vec![Entry {
                source: source.clone(),
                descriptor,
            }])
        }
    }
}

/// A Docker manifest list when every entry is a Docker manifest, else an OCI index.
fn build_index(entries: &[Entry], opts: &CreateOptions) -> Index {
    let all_docker = entries
        .iter()
        .all(|e| e.descriptor.media_type == DOCKER_MANIFEST);
    let media_type = if all_docker && opts.index_annotations.is_empty() {
        DOCKER_MANIFEST_LIST
    } else {
        OCI_INDEX
    };
    Index {
        schema_version: 2,
        media_type: Some(media_type.to_string()),
        manifests: entries.iter().map(|e| e.descriptor.clone()).collect(),
        annotations: opts.index_annotations.clone(),
    }
}

/// Makes `desc` (and everything it references) present in `target`'s repository.
async fn copy_manifest(
    client: &RegistryClient,
    source: &Reference,
    target: &Reference,
    desc: &Descriptor,
    report: &mut PushReport,
) -> Result<(), ImagetoolsError> {
    let same_repo = source.resolve_registry() == target.resolve_registry()
        && source.repository() == target.repository();
    if same_repo {
        return Ok(());
    }
    let src = source.clone_with_digest(desc.digest.clone());
    let dst = Reference::with_digest(
        target.registry().to_string(),
        target.repository().to_string(),
        desc.digest.clone(),
    );
    let pulled = client.pull_manifest(&src).await?;
    match &pulled.manifest {
        Manifest::Image(m) => {
            for blob in std::iter::once(&m.config).chain(m.layers.iter()) {
                let outcome = client.copy_blob(&src, &dst, blob).await?;
                report.count(&outcome, blob.size);
            }
        }
        Manifest::Index(inner) => {
            for child in &inner.manifests {
                Box::pin(copy_manifest(client, source, target, child, report)).await?;
            }
        }
    }
    client
        .push_manifest(
            &dst,
            &RawManifest::new(&pulled.media_type, pulled.bytes.clone()),
        )
        .await?;
    report.manifests_pushed += 1;
    Ok(())
}
