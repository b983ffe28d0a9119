//! References: `name -> descriptor` (e.g. `docker.io/library/app:latest` -> its index), kept in
//! `<root>/refs.json`, rewritten atomically (temp file + fsync + rename) under a lock.

use super::{io_err, ContentStore, StoreError};
use oci_spec::image::Descriptor;
use std::collections::BTreeMap;
use std::io::Write;

type Refs = BTreeMap<String, Descriptor>;

impl ContentStore {
    fn refs_path(&self) -> std::path::PathBuf {
        self.root().join("refs.json")
    }

    fn load_refs(&self) -> Result<Refs, StoreError> {
        let p = self.refs_path();
        match std::fs::read(&p) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| StoreError::Refs {
                path: p.clone(),
                message: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Refs::new()),
            Err(e) => Err(io_err(&p, "read")(e)),
        }
    }

    fn save_refs(&self, refs: &Refs) -> Result<(), StoreError> {
        let p = self.refs_path();
        let bytes = serde_json::to_vec_pretty(refs).map_err(|e| StoreError::Refs {
            path: p.clone(),
            message: e.to_string(),
        })?;
        let mut tmp =
            tempfile::NamedTempFile::new_in(self.root()).map_err(io_err(&p, "temp file"))?;
        tmp.write_all(&bytes).map_err(io_err(&p, "write"))?;
        tmp.as_file().sync_all().map_err(io_err(&p, "fsync"))?;
        tmp.persist(&p).map_err(|e| io_err(&p, "rename")(e.error))?;
        Ok(())
    }

    /// Points `name` at `desc` (replacing any previous target).
    pub fn set_ref(&self, name: &str, desc: &Descriptor) -> Result<(), StoreError> {
        if name.is_empty() || name.chars().any(char::is_control) {
            return Err(StoreError::RefName {
                name: name.to_string(),
            });
        }
        let _guard = self.refs_lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut refs = self.load_refs()?;
        refs.insert(name.to_string(), desc.clone());
        self.save_refs(&refs)
    }

    pub fn get_ref(&self, name: &str) -> Result<Option<Descriptor>, StoreError> {
        let _guard = self.refs_lock.lock().unwrap_or_else(|p| p.into_inner());
        Ok(self.load_refs()?.get(name).cloned())
    }

    /// Removes `name`; returns whether it existed. Blobs are left for garbage collection.
    pub fn remove_ref(&self, name: &str) -> Result<bool, StoreError> {
        let _guard = self.refs_lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut refs = self.load_refs()?;
        let had = refs.remove(name).is_some();
        if had {
            self.save_refs(&refs)?;
        }
        Ok(had)
    }

    /// All references, sorted by name.
    pub fn refs(&self) -> Result<Vec<(String, Descriptor)>, StoreError> {
        let _guard = self.refs_lock.lock().unwrap_or_else(|p| p.into_inner());
        Ok(self.load_refs()?.into_iter().collect())
    }
}
