//! Reading binfmt_misc's handler entries.

use std::fs;
use std::path::{Path, PathBuf};

use slipway_graph::Platform;

use super::{elf, EmulationError};

/// One handler as `/proc/sys/fs/binfmt_misc/<name>` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinfmtEntry {
    pub name: String,
    pub enabled: bool,
    pub interpreter: PathBuf,
    /// Letters, e.g. `POCF`.
    pub flags: String,
    pub offset: usize,
    /// Empty for extension-matched handlers.
    pub magic: Vec<u8>,
    pub mask: Vec<u8>,
}

impl BinfmtEntry {
    /// Parses an entry's text; `None` for text that is not a handler entry.
    pub fn parse(name: &str, text: &str) -> Option<BinfmtEntry> {
        let mut e = BinfmtEntry {
            name: name.to_string(),
            enabled: false,
            interpreter: PathBuf::new(),
            flags: String::new(),
            offset: 0,
            magic: Vec::new(),
            mask: Vec::new(),
        };
        let mut seen_state = false;
        for line in text.lines().map(str::trim) {
            match line.split_once([' ', ':']) {
                _ if line == "enabled" || line == "disabled" => {
                    e.enabled = line == "enabled";
                    seen_state = true;
                }
                Some(("interpreter", v)) => e.interpreter = PathBuf::from(v.trim()),
                Some(("flags", v)) => e.flags = v.trim_start_matches(':').trim().to_string(),
                Some(("offset", v)) => e.offset = v.trim().parse().ok()?,
                Some(("magic", v)) => e.magic = hex(v.trim())?,
                Some(("mask", v)) => e.mask = hex(v.trim())?,
                _ => {}
            }
        }
        seen_state.then_some(e)
    }

    /// F: the kernel opened the interpreter at registration, so it works in containers.
    pub fn fix_binary(&self) -> bool {
        self.flags.contains('F')
    }

    /// The platforms this handler runs (ELF handlers at offset 0 only).
    pub fn platforms(&self) -> Vec<Platform> {
        if self.offset != 0 {
            return Vec::new();
        }
        elf::platforms_for(&self.magic, &self.mask)
    }
}

fn hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
        .collect()
}

/// All handler entries in `dir`; none when binfmt_misc is not mounted there.
pub(crate) fn read_entries(dir: &Path) -> Result<Vec<BinfmtEntry>, EmulationError> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
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
        let entry = entry.map_err(|source| EmulationError::Io {
            op: "reading",
            path: dir.to_path_buf(),
            source,
        })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == "register" || name == "status" {
            continue;
        }
        let path = entry.path();
        let text = fs::read_to_string(&path).map_err(|source| EmulationError::Io {
            op: "reading",
            path: path.clone(),
            source,
        })?;
        if let Some(e) = BinfmtEntry::parse(&name, &text) {
            out.push(e);
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Whether binfmt_misc is mounted at `dir` (it has a `register` file then).
pub(crate) fn is_mounted(dir: &Path) -> bool {
    dir.join("register").exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kernel_format() {
        let text = "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\noffset 0\nmagic 7f454c460201010000000000000000000200b700\nmask ffffffffffffff00fffffffffffffffffeffffff\n";
        let e = BinfmtEntry::parse("qemu-aarch64", text).unwrap();
        assert!(e.enabled && e.fix_binary());
        assert_eq!(
            e.interpreter,
            PathBuf::from("/usr/libexec/qemu-binfmt/aarch64-binfmt-P")
        );
        assert_eq!(e.platforms(), vec![Platform::linux("arm64", "")]);
        let jar = BinfmtEntry::parse(
            "jar",
            "disabled\ninterpreter /usr/bin/jexec\nflags: \nextension .jar\n",
        )
        .unwrap();
        assert!(!jar.enabled && jar.platforms().is_empty());
        assert!(BinfmtEntry::parse("status", "enabled").is_some());
        assert!(BinfmtEntry::parse("x", "magic zz\nenabled").is_none());
    }
}
