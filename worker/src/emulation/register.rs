//! Registering qemu-user-static's handlers with the F flag.

use std::fs;
use std::path::{Path, PathBuf};

use nix::mount::{mount, MsFlags};
use slipway_graph::Platform;

use super::binfmt::{is_mounted, read_entries};
use super::{elf, EmulationConfig, EmulationError};

/// A handler definition from `/usr/share/binfmts/qemu-*` (binfmt-support's format).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Definition {
    pub name: String,
    pub interpreter: PathBuf,
    pub offset: usize,
    /// As written in the file (`\x..` escapes), which binfmt_misc's register accepts.
    pub magic_escaped: String,
    pub mask_escaped: String,
    pub magic: Vec<u8>,
    pub mask: Vec<u8>,
    pub preserve: bool,
    pub credentials: bool,
}

impl Definition {
    pub(crate) fn parse(path: &Path, text: &str) -> Result<Definition, EmulationError> {
        let bad = |reason: &str| EmulationError::BadDefinition {
            path: path.to_path_buf(),
            reason: reason.into(),
        };
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| bad("file name is not UTF-8"))?;
        let get = |key: &str| {
            text.lines().find_map(|l| {
                l.trim()
                    .strip_prefix(key)
                    .and_then(|v| v.strip_prefix(' '))
                    .map(str::trim)
            })
        };
        let magic_escaped = get("magic")
            .ok_or_else(|| bad("no magic line"))?
            .to_string();
        let mask_escaped = get("mask").unwrap_or("").to_string();
        let def = Definition {
            name: name.to_string(),
            interpreter: PathBuf::from(
                get("interpreter").ok_or_else(|| bad("no interpreter line"))?,
            ),
            offset: get("offset")
                .unwrap_or("0")
                .parse()
                .map_err(|_| bad("offset is not a number"))?,
            magic: unescape(&magic_escaped).ok_or_else(|| bad("magic has a bad escape"))?,
            mask: unescape(&mask_escaped).ok_or_else(|| bad("mask has a bad escape"))?,
            magic_escaped,
            mask_escaped,
            preserve: get("preserve") == Some("yes"),
            credentials: get("credentials") == Some("yes"),
        };
        if def.name.contains(':')
            || def.magic_escaped.contains(':')
            || def.mask_escaped.contains(':')
        {
            return Err(bad("':' is not allowed in a binfmt_misc registration"));
        }
        Ok(def)
    }

    pub(crate) fn platforms(&self) -> Vec<Platform> {
        if self.offset != 0 {
            return Vec::new();
        }
        elf::platforms_for(&self.magic, &self.mask)
    }

    /// `:name:M:offset:magic:mask:interpreter:flags` with F always set.
    pub(crate) fn register_line(&self) -> String {
        let mut flags = String::new();
        if self.preserve {
            flags.push('P');
        }
        if self.credentials {
            flags.push('C');
        }
        flags.push('F');
        format!(
            ":{}:M:{}:{}:{}:{}:{}",
            self.name,
            self.offset,
            self.magic_escaped,
            self.mask_escaped,
            self.interpreter.display(),
            flags
        )
    }
}

/// `\xNN` escapes and plain characters to bytes.
fn unescape(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b.get(i) == Some(&b'\\') && b.get(i + 1) == Some(&b'x') {
            let hex = s.get(i + 2..i + 4)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 4;
        } else {
            out.push(*b.get(i)?);
            i += 1;
        }
    }
    Some(out)
}

/// Mounts binfmt_misc if needed, then registers every qemu definition whose platforms are
/// neither native nor already usable, replacing handlers registered without F.
pub(crate) fn register_missing(
    config: &EmulationConfig,
    native: &[Platform],
) -> Result<(), EmulationError> {
    let dir = &config.binfmt_misc_dir;
    if !is_mounted(dir) {
        mount(
            Some("binfmt_misc"),
            dir,
            Some("binfmt_misc"),
            MsFlags::empty(),
            None::<&str>,
        )
        .map_err(|source| EmulationError::Mount {
            path: dir.clone(),
            source,
        })?;
    }
    let defs = read_definitions(&config.definitions_dir)?;
    for def in defs {
        let wanted: Vec<Platform> = def
            .platforms()
            .into_iter()
            .filter(|p| !native.contains(p))
            .collect();
        if wanted.is_empty() {
            continue;
        }
        if !def.interpreter.exists() {
            tracing::warn!(interpreter = %def.interpreter.display(), "qemu interpreter missing, not registering {}", def.name);
            continue;
        }
        let entries = read_entries(dir)?;
        let covering: Vec<_> = entries
            .iter()
            .filter(|e| e.platforms().iter().any(|p| wanted.contains(p)))
            .collect();
        if covering.iter().any(|e| e.enabled && e.fix_binary()) {
            continue;
        }
        for e in covering.iter().chain(
            entries
                .iter()
                .filter(|e| e.name == def.name)
                .collect::<Vec<_>>()
                .iter(),
        ) {
            let path = dir.join(&e.name);
            if path.exists() {
                fs::write(&path, "-1").map_err(|source| EmulationError::Io {
                    op: "removing handler",
                    path,
                    source,
                })?;
            }
        }
        let register = dir.join("register");
        fs::write(&register, def.register_line()).map_err(|source| EmulationError::Io {
            op: "registering a handler through",
            path: register,
            source,
        })?;
        tracing::info!(name = %def.name, "registered QEMU emulation");
    }
    Ok(())
}

fn read_definitions(dir: &Path) -> Result<Vec<Definition>, EmulationError> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(EmulationError::NoDefinitions {
                dir: dir.to_path_buf(),
            })
        }
        Err(source) => {
            return Err(EmulationError::Io {
                op: "reading",
                path: dir.to_path_buf(),
                source,
            })
        }
    };
    let mut out = Vec::new();
    for entry in rd {
        let path = entry
            .map_err(|source| EmulationError::Io {
                op: "reading",
                path: dir.to_path_buf(),
                source,
            })?
            .path();
        if !path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("qemu-"))
        {
            continue;
        }
        let text = fs::read_to_string(&path).map_err(|source| EmulationError::Io {
            op: "reading",
            path: path.clone(),
            source,
        })?;
        out.push(Definition::parse(&path, &text)?);
    }
    if out.is_empty() {
        return Err(EmulationError::NoDefinitions {
            dir: dir.to_path_buf(),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const AARCH64: &str = "package qemu-user-static\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nmagic \\x7f\\x45\\x4c\\x46\\x02\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\xb7\\x00\noffset 0\nmask \\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff\ncredentials no\nfix_binary yes\npreserve yes\n";

    #[test]
    fn parses_definition_and_builds_register_line() {
        let d = Definition::parse(Path::new("/usr/share/binfmts/qemu-aarch64"), AARCH64).unwrap();
        assert_eq!(d.platforms(), vec![Platform::linux("arm64", "")]);
        let line = d.register_line();
        assert!(
            line.starts_with(":qemu-aarch64:M:0:\\x7f\\x45\\x4c\\x46\\x02"),
            "{line}"
        );
        assert!(
            line.ends_with(":/usr/libexec/qemu-binfmt/aarch64-binfmt-P:PF"),
            "{line}"
        );
        let bad = Definition::parse(Path::new("/x/qemu-bad"), "interpreter /x\nmagic \\xZZ\n");
        assert!(matches!(bad, Err(EmulationError::BadDefinition { .. })));
    }
}
