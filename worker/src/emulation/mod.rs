//! Which foreign platforms this machine can run: QEMU user emulation registered in
//! binfmt_misc with the F (fix-binary) flag, so that the interpreter is opened at
//! registration and works inside containers whose rootfs lacks it.
//!
//! [`EmulationMode::Auto`] mounts binfmt_misc when needed and registers the
//! qemu-user-static handlers described in `/usr/share/binfmts/qemu-*` for platforms that
//! lack a usable one (replacing a handler registered without F).

mod binfmt;
mod elf;
mod native;
mod register;

pub use binfmt::BinfmtEntry;

use std::fmt;
use std::path::PathBuf;

use slipway_graph::Platform;

/// Whether the worker registers emulators itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EmulationMode {
    /// Registers nothing. Handlers already registered (by the administrator) are still
    /// reported, since the kernel uses them regardless.
    #[default]
    Off,
    /// Registers missing qemu-user-static handlers (needs root and the package).
    Auto,
}

/// Where binfmt_misc and qemu-user-static's handler definitions are.
#[derive(Debug, Clone)]
pub struct EmulationConfig {
    pub binfmt_misc_dir: PathBuf,
    pub definitions_dir: PathBuf,
}

impl Default for EmulationConfig {
    fn default() -> Self {
        EmulationConfig {
            binfmt_misc_dir: PathBuf::from("/proc/sys/fs/binfmt_misc"),
            definitions_dir: PathBuf::from("/usr/share/binfmts"),
        }
    }
}

/// The platforms a worker can run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WorkerPlatforms {
    pub native: Vec<Platform>,
    pub emulated: Vec<Platform>,
    /// Platforms with an enabled handler that lacks the F flag: it runs binaries on the
    /// host but not inside containers.
    pub unusable: Vec<Platform>,
}

/// How a platform runs here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlatformSupport {
    Native,
    Emulated,
}

#[derive(Debug, thiserror::Error)]
pub enum EmulationError {
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("mounting binfmt_misc on {path}: {source}")]
    Mount {
        path: PathBuf,
        #[source]
        source: nix::Error,
    },
    #[error("{path}: {reason}")]
    BadDefinition { path: PathBuf, reason: String },
    #[error(
        "no QEMU handler definitions in {dir} (`apt-get install qemu-user-static binfmt-support`, \
         or run scripts/setup.sh)"
    )]
    NoDefinitions { dir: PathBuf },
    #[error("{}", unavailable_message(.platform, .platforms))]
    PlatformUnavailable {
        platform: Platform,
        platforms: Box<WorkerPlatforms>,
    },
}

fn list(ps: &[Platform]) -> String {
    if ps.is_empty() {
        "none".into()
    } else {
        ps.iter().map(platform_str).collect::<Vec<_>>().join(", ")
    }
}

/// `os/arch[/variant]`.
pub fn platform_str(p: &Platform) -> String {
    if p.variant.is_empty() {
        format!("{}/{}", p.os, p.architecture)
    } else {
        format!("{}/{}/{}", p.os, p.architecture, p.variant)
    }
}

fn unavailable_message(platform: &Platform, ps: &WorkerPlatforms) -> String {
    let mut s = format!(
        "platform {} cannot run on this worker (native: {}; emulated: {})",
        platform_str(platform),
        list(&ps.native),
        list(&ps.emulated)
    );
    if ps.unusable.contains(platform) {
        s.push_str(
            "; its binfmt_misc handler lacks the F (fix-binary) flag so it cannot run inside \
             containers: re-register it with F, or start the worker with `--emulate auto`",
        );
    } else {
        s.push_str(
            "; to emulate it, install QEMU user emulation (`apt-get install qemu-user-static`) \
             and start the worker with `--emulate auto`",
        );
    }
    s
}

impl fmt::Display for WorkerPlatforms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "native: {}; emulated: {}",
            list(&self.native),
            list(&self.emulated)
        )
    }
}

