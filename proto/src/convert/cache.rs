//! The build cache: `CacheLayer`, `CacheRecord`, `CacheImport`, `CacheExport`, and the
//! parsed forms of the shared cache index's requests.

use super::parse;
use crate::v1::cache_export::Target;
use crate::v1::cache_import::Source;
use crate::{v1, ProtoError};
use slipway_farm::cache as farm;
use slipway_farm::WorkerId;
use slipway_graph::Digest;

/// Whether `s` is a cache key: 64 lower-case hex digits.
pub fn is_cache_key(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A cache key field, checked.
pub fn cache_key(s: &str, (message, field): parse::At) -> Result<String, ProtoError> {
    if is_cache_key(s) {
        Ok(s.to_string())
    } else {
        Err(ProtoError::InvalidCacheKey {
            message,
            field,
            value: s.to_string(),
        })
    }
}

impl From<farm::CacheLayer> for v1::CacheLayer {
    fn from(l: farm::CacheLayer) -> v1::CacheLayer {
        v1::CacheLayer {
            media_type: l.media_type,
            digest: l.digest,
            size: l.size,
            diff_id: l.diff_id,
        }
    }
}

impl TryFrom<v1::CacheLayer> for farm::CacheLayer {
    type Error = ProtoError;
    fn try_from(l: v1::CacheLayer) -> Result<farm::CacheLayer, ProtoError> {
        const M: &str = "CacheLayer";
        Ok(farm::CacheLayer {
            digest: parse::digest(&l.digest, (M, "digest"))?.to_string(),
            diff_id: parse::digest(&l.diff_id, (M, "diff_id"))?.to_string(),
            media_type: l.media_type,
            size: l.size,
        })
    }
}

impl From<farm::CacheRecord> for v1::CacheRecord {
    fn from(r: farm::CacheRecord) -> v1::CacheRecord {
        v1::CacheRecord {
            key: r.key,
            layers: r.layers.into_iter().map(Into::into).collect(),
        }
    }
}

impl TryFrom<v1::CacheRecord> for farm::CacheRecord {
    type Error = ProtoError;
    fn try_from(r: v1::CacheRecord) -> Result<farm::CacheRecord, ProtoError> {
        Ok(farm::CacheRecord {
            key: cache_key(&r.key, ("CacheRecord", "key"))?,
            layers: layers(r.layers)?,
        })
    }
}

/// Wire layers, each checked.
pub fn layers(list: Vec<v1::CacheLayer>) -> Result<Vec<farm::CacheLayer>, ProtoError> {
    list.into_iter().map(TryInto::try_into).collect()
}

/// Wire records, each checked.
pub fn records(list: Vec<v1::CacheRecord>) -> Result<Vec<farm::CacheRecord>, ProtoError> {
    list.into_iter().map(TryInto::try_into).collect()
}

impl From<farm::CacheImport> for v1::CacheImport {
    fn from(i: farm::CacheImport) -> v1::CacheImport {
        let source = match i {
            farm::CacheImport::Registry { reference } => Source::Registry(reference),
            farm::CacheImport::Local { src } => Source::Local(src.to_string_lossy().into_owned()),
            farm::CacheImport::Records { origin, records } => {
                Source::Records(v1::ImportedRecords {
                    origin,
                    records: records.into_iter().map(Into::into).collect(),
                })
            }
        };
        v1::CacheImport {
            source: Some(source),
        }
    }
}

impl TryFrom<v1::CacheImport> for farm::CacheImport {
    type Error = ProtoError;
    fn try_from(i: v1::CacheImport) -> Result<farm::CacheImport, ProtoError> {
        Ok(
            match parse::required(i.source, ("CacheImport", "source"))? {
                Source::Registry(reference) => farm::CacheImport::Registry { reference },
                Source::Local(src) => farm::CacheImport::Local { src: src.into() },
                Source::Records(r) => farm::CacheImport::Records {
                    origin: r.origin,
                    records: records(r.records)?,
                },
            },
        )
    }
}

fn mode_to_wire(m: farm::CacheMode) -> v1::CacheMode {
    match m {
        farm::CacheMode::Min => v1::CacheMode::Min,
        farm::CacheMode::Max => v1::CacheMode::Max,
    }
}

fn compression_to_wire(c: Option<farm::CacheCompression>) -> v1::CacheCompression {
    match c {
        None => v1::CacheCompression::Unspecified,
        Some(farm::CacheCompression::Gzip) => v1::CacheCompression::Gzip,
        Some(farm::CacheCompression::Zstd) => v1::CacheCompression::Zstd,
        Some(farm::CacheCompression::Uncompressed) => v1::CacheCompression::Uncompressed,
    }
}

impl From<farm::CacheExport> for v1::CacheExport {
    fn from(e: farm::CacheExport) -> v1::CacheExport {
        let target = match e.target {
            farm::CacheExportTarget::Registry { reference } => Target::Registry(reference),
            farm::CacheExportTarget::Local { dest } => {
                Target::Local(dest.to_string_lossy().into_owned())
            }
            farm::CacheExportTarget::Inline => Target::Inline(v1::Empty {}),
        };
        v1::CacheExport {
            target: Some(target),
            mode: mode_to_wire(e.mode) as i32,
            compression: compression_to_wire(e.compression) as i32,
            compression_level: e.compression_level,
            oci_media_types: e.oci_media_types,
            ignore_error: e.ignore_error,
        }
    }
}

impl TryFrom<v1::CacheExport> for farm::CacheExport {
    type Error = ProtoError;
    fn try_from(e: v1::CacheExport) -> Result<farm::CacheExport, ProtoError> {
        const M: &str = "CacheExport";
        let target = match parse::required(e.target, (M, "target"))? {
            Target::Registry(reference) => farm::CacheExportTarget::Registry { reference },
            Target::Local(dest) => farm::CacheExportTarget::Local { dest: dest.into() },
            Target::Inline(_) => farm::CacheExportTarget::Inline,
        };
        let mode = match v1::CacheMode::try_from(e.mode) {
            Ok(v1::CacheMode::Min | v1::CacheMode::Unspecified) => farm::CacheMode::Min,
            Ok(v1::CacheMode::Max) => farm::CacheMode::Max,
            Err(_) => {
                return Err(ProtoError::UnknownEnum {
                    message: M,
                    field: "mode",
                    value: e.mode,
                })
            }
        };
        let compression = match v1::CacheCompression::try_from(e.compression) {
            Ok(v1::CacheCompression::Unspecified) => None,
            Ok(v1::CacheCompression::Gzip) => Some(farm::CacheCompression::Gzip),
            Ok(v1::CacheCompression::Zstd) => Some(farm::CacheCompression::Zstd),
            Ok(v1::CacheCompression::Uncompressed) => Some(farm::CacheCompression::Uncompressed),
            Err(_) => {
                return Err(ProtoError::UnknownEnum {
                    message: M,
                    field: "compression",
                    value: e.compression,
                })
            }
        };
        Ok(farm::CacheExport {
            target,
            mode,
            compression,
            compression_level: e.compression_level,
            oci_media_types: e.oci_media_types,
            ignore_error: e.ignore_error,
        })
    }
}

/// Wire imports, each checked.
pub fn imports(list: Vec<v1::CacheImport>) -> Result<Vec<farm::CacheImport>, ProtoError> {
    list.into_iter().map(TryInto::try_into).collect()
}

/// Wire exports, each checked.
pub fn exports(list: Vec<v1::CacheExport>) -> Result<Vec<farm::CacheExport>, ProtoError> {
    list.into_iter().map(TryInto::try_into).collect()
}

/// A parsed `CacheQuery`: the keys to look up, each checked.
pub fn query_keys(q: v1::CacheQuery) -> Result<Vec<String>, ProtoError> {
    q.keys
        .iter()
        .map(|k| cache_key(k, ("CacheQuery", "keys")))
        .collect()
}

/// A parsed `CacheRecords`.
pub fn cache_records(
    r: v1::CacheRecords,
) -> Result<(WorkerId, Vec<farm::CacheRecord>), ProtoError> {
    Ok((
        parse::worker_id(&r.worker_id, ("CacheRecords", "worker_id"))?,
        records(r.records)?,
    ))
}

/// A parsed `ForgottenBlobs`.
pub fn forgotten_blobs(f: v1::ForgottenBlobs) -> Result<(WorkerId, Vec<Digest>), ProtoError> {
    const M: &str = "ForgottenBlobs";
    Ok((
        parse::worker_id(&f.worker_id, (M, "worker_id"))?,
        f.digests
            .iter()
            .map(|d| parse::digest(d, (M, "digests")))
            .collect::<Result<_, _>>()?,
    ))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn layer(seed: &str) -> farm::CacheLayer {
        farm::CacheLayer {
            media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
            digest: Digest::of_bytes(seed.as_bytes()).to_string(),
            size: 7,
            diff_id: Digest::of_bytes(format!("{seed}-tar").as_bytes()).to_string(),
        }
    }

    pub(crate) fn record(seed: &str) -> farm::CacheRecord {
        farm::CacheRecord {
            key: Digest::of_bytes(seed.as_bytes()).hex().to_string(),
            layers: vec![layer("base"), layer(seed)],
        }
    }

    pub(crate) fn exports_all() -> Vec<farm::CacheExport> {
        vec![
            farm::CacheExport {
                mode: farm::CacheMode::Max,
                compression: Some(farm::CacheCompression::Zstd),
                compression_level: Some(3),
                oci_media_types: false,
                ignore_error: true,
                ..farm::CacheExport::new(farm::CacheExportTarget::Registry {
                    reference: "reg/app:cache".into(),
                })
            },
            farm::CacheExport::new(farm::CacheExportTarget::Local {
                dest: "/tmp/c".into(),
            }),
            farm::CacheExport::new(farm::CacheExportTarget::Inline),
        ]
    }

    pub(crate) fn imports_all() -> Vec<farm::CacheImport> {
        vec![
            farm::CacheImport::Registry {
                reference: "reg/app:cache".into(),
            },
            farm::CacheImport::Local {
                src: "/tmp/c".into(),
            },
        ]
    }

    #[test]
    fn records_imports_and_exports_round_trip() {
        let r = record("run");
        assert_eq!(
            farm::CacheRecord::try_from(v1::CacheRecord::from(r.clone())).unwrap(),
            r
        );
        for e in exports_all() {
            assert_eq!(
                farm::CacheExport::try_from(v1::CacheExport::from(e.clone())).unwrap(),
                e
            );
        }
        for i in imports_all() {
            assert_eq!(
                farm::CacheImport::try_from(v1::CacheImport::from(i.clone())).unwrap(),
                i
            );
        }
    }

    #[test]
    fn bad_keys_digests_and_enums_are_refused() {
        let mut w = v1::CacheRecord::from(record("run"));
        w.key = "ABC".into();
        let e = farm::CacheRecord::try_from(w).unwrap_err();
        assert!(matches!(e, ProtoError::InvalidCacheKey { .. }), "{e}");
        assert!(e.to_string().contains("CacheRecord.key"), "{e}");

        let mut w = v1::CacheRecord::from(record("run"));
        w.layers[0].diff_id = "sha256:nothex".into();
        let e = farm::CacheRecord::try_from(w).unwrap_err();
        assert!(
            matches!(
                e,
                ProtoError::InvalidDigest {
                    field: "diff_id",
                    ..
                }
            ),
            "{e}"
        );

        let mut w = v1::CacheExport::from(exports_all().remove(0));
        w.mode = 9;
        assert!(matches!(
            farm::CacheExport::try_from(w).unwrap_err(),
            ProtoError::UnknownEnum { field: "mode", .. }
        ));
        let w = v1::CacheExport {
            target: None,
            ..v1::CacheExport::from(exports_all().remove(0))
        };
        assert!(matches!(
            farm::CacheExport::try_from(w).unwrap_err(),
            ProtoError::MissingField {
                field: "target",
                ..
            }
        ));
        assert!(farm::CacheImport::try_from(v1::CacheImport { source: None }).is_err());

        let keys = query_keys(v1::CacheQuery {
            keys: vec!["a".repeat(64), "nope".into()],
        })
        .unwrap_err();
        assert!(keys.to_string().contains("CacheQuery.keys"), "{keys}");
        let (w, d) = forgotten_blobs(v1::ForgottenBlobs {
            worker_id: "w1".into(),
            digests: vec![Digest::of_bytes(b"x").to_string()],
        })
        .unwrap();
        assert_eq!((w.as_str(), d.len()), ("w1", 1));
        assert!(forgotten_blobs(v1::ForgottenBlobs {
            worker_id: "w1".into(),
            digests: vec!["md5:1".into()],
        })
        .is_err());
        let (w, r) = cache_records(v1::CacheRecords {
            worker_id: "w2".into(),
            records: vec![record("a").into()],
        })
        .unwrap();
        assert_eq!((w.as_str(), r,), ("w2", vec![record("a")]));
    }
}
