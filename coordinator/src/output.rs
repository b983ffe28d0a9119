//! `--output` values (buildx's CSV form): `type=image,name=a,push=true`, `type=registry`,
//! `type=oci,dest=out.tar`, `type=docker,dest=...`, `type=local,dest=dir`, `type=tar,dest=...`,
//! or a bare path (= `type=local,dest=PATH`; `-` = a tar on stdout).

use slipway_oci::MediaTypes;
use std::path::PathBuf;

/// Where a file export goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dest {
    Path(PathBuf),
    /// `dest=-`: written to standard output.
    Stdout,
}

/// What an output is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputKind {
    /// An image; pushed to the registry of each name when `push`.
    Image { names: Vec<String>, push: bool },
    /// An OCI layout tar (an index for a multi-platform build).
    Oci { dest: Dest, names: Vec<String> },
    /// A docker-archive tar (single platform).
    Docker { dest: Dest, names: Vec<String> },
    /// The root filesystem as a directory (per-platform subdirectories for several).
    Local { dest: PathBuf },
    /// The root filesystem as a tar (per-platform directories inside for several).
    Tar { dest: Dest },
}

/// One parsed `--output`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputSpec {
    pub kind: OutputKind,
    /// `oci-mediatypes=true|false`; `None` = the default (OCI).
    pub media_types: Option<MediaTypes>,
    /// `registry.insecure=true`: the names' registries are reached over plain HTTP.
    pub insecure: bool,
}

impl OutputSpec {
    pub fn image(names: Vec<String>, push: bool) -> OutputSpec {
        OutputSpec {
            kind: OutputKind::Image { names, push },
            media_types: None,
            insecure: false,
        }
    }

    /// The `type=` value this output was given.
    pub fn type_name(&self) -> &'static str {
        match &self.kind {
            OutputKind::Image { .. } => "image",
            OutputKind::Oci { .. } => "oci",
            OutputKind::Docker { .. } => "docker",
            OutputKind::Local { .. } => "local",
            OutputKind::Tar { .. } => "tar",
        }
    }
}

/// Why an `--output` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutputError {
    #[error("unknown type {value:?} (expected image, registry, oci, docker, local or tar)")]
    UnknownType { value: String },
    #[error("type={ty} needs dest=")]
    MissingDest { ty: &'static str },
    #[error("type=local cannot write to stdout (dest=-); use type=tar")]
    LocalToStdout,
    #[error("{key}={value:?} is not a boolean")]
    NotBool { key: String, value: String },
    #[error("attribute {key:?} is not supported by type={ty}")]
    UnknownAttr { key: String, ty: &'static str },
    #[error("{field:?}: expected key=value")]
    NotKeyValue { field: String },
    #[error("unterminated quote in {input:?}")]
    UnterminatedQuote { input: String },
}

/// Splits a CSV line: commas separate fields; double quotes group (`""` is a quote).
pub fn split_csv(input: &str) -> Result<Vec<String>, OutputError> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = input.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    if quoted {
        return Err(OutputError::UnterminatedQuote {
            input: input.to_string(),
        });
    }
    fields.push(cur);
    Ok(fields)
}

fn parse_bool(key: &str, value: &str) -> Result<bool, OutputError> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "t" => Ok(true),
        "false" | "0" | "f" => Ok(false),
        _ => Err(OutputError::NotBool {
            key: key.to_string(),
            value: value.to_string(),
        }),
    }
}

