//! RUN `--mount` (BuildKit's `commands_runmount.go`, plus the dispatch-time defaults of
//! `convert_runmount.go`, `convert_secrets.go` and `convert_ssh.go`).
//!
//! At parse time BuildKit only splits the csv and checks `from=`; every other field is read
//! when the RUN is dispatched, after expanding it with the stage's build args and env.
//! [`RunMount`] keeps that raw form, [`RunMount::resolve`] does the dispatch-time parse.

use serde::Serialize;

use super::error::MountError;
use super::gocompat::{go_quote, parse_bool, parse_uint, ram_in_bytes};
use super::suggest::suggest;
use crate::gopath::{base as path_base, clean as path_clean};

/// `type=` of a mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MountType {
    #[default]
    Bind,
    Cache,
    Tmpfs,
    Secret,
    Ssh,
}

impl MountType {
    pub const ALL: [MountType; 5] = [
        Self::Bind,
        Self::Cache,
        Self::Tmpfs,
        Self::Secret,
        Self::Ssh,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bind => "bind",
            Self::Cache => "cache",
            Self::Tmpfs => "tmpfs",
            Self::Secret => "secret",
            Self::Ssh => "ssh",
        }
    }

    fn parse(lower: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == lower)
    }
}

impl std::fmt::Display for MountType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `sharing=` of a cache mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ShareMode {
    #[default]
    Shared,
    Private,
    Locked,
}

impl ShareMode {
    pub const ALL: [ShareMode; 3] = [Self::Shared, Self::Private, Self::Locked];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Shared => "shared",
            Self::Private => "private",
            Self::Locked => "locked",
        }
    }
}

/// One `--mount=` value as parsed: the csv fields, unexpanded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunMount {
    /// The flag value as written.
    pub raw: String,
    /// The csv fields of `raw`.
    pub fields: Vec<String>,
    /// The `from=` value as written (empty when absent). BuildKit reads it before expansion to
    /// find the stages a RUN depends on; it cannot hold a variable (except a trailing `$`).
    pub from: String,
}

/// Keys BuildKit knows, in its order (for "did you mean" suggestions).
const ALL_KEYS: [&str; 19] = [
    "type",
    "from",
    "source",
    "target",
    "readonly",
    "id",
    "sharing",
    "required",
    "size",
    "mode",
    "uid",
    "gid",
    "src",
    "dst",
    "destination",
    "ro",
    "rw",
    "readwrite",
    "env",
];

impl RunMount {
    /// Parse-time handling of one `--mount` value, as BuildKit's `parseMount(val, nil)`.
    pub fn parse(raw: &str) -> Result<Self, MountError> {
        let fields = super::csv::fields(raw).map_err(|e| MountError::Csv {
            message: e.to_string(),
        })?;
        let mut from = String::new();
        for field in &fields {
            let Some((key, value)) = field.split_once('=') else {
                continue;
            };
            if key.to_lowercase() == "from" {
                if let Some(idx) = value.find('$') {
                    if idx != value.len() - 1 {
                        return Err(MountError::FromVariable);
                    }
                }
                from = value.to_string();
            }
        }
        Ok(Self {
            raw: raw.to_string(),
            fields,
            from,
        })
    }

    /// Dispatch-time parse: expands every value with `expand` and validates the result, as
    /// BuildKit's `parseMount(val, expander)`.
    pub fn resolve<E, F>(&self, expand: F) -> Result<Mount, ResolveError<E>>
    where
        F: Fn(&str) -> Result<String, E>,
    {
        let mut m = Mount::default();
        let mut ro_auto = true;
        for field in &self.fields {
            let (key, value) = match field.split_once('=') {
                Some((k, v)) => (k.to_lowercase(), Some(v)),
                None => (field.to_lowercase(), None),
            };
            let Some(value) = value else {
                match key.as_str() {
                    "readonly" | "ro" => {
                        m.read_only = true;
                        ro_auto = false;
                    }
                    "readwrite" | "rw" => {
                        m.read_only = false;
                        ro_auto = false;
                    }
                    "required" => {
                        if !m.takes_required() {
                            return Err(unexpected_for_type(&key, m.mount_type));
                        }
                        m.required = true;
                    }
                    _ => {
                        return Err(ResolveError::Mount(MountError::NotKeyValue {
                            field: field.clone(),
                        }))
                    }
                }
                continue;
            };
            let value = expand(value).map_err(ResolveError::Expand)?;
            m.apply(&key, value, field, &mut ro_auto)
                .map_err(ResolveError::Mount)?;
        }
        m.finish(ro_auto).map_err(ResolveError::Mount)?;
        Ok(m)
    }

