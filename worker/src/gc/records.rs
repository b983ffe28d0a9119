//! The cache index's records, read for what they reference, and deleted once what they
//! name is gone. Layout (see [`crate::cache`]): `keys/*.json` and `images/*.json` name a
//! snapshot (`chain`), `layers/<algo>-<hex>-<variant>.json` a snapshot's blob.

use std::fs;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use super::scan::read_noatime;
use super::GcError;
use crate::cache::{ImageRecord, LayerBlob, ResultRecord};
use crate::snapshot::ChainId;
use crate::Worker;

/// The index dir of `worker`.
pub(crate) fn root(worker: &Worker) -> PathBuf {
    worker.inner.data_dir.join("cache")
}

/// Each `*.json` record in `dir` with its parsed value (`None`: unparsable, left alone
/// and logged). A missing dir has no records.
pub(crate) fn read_all<T: DeserializeOwned>(dir: &Path) -> Result<Vec<(PathBuf, T)>, GcError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(GcError::io("reading", dir)(e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let path = entry.map_err(GcError::io("reading", dir))?.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let bytes = match read_noatime(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(GcError::io("reading", &path)(e)),
        };
        match serde_json::from_slice(&bytes) {
            Ok(v) => out.push((path, v)),
            Err(e) => tracing::warn!(path = %path.display(), error = %e, "unreadable cache record"),
        }
    }
    Ok(out)
}

/// Snapshots the result and image records name.
pub(crate) fn recorded_chains(worker: &Worker) -> Result<Vec<ChainId>, GcError> {
    let root = root(worker);
    let mut out = Vec::new();
    for (_, r) in read_all::<ResultRecord>(&root.join("keys"))? {
        out.extend(r.chain);
    }
    for (_, r) in read_all::<ImageRecord>(&root.join("images"))? {
        out.extend(r.chain);
    }
    Ok(out)
}

/// The chain ID a layer record's file name starts with (`sha256-<hex>-<variant>.json`).
pub(crate) fn layer_record_chain(path: &Path) -> Option<ChainId> {
    let name = path.file_name()?.to_str()?;
    let mut parts = name.splitn(3, '-');
    let (algo, hex) = (parts.next()?, parts.next()?);
    parts.next()?;
    format!("{algo}:{hex}").parse().ok()
}

/// Layer records with the snapshot their file name names.
pub(crate) fn layer_records(
    worker: &Worker,
) -> Result<Vec<(PathBuf, Option<ChainId>, LayerBlob)>, GcError> {
    Ok(read_all::<LayerBlob>(&root(worker).join("layers"))?
        .into_iter()
        .map(|(p, b)| {
            let chain = layer_record_chain(&p);
            (p, chain, b)
        })
        .collect())
}

/// Deletes records whose snapshot or blob is gone; returns how many.
pub(crate) fn clean(worker: &Worker) -> Result<usize, GcError> {
    let snapshots = &worker.inner.snapshotter;
    let store = &worker.inner.store;
    let gone = |c: &Option<ChainId>| c.as_ref().is_some_and(|c| !snapshots.contains(c));
    let root = root(worker);
    let mut doomed: Vec<PathBuf> = Vec::new();
    for (p, r) in read_all::<ResultRecord>(&root.join("keys"))? {
        if gone(&r.chain) {
            doomed.push(p);
        }
    }
    for (p, r) in read_all::<ImageRecord>(&root.join("images"))? {
        if gone(&r.chain) {
            doomed.push(p);
        }
    }
    for (p, chain, blob) in layer_records(worker)? {
        let blob_gone = blob
            .digest
            .parse::<slipway_oci::Digest>()
            .map_or(true, |d| !store.exists(&d));
        if blob_gone || gone(&chain) {
            doomed.push(p);
        }
    }
    let mut n = 0;
    for p in doomed {
        match fs::remove_file(&p) {
            Ok(()) => n += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(GcError::io("removing", &p)(e)),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_record_names_parse() {
        let hex = "a".repeat(64);
        let chain = layer_record_chain(Path::new(&format!("/x/sha256-{hex}-gzip-epoch-none.json")));
        assert_eq!(
            chain.map(|c| c.as_str().to_string()),
            Some(format!("sha256:{hex}"))
        );
        assert_eq!(
            layer_record_chain(Path::new("/x/sha256-zz-source.json")),
            None
        );
        assert_eq!(layer_record_chain(Path::new("/x/garbage.json")), None);
    }
}