/// Parses one `--output` value.
pub fn parse_output(input: &str) -> Result<OutputSpec, OutputError> {
    if !input.contains('=') {
        let kind = match input {
            "-" => OutputKind::Tar { dest: Dest::Stdout },
            path => OutputKind::Local {
                dest: PathBuf::from(path),
            },
        };
        return Ok(OutputSpec {
            kind,
            media_types: None,
            insecure: false,
        });
    }
    let mut ty: Option<String> = None;
    let mut names = Vec::new();
    let mut push = None;
    let mut dest = None;
    let mut media_types = None;
    let mut insecure = false;
    let mut others = Vec::new();
    for field in split_csv(input)? {
        let field = field.trim();
        if field.is_empty() {
            continue;
        }
        let (key, value) = field
            .split_once('=')
            .ok_or_else(|| OutputError::NotKeyValue {
                field: field.to_string(),
            })?;
        match key.trim().to_ascii_lowercase().as_str() {
            "type" => ty = Some(value.to_string()),
            "name" => names.extend(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(String::from),
            ),
            "push" => push = Some(parse_bool(key, value)?),
            "dest" => dest = Some(value.to_string()),
            "oci-mediatypes" => {
                media_types = Some(if parse_bool(key, value)? {
                    MediaTypes::Oci
                } else {
                    MediaTypes::Docker
                })
            }
            "registry.insecure" => insecure = parse_bool(key, value)?,
            other => others.push(other.to_string()),
        }
    }
    let ty = ty.unwrap_or_else(|| "local".to_string());
    let kind = match ty.as_str() {
        "image" => OutputKind::Image {
            names,
            push: push.unwrap_or(false),
        },
        "registry" => OutputKind::Image {
            names,
            push: push.unwrap_or(true),
        },
        "oci" => OutputKind::Oci {
            dest: file_dest(dest, "oci")?,
            names,
        },
        "docker" => OutputKind::Docker {
            dest: file_dest(dest, "docker")?,
            names,
        },
        "local" => match file_dest(dest, "local")? {
            Dest::Path(dest) => OutputKind::Local { dest },
            Dest::Stdout => return Err(OutputError::LocalToStdout),
        },
        "tar" => OutputKind::Tar {
            dest: file_dest(dest, "tar")?,
        },
        other => {
            return Err(OutputError::UnknownType {
                value: other.to_string(),
            })
        }
    };
    let spec = OutputSpec {
        kind,
        media_types,
        insecure,
    };
    let ty = spec.type_name();
    let is_image = matches!(spec.kind, OutputKind::Image { .. });
    let has_names = matches!(
        spec.kind,
        OutputKind::Image { .. } | OutputKind::Oci { .. } | OutputKind::Docker { .. }
    );
    let refused = others
        .into_iter()
        .chain((!has_names && !names_empty(input)).then(|| "name".to_string()))
        .chain((!is_image && push.is_some()).then(|| "push".to_string()))
        .next();
    if let Some(key) = refused {
        return Err(OutputError::UnknownAttr { key, ty });
    }
    Ok(spec)
}

fn names_empty(input: &str) -> bool {
    !split_csv(input)
        .unwrap_or_default()
        .iter()
        .any(|f| f.trim().to_ascii_lowercase().starts_with("name="))
}

fn file_dest(dest: Option<String>, ty: &'static str) -> Result<Dest, OutputError> {
    match dest.as_deref() {
        None | Some("") => Err(OutputError::MissingDest { ty }),
        Some("-") => Ok(Dest::Stdout),
        Some(p) => Ok(Dest::Path(PathBuf::from(p))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(s: &str) -> OutputKind {
        parse_output(s).unwrap().kind
    }

    #[test]
    fn types_and_attributes() {
        assert_eq!(
            kind("type=image,name=r/a:1,push=true"),
            OutputKind::Image {
                names: vec!["r/a:1".into()],
                push: true
            }
        );
        assert_eq!(
            kind("type=registry,\"name=r/a:1,r/a:2\""),
            OutputKind::Image {
                names: vec!["r/a:1".into(), "r/a:2".into()],
                push: true
            }
        );
        assert_eq!(
            kind("type=oci,dest=out.tar"),
            OutputKind::Oci {
                dest: Dest::Path("out.tar".into()),
                names: vec![]
            }
        );
        assert_eq!(
            kind("type=docker,dest=-,name=a"),
            OutputKind::Docker {
                dest: Dest::Stdout,
                names: vec!["a".into()]
            }
        );
        assert_eq!(
            kind("type=local,dest=out"),
            OutputKind::Local { dest: "out".into() }
        );
        assert_eq!(
            kind("out/dir"),
            OutputKind::Local {
                dest: "out/dir".into()
            }
        );
        assert_eq!(kind("-"), OutputKind::Tar { dest: Dest::Stdout });
        assert_eq!(kind("dest=x"), OutputKind::Local { dest: "x".into() });
        let s =
            parse_output("type=image,name=a,registry.insecure=true,oci-mediatypes=false").unwrap();
        assert!(s.insecure);
        assert_eq!(s.media_types, Some(MediaTypes::Docker));
    }

    #[test]
    fn refusals_name_the_problem() {
        let cases = [
            ("type=foo", "unknown type \"foo\""),
            ("type=oci", "type=oci needs dest="),
            ("type=local,dest=-", "stdout"),
            ("type=image,push=maybe", "\"maybe\" is not a boolean"),
            (
                "type=local,dest=a,push=true",
                "\"push\" is not supported by type=local",
            ),
            (
                "type=tar,dest=a,name=x",
                "\"name\" is not supported by type=tar",
            ),
            (
                "type=image,compression=zstd",
                "\"compression\" is not supported",
            ),
            ("type=image,novalue", "\"novalue\": expected key=value"),
            ("type=image,\"name=a", "unterminated quote"),
        ];
        for (input, want) in cases {
            let err = parse_output(input).unwrap_err().to_string();
            assert!(err.contains(want), "{input}: {err}");
        }
    }
}