impl WorkerPlatforms {
    /// How `platform` runs here, or an error saying how to enable it.
    pub fn support(&self, platform: &Platform) -> Result<PlatformSupport, EmulationError> {
        if self.native.contains(platform) {
            Ok(PlatformSupport::Native)
        } else if self.emulated.contains(platform) {
            Ok(PlatformSupport::Emulated)
        } else {
            Err(EmulationError::PlatformUnavailable {
                platform: platform.clone(),
                platforms: Box::new(self.clone()),
            })
        }
    }

    /// Native first, then emulated.
    pub fn all(&self) -> impl Iterator<Item = &Platform> {
        self.native.iter().chain(&self.emulated)
    }
}

/// Reads binfmt_misc (a missing or unmounted binfmt_misc means no emulation).
pub fn detect(config: &EmulationConfig) -> Result<WorkerPlatforms, EmulationError> {
    let native = native::native_platforms();
    let entries = binfmt::read_entries(&config.binfmt_misc_dir)?;
    Ok(classify(native, &entries))
}

/// Applies `mode` (registering handlers for [`EmulationMode::Auto`]) and detects.
pub fn prepare(
    mode: EmulationMode,
    config: &EmulationConfig,
) -> Result<WorkerPlatforms, EmulationError> {
    if mode == EmulationMode::Auto {
        let native = native::native_platforms();
        register::register_missing(config, &native)?;
    }
    detect(config)
}

fn classify(native: Vec<Platform>, entries: &[BinfmtEntry]) -> WorkerPlatforms {
    let mut out = WorkerPlatforms {
        native,
        ..Default::default()
    };
    for e in entries.iter().filter(|e| e.enabled) {
        for p in e.platforms() {
            if out.native.contains(&p) {
                continue;
            }
            let list = if e.fix_binary() {
                &mut out.emulated
            } else {
                &mut out.unusable
            };
            if !list.contains(&p) {
                list.push(p);
            }
        }
    }
    out.unusable.retain(|p| !out.emulated.contains(p));
    out.emulated.sort();
    out.unusable.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, flags: &str, magic_hex: &str) -> BinfmtEntry {
        let text = format!(
            "enabled\ninterpreter /usr/bin/{name}-static\nflags: {flags}\noffset 0\nmagic {magic_hex}\nmask ffffffffffffff00fffffffffffffffffeffffff\n"
        );
        BinfmtEntry::parse(name, &text).unwrap()
    }

    #[test]
    fn classifies_by_elf_header_and_flag() {
        let arm64 = entry(
            "qemu-aarch64",
            "PF",
            "7f454c460201010000000000000000000200b700",
        );
        let arm = entry(
            "qemu-arm",
            "P",
            "7f454c460101010000000000000000000200 2800"
                .replace(' ', "")
                .as_str(),
        );
        let riscv = entry(
            "whatever",
            "POCF",
            "7f454c460201010000000000000000000200f300",
        );
        let ps = classify(vec![Platform::linux("amd64", "")], &[arm64, arm, riscv]);
        assert_eq!(
            ps.emulated,
            vec![Platform::linux("arm64", ""), Platform::linux("riscv64", "")]
        );
        assert_eq!(
            ps.unusable,
            vec![Platform::linux("arm", "v6"), Platform::linux("arm", "v7")]
        );
        assert_eq!(
            ps.support(&Platform::linux("arm64", "")).unwrap(),
            PlatformSupport::Emulated
        );
        assert_eq!(
            ps.support(&Platform::linux("amd64", "")).unwrap(),
            PlatformSupport::Native
        );
        let e = ps
            .support(&Platform::linux("s390x", ""))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("platform linux/s390x cannot run")
                && e.contains("apt-get install qemu-user-static")
                && e.contains("--emulate auto"),
            "{e}"
        );
        let e = ps
            .support(&Platform::linux("arm", "v7"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("lacks the F (fix-binary) flag"), "{e}");
    }
}