    /// [`RunMount::resolve`] with no expansion (values taken as written).
    pub fn resolve_literal(&self) -> Result<Mount, MountError> {
        self.resolve(|s| Ok::<_, std::convert::Infallible>(s.to_string()))
            .map_err(|e| match e {
                ResolveError::Mount(m) => m,
                ResolveError::Expand(never) => match never {},
            })
    }
}

fn unexpected_for_type<E>(key: &str, t: MountType) -> ResolveError<E> {
    ResolveError::Mount(MountError::UnexpectedKeyForType {
        key: key.to_string(),
        mount_type: t,
    })
}

/// Why [`RunMount::resolve`] failed.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError<E> {
    /// The expander failed on a value.
    #[error("{0}")]
    Expand(E),
    #[error(transparent)]
    Mount(MountError),
}

/// A mount after expansion and validation (BuildKit's `instructions.Mount`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Mount {
    pub mount_type: MountType,
    pub from: String,
    pub source: String,
    pub target: String,
    pub read_only: bool,
    /// tmpfs `size=` in bytes, 0 when not given.
    pub size_limit: i64,
    /// `id=`, empty when not given.
    pub cache_id: String,
    /// `sharing=`, None when not given (a cache then shares: see [`Mount::cache_sharing`]).
    pub sharing: Option<ShareMode>,
    pub required: bool,
    /// secret `env=`: the variable to expose the secret as.
    pub env: Option<String>,
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

impl Mount {
    fn takes_required(&self) -> bool {
        matches!(self.mount_type, MountType::Secret | MountType::Ssh)
    }

    fn apply(
        &mut self,
        key: &str,
        value: String,
        field: &str,
        ro_auto: &mut bool,
    ) -> Result<(), MountError> {
        let invalid_value = |value: &str| MountError::InvalidValue {
            key: key.to_string(),
            value: value.to_string(),
        };
        match key {
            "type" => {
                let Some(t) = MountType::parse(&value.to_lowercase()) else {
                    let names = MountType::ALL.map(MountType::as_str);
                    return Err(MountError::UnsupportedType {
                        suggestion: suggest(&value, &names, true),
                        value: go_quote(&value),
                    });
                };
                self.mount_type = t;
            }
            "from" => self.from = value,
            "source" | "src" => self.source = value,
            "target" | "dst" | "destination" => self.target = value,
            "readonly" | "ro" => {
                self.read_only = parse_bool(&value).ok_or_else(|| invalid_value(&value))?;
                *ro_auto = false;
            }
            "readwrite" | "rw" => {
                let rw = parse_bool(&value).ok_or_else(|| invalid_value(&value))?;
                self.read_only = !rw;
                *ro_auto = false;
            }
            "required" => {
                if !self.takes_required() {
                    return Err(MountError::UnexpectedKeyForType {
                        key: key.to_string(),
                        mount_type: self.mount_type,
                    });
                }
                self.required = parse_bool(&value).ok_or_else(|| invalid_value(&value))?;
            }
            "size" => {
                if self.mount_type != MountType::Tmpfs {
                    return Err(MountError::UnexpectedKeyForType {
                        key: key.to_string(),
                        mount_type: self.mount_type,
                    });
                }
                self.size_limit = ram_in_bytes(&value).ok_or_else(|| invalid_value(&value))?;
            }
            "id" => self.cache_id = value,
            "sharing" => {
                let lower = value.to_lowercase();
                let Some(s) = ShareMode::ALL.into_iter().find(|s| s.as_str() == lower) else {
                    let names = ShareMode::ALL.map(ShareMode::as_str);
                    return Err(MountError::UnsupportedSharing {
                        suggestion: suggest(&value, &names, true),
                        value: go_quote(&value),
                    });
                };
                self.sharing = Some(s);
            }
            "mode" | "uid" | "gid" => {
                let radix = if key == "mode" { 8 } else { 10 };
                let n = parse_uint(&value, radix, 32).ok_or_else(|| MountError::InvalidNumber {
                    key: key.to_string(),
                    value: value.clone(),
                })?;
                // parse_uint with 32 bits never exceeds u32::MAX.
                let n = u32::try_from(n).unwrap_or(u32::MAX);
                match key {
                    "mode" => self.mode = Some(n),
                    "uid" => self.uid = Some(n),
                    _ => self.gid = Some(n),
                }
            }
            "env" => self.env = Some(value),
            _ => {
                return Err(MountError::UnexpectedKey {
                    suggestion: suggest(key, &ALL_KEYS, true),
                    key: key.to_string(),
                    field: field.to_string(),
                })
            }
        }
        Ok(())
    }

