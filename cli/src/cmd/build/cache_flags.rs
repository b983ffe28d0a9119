//! `--cache-from` and `--cache-to` values, in buildx's CSV syntax (pure; each error names
//! its flag).

use std::collections::BTreeMap;
use std::path::PathBuf;

use slipway_farm::cache::{
    CacheCompression, CacheExport, CacheExportTarget, CacheImport, CacheMode,
};

use super::flags::{csv_fields, err, FlagError};

const FROM: &str = "--cache-from";
const TO: &str = "--cache-to";

/// `--cache-from type=registry,ref=R | type=local,src=D | R` (a bare reference is a
/// registry cache, as in buildx).
pub fn cache_from(values: &[String]) -> Result<Vec<CacheImport>, FlagError> {
    let mut out = Vec::new();
    for v in values {
        if !v.contains('=') {
            let reference = v.trim();
            if reference.is_empty() {
                return Err(err(FROM, "empty value"));
            }
            out.push(CacheImport::Registry {
                reference: reference.to_string(),
            });
            continue;
        }
        let mut f = csv_fields(FROM, v)?;
        let kind = f.remove("type").unwrap_or_else(|| "registry".into());
        let import = match kind.as_str() {
            "registry" => CacheImport::Registry {
                reference: required(&mut f, FROM, "ref", &kind)?,
            },
            "local" => CacheImport::Local {
                src: PathBuf::from(required(&mut f, FROM, "src", &kind)?),
            },
            other => return Err(unsupported_type(FROM, other)),
        };
        // Attributes BuildKit's importers accept and that change nothing here.
        for harmless in ["digest", "tag"] {
            f.remove(harmless);
        }
        no_leftovers(FROM, &kind, &f)?;
        out.push(import);
    }
    Ok(out)
}

/// `--cache-to type=registry,ref=R[,mode=min|max][,compression=..][,compression-level=N]
/// [,oci-mediatypes=B][,image-manifest=B][,ignore-error=B] | type=inline |
/// type=local,dest=D[,mode=..]`.
pub fn cache_to(values: &[String]) -> Result<Vec<CacheExport>, FlagError> {
    let mut out = Vec::new();
    for v in values {
        if !v.contains('=') {
            let reference = v.trim();
            if reference.is_empty() {
                return Err(err(TO, "empty value"));
            }
            out.push(CacheExport::new(CacheExportTarget::Registry {
                reference: reference.to_string(),
            }));
            continue;
        }
        let mut f = csv_fields(TO, v)?;
        let kind = f.remove("type").unwrap_or_else(|| "registry".into());
        let target = match kind.as_str() {
            "registry" => CacheExportTarget::Registry {
                reference: required(&mut f, TO, "ref", &kind)?,
            },
            "local" => CacheExportTarget::Local {
                dest: PathBuf::from(required(&mut f, TO, "dest", &kind)?),
            },
            "inline" => CacheExportTarget::Inline,
            other => return Err(unsupported_type(TO, other)),
        };
        let mut export = CacheExport::new(target);
        if let Some(mode) = f.remove("mode") {
            export.mode = match mode.as_str() {
                "min" => CacheMode::Min,
                "max" if kind == "inline" => {
                    return Err(err(TO, "type=inline supports only mode=min"))
                }
                "max" => CacheMode::Max,
                other => return Err(err(TO, format!("mode={other:?}: expected min or max"))),
            };
        }
        if let Some(c) = f.remove("compression") {
            export.compression = Some(match c.as_str() {
                "gzip" => CacheCompression::Gzip,
                "zstd" => CacheCompression::Zstd,
                "uncompressed" => CacheCompression::Uncompressed,
                "estargz" => return Err(err(TO, "compression=estargz is not supported")),
                other => {
                    return Err(err(
                        TO,
                        format!("compression={other:?}: expected gzip, zstd or uncompressed"),
                    ))
                }
            });
        }
        if let Some(l) = f.remove("compression-level") {
            export.compression_level = Some(
                l.parse::<i32>()
                    .map_err(|_| err(TO, format!("compression-level={l:?}: not a number")))?,
            );
        }
        if let Some(b) = f.remove("oci-mediatypes") {
            export.oci_media_types = boolean(TO, "oci-mediatypes", &b)?;
        }
        if let Some(b) = f.remove("ignore-error") {
            export.ignore_error = boolean(TO, "ignore-error", &b)?;
        }
        if let Some(b) = f.remove("image-manifest") {
            // The cache is always written as an image manifest.
            if !boolean(TO, "image-manifest", &b)? {
                return Err(err(
                    TO,
                    "image-manifest=false (a cache index) is not supported; the cache is an image manifest",
                ));
            }
        }
        if let Some(b) = f.remove("force-compression") {
            if boolean(TO, "force-compression", &b)? {
                return Err(err(TO, "force-compression=true is not supported"));
            }
        }
        no_leftovers(TO, &kind, &f)?;
        out.push(export);
    }
    Ok(out)
}

