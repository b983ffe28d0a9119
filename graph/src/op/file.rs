//! File ops: ordered filesystem actions applied to one base.

use super::InputIndex;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileOp {
    /// The filesystem the actions apply to; `None` starts from an empty one.
    pub base: Option<InputIndex>,
    /// Applied in order, each on the result of the previous one.
    pub actions: Vec<FileAction>,
}

impl FileOp {
    pub(crate) fn input_refs(&self) -> Vec<InputIndex> {
        let mut refs: Vec<InputIndex> = self.base.into_iter().collect();
        for a in &self.actions {
            if let FileAction::Copy(c) = a {
                if let Some(i) = c.src_input {
                    refs.push(i);
                }
            }
        }
        refs
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileAction {
    Copy(CopyAction),
    Mkdir(MkdirAction),
    Mkfile(MkfileAction),
    Rm(RmAction),
}

/// A user or group, by number or by name (resolved against the destination's
/// `/etc/passwd` / `/etc/group` at run time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserSpec {
    Id(u32),
    Name(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chown {
    pub user: UserSpec,
    /// `None`: the user's primary group (or the same id when the user is numeric).
    pub group: Option<UserSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Chmod {
    /// `--chmod=0755`.
    Octal(u32),
    /// `--chmod=u+x,g=rw` (applied relative to each file's mode).
    Symbolic(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopyAction {
    /// The input copied from; `None` copies from an empty filesystem.
    pub src_input: Option<InputIndex>,
    /// Source path in the input; may contain wildcards when `allow_wildcard`.
    pub src: String,
    /// Absolute destination; a trailing `/` means "into this directory".
    pub dest: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chown: Option<Chown>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chmod: Option<Chmod>,
    /// Only paths matching these (relative to `src`) are copied, keeping their parents
    /// (`COPY --parents`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include_patterns: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_patterns: Vec<String>,
    /// Paths that must exist (relative to the input root).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_paths: Vec<String>,
    pub follow_symlinks: bool,
    /// Copy a directory's contents rather than the directory itself.
    pub dir_contents_only: bool,
    pub create_dest_path: bool,
    pub allow_wildcard: bool,
    pub allow_empty_wildcard: bool,
    /// Unpack local tar archives into `dest` (`ADD`).
    pub attempt_unpack: bool,
    pub always_replace_existing_dest_paths: bool,
    /// Modification time (unix seconds) for the copied files (`SOURCE_DATE_EPOCH`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
}

impl CopyAction {
    /// A plain copy of `src` from `src_input` to `dest` with every flag off.
    pub fn new(src_input: Option<InputIndex>, src: &str, dest: &str) -> CopyAction {
        CopyAction {
            src_input,
            src: src.to_string(),
            dest: dest.to_string(),
            chown: None,
            chmod: None,
            include_patterns: Vec::new(),
            exclude_patterns: Vec::new(),
            required_paths: Vec::new(),
            follow_symlinks: false,
            dir_contents_only: false,
            create_dest_path: false,
            allow_wildcard: false,
            allow_empty_wildcard: false,
            attempt_unpack: false,
            always_replace_existing_dest_paths: false,
            timestamp: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MkdirAction {
    pub path: String,
    pub mode: u32,
    pub make_parents: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chown: Option<Chown>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MkfileAction {
    pub path: String,
    pub mode: u32,
    pub data: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chown: Option<Chown>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RmAction {
    pub path: String,
    pub allow_not_found: bool,
    pub allow_wildcard: bool,
}