    fn finish(&mut self, ro_auto: bool) -> Result<(), MountError> {
        let t = self.mount_type;
        let file_info_allowed = matches!(t, MountType::Secret | MountType::Ssh | MountType::Cache);
        if !file_info_allowed {
            for (set, what) in [
                (self.mode.is_some(), "mode"),
                (self.uid.is_some(), "uid"),
                (self.gid.is_some(), "gid"),
            ] {
                if set {
                    return Err(MountError::FileInfoNotAllowed {
                        what,
                        mount_type: t,
                    });
                }
            }
        }
        if ro_auto {
            self.read_only = !matches!(t, MountType::Cache | MountType::Tmpfs);
        }
        if t == MountType::Secret {
            if !self.from.is_empty() {
                return Err(MountError::SecretWithFrom);
            }
            if self.sharing.is_some() {
                return Err(MountError::SecretWithSharing);
            }
            if self.source.is_empty() && self.target.is_empty() && self.cache_id.is_empty() {
                return Err(MountError::SecretWithoutSourceOrTarget);
            }
            if !self.source.is_empty() && !self.cache_id.is_empty() {
                return Err(MountError::SecretSourceAndId);
            }
        }
        if self.sharing.is_some() && t != MountType::Cache {
            return Err(MountError::SharingNotCache { mount_type: t });
        }
        Ok(())
    }

    /// A cache mount's sharing mode (`shared` unless given).
    pub fn cache_sharing(&self) -> ShareMode {
        self.sharing.unwrap_or_default()
    }

    /// A cache mount's id: `id=`, else the cleaned target path (BuildKit's default).
    pub fn cache_id(&self) -> String {
        if self.cache_id.is_empty() {
            path_clean(&self.target)
        } else {
            self.cache_id.clone()
        }
    }

    /// Owner and mode of a cache mount's directory when any of uid/gid/mode is given
    /// (uid/gid default 0, mode 0755), None otherwise.
    pub fn cache_dir_owner(&self) -> Option<FileOwner> {
        self.file_owner(0o755)
    }

    fn file_owner(&self, default_mode: u32) -> Option<FileOwner> {
        if self.uid.is_none() && self.gid.is_none() && self.mode.is_none() {
            return None;
        }
        Some(FileOwner {
            uid: self.uid.unwrap_or(0),
            gid: self.gid.unwrap_or(0),
            mode: self.mode.unwrap_or(default_mode),
        })
    }

    /// The secret a `type=secret` mount asks for, with BuildKit's defaults applied.
    pub fn secret(&self) -> Result<SecretMount, MountError> {
        let mut id = if self.source.is_empty() {
            self.cache_id.clone()
        } else {
            self.source.clone()
        };
        if id.is_empty() {
            if self.target.is_empty() {
                return Err(MountError::SecretNeedsSourceOrTarget);
            }
            id = path_base(&self.target);
        }
        let target = match (&self.env, self.target.is_empty()) {
            (None, true) => Some(format!("/run/secrets/{}", path_base(&id))),
            (_, false) => Some(self.target.clone()),
            (Some(_), true) => None,
        };
        let owner = self.file_owner(0o400).unwrap_or(FileOwner {
            uid: 0,
            gid: 0,
            mode: 0o400,
        });
        Ok(SecretMount {
            id,
            target,
            env: self.env.clone(),
            required: self.required,
            owner,
        })
    }

    /// The ssh agent socket a `type=ssh` mount asks for; `index` is its position among the
    /// RUN's ssh mounts (the default socket path is `/run/buildkit/ssh_agent.<index>`).
    pub fn ssh(&self, index: usize) -> Result<SshMount, MountError> {
        if !self.source.is_empty() {
            return Err(MountError::SshWithSource);
        }
        let id = if self.cache_id.is_empty() {
            "default".to_string()
        } else {
            self.cache_id.clone()
        };
        let target = if self.target.is_empty() {
            format!("/run/buildkit/ssh_agent.{index}")
        } else {
            self.target.clone()
        };
        let owner = self.file_owner(0o600).unwrap_or(FileOwner {
            uid: 0,
            gid: 0,
            mode: 0o600,
        });
        Ok(SshMount {
            id,
            target,
            required: self.required,
            owner,
        })
    }
}

/// Owner and permissions of a mounted file or directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FileOwner {
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
}

/// A secret mount with defaults applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretMount {
    pub id: String,
    /// The file path in the container; None when the secret is only exposed as `env`.
    pub target: Option<String>,
    pub env: Option<String>,
    /// When false, a missing secret is skipped.
    pub required: bool,
    pub owner: FileOwner,
}

/// An ssh-agent socket mount with defaults applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SshMount {
    pub id: String,
    pub target: String,
    pub required: bool,
    pub owner: FileOwner,
}