fn required(
    f: &mut BTreeMap<String, String>,
    flag: &'static str,
    key: &str,
    kind: &str,
) -> Result<String, FlagError> {
    match f.remove(key) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(err(flag, format!("type={kind} needs {key}="))),
    }
}

fn unsupported_type(flag: &'static str, kind: &str) -> FlagError {
    err(
        flag,
        format!("type={kind:?} is not supported (registry, local and inline are)"),
    )
}

fn no_leftovers(
    flag: &'static str,
    kind: &str,
    f: &BTreeMap<String, String>,
) -> Result<(), FlagError> {
    match f.keys().next() {
        Some(k) => Err(err(
            flag,
            format!("unknown attribute {k:?} for type={kind}"),
        )),
        None => Ok(()),
    }
}

fn boolean(flag: &'static str, key: &str, v: &str) -> Result<bool, FlagError> {
    match v {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(err(flag, format!("{key}={v:?}: expected true or false"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn cache_from_forms() {
        let got = cache_from(&s(&[
            "reg:5000/app:cache",
            "type=registry,ref=reg/app:c2",
            "type=local,src=/tmp/c",
        ]))
        .unwrap();
        assert_eq!(
            got,
            vec![
                CacheImport::Registry {
                    reference: "reg:5000/app:cache".into()
                },
                CacheImport::Registry {
                    reference: "reg/app:c2".into()
                },
                CacheImport::Local {
                    src: "/tmp/c".into()
                },
            ]
        );
        for (bad, needle) in [
            ("type=gha", "type=\"gha\" is not supported"),
            ("type=registry", "needs ref="),
            ("type=local,dest=/x", "needs src="),
            ("type=registry,ref=r,foo=1", "unknown attribute \"foo\""),
            ("type=registry,ref", "expected key=value"),
        ] {
            let e = cache_from(&s(&[bad])).unwrap_err().to_string();
            assert!(e.starts_with("--cache-from: "), "{e}");
            assert!(e.contains(needle), "{bad}: {e}");
        }
    }

    #[test]
    fn cache_to_forms() {
        let got = cache_to(&s(&[
            "type=registry,ref=r/app:cache,mode=max,compression=zstd,compression-level=3,oci-mediatypes=false,ignore-error=true",
            "type=inline",
            "type=local,dest=/tmp/c",
        ]))
        .unwrap();
        assert_eq!(got[0].mode, CacheMode::Max);
        assert_eq!(got[0].compression, Some(CacheCompression::Zstd));
        assert_eq!(got[0].compression_level, Some(3));
        assert!(!got[0].oci_media_types);
        assert!(got[0].ignore_error);
        assert_eq!(got[1].target, CacheExportTarget::Inline);
        assert_eq!(got[1].mode, CacheMode::Min);
        assert_eq!(
            got[2].target,
            CacheExportTarget::Local {
                dest: "/tmp/c".into()
            }
        );
        for (bad, needle) in [
            ("type=registry,ref=r,mode=all", "mode=\"all\""),
            ("type=inline,mode=max", "only mode=min"),
            ("type=registry,ref=r,compression=lz4", "compression=\"lz4\""),
            ("type=registry,ref=r,compression-level=x", "not a number"),
            (
                "type=registry,ref=r,ignore-error=maybe",
                "expected true or false",
            ),
            ("type=s3,bucket=b", "not supported"),
            ("type=local", "needs dest="),
        ] {
            let e = cache_to(&s(&[bad])).unwrap_err().to_string();
            assert!(e.starts_with("--cache-to: "), "{e}");
            assert!(e.contains(needle), "{bad}: {e}");
        }
    }
}
