//! The OCI runtime `config.json` of a RUN container, Docker/BuildKit style.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    Capability, LinuxBuilder, LinuxCapabilitiesBuilder, LinuxDeviceCgroupBuilder,
    LinuxMemoryBuilder, LinuxNamespaceBuilder, LinuxNamespaceType, LinuxPidsBuilder,
    LinuxResourcesBuilder, Mount, MountBuilder, ProcessBuilder, RootBuilder, Spec, SpecBuilder,
    UserBuilder,
};

use super::{Access, ExecError, MountSpec, NetworkMode, ResolvedUser, Resources, Result, Security};

/// Docker's default capability set.
pub(crate) const DEFAULT_CAPS: [Capability; 14] = [
    Capability::Chown,
    Capability::DacOverride,
    Capability::Fsetid,
    Capability::Fowner,
    Capability::Mknod,
    Capability::NetRaw,
    Capability::Setgid,
    Capability::Setuid,
    Capability::Setfcap,
    Capability::Setpcap,
    Capability::NetBindService,
    Capability::SysChroot,
    Capability::Kill,
    Capability::AuditWrite,
];

const MASKED_PATHS: [&str; 10] = [
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];
const READONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Generated files bind-mounted read-only into `/etc`.
#[derive(Debug, Clone)]
pub(crate) struct EtcFiles {
    pub hosts: PathBuf,
    pub resolv_conf: PathBuf,
    pub hostname: PathBuf,
}

pub(crate) struct SpecInput<'a> {
    pub rootfs: &'a Path,
    pub args: &'a [String],
    pub env: Vec<String>,
    pub cwd: &'a str,
    pub user: &'a ResolvedUser,
    pub hostname: &'a str,
    pub network: NetworkMode,
    pub etc: &'a EtcFiles,
    pub mounts: &'a [MountSpec],
    pub resources: Resources,
    pub cgroups_path: String,
    /// `Insecure`: the capabilities granted ([`caps_from_mask`] of the runtime's bounding set).
    pub security: SpecSecurity,
}

/// The privileges of a container, resolved.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) enum SpecSecurity {
    #[default]
    Sandbox,
    Insecure {
        caps: HashSet<Capability>,
    },
}

impl SpecSecurity {
    /// `security` with, for `Insecure`, this process's bounding capability set.
    pub(crate) fn resolve(security: Security) -> Result<SpecSecurity> {
        match security {
            Security::Sandbox => Ok(SpecSecurity::Sandbox),
            Security::Insecure => {
                let status = std::fs::read_to_string("/proc/self/status").map_err(|e| {
                    ExecError::InvalidSpec {
                        field: "capabilities",
                        value: "/proc/self/status".into(),
                        reason: if e.kind() == std::io::ErrorKind::NotFound {
                            "not found"
                        } else {
                            "unreadable"
                        },
                    }
                })?;
                let mask = status
                    .lines()
                    .find_map(|l| l.strip_prefix("CapBnd:"))
                    .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
                    .unwrap_or(0);
                Ok(SpecSecurity::Insecure {
                    caps: caps_from_mask(mask),
                })
            }
        }
    }
}

/// Linux capability names by bit number (linux/capability.h).
const CAP_NAMES: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// The capabilities whose bits are set in `mask` (bits this crate does not know are left out).
pub(crate) fn caps_from_mask(mask: u64) -> HashSet<Capability> {
    CAP_NAMES
        .iter()
        .enumerate()
        .filter(|(bit, _)| mask & (1u64 << bit) != 0)
        .filter_map(|(_, name)| {
            serde_json::from_value(serde_json::Value::String(format!("CAP_{name}"))).ok()
        })
        .collect()
}

/// Device nodes an insecure container gets (BuildKit's `WithInsecureSpec`).
fn insecure_devices() -> Result<Vec<oci_spec::runtime::LinuxDevice>> {
    use oci_spec::runtime::{LinuxDeviceBuilder, LinuxDeviceType};
    let mut nodes: Vec<(String, LinuxDeviceType, i64, i64)> = vec![
        ("/dev/kmsg".into(), LinuxDeviceType::C, 1, 11),
        ("/dev/cuse".into(), LinuxDeviceType::C, 10, 203),
        ("/dev/fuse".into(), LinuxDeviceType::C, 10, 229),
        ("/dev/kvm".into(), LinuxDeviceType::C, 10, 232),
        ("/dev/net/tun".into(), LinuxDeviceType::C, 10, 200),
        ("/dev/loop-control".into(), LinuxDeviceType::C, 10, 237),
    ];
    for i in 0..8 {
        nodes.push((format!("/dev/loop{i}"), LinuxDeviceType::B, 7, i));
    }
    nodes
        .into_iter()
        .map(|(path, typ, major, minor)| {
            LinuxDeviceBuilder::default()
                .path(path)
                .typ(typ)
                .major(major)
                .minor(minor)
                .file_mode(0o660u32)
                .uid(0u32)
                .gid(0u32)
                .build()
                .map_err(spec_err)
        })
        .collect()
}

fn spec_err(e: impl std::fmt::Display) -> ExecError {
    ExecError::Spec {
        reason: e.to_string(),
    }
}

fn mount(dest: &str, typ: &str, source: &Path, options: &[&str]) -> Result<Mount> {
    MountBuilder::default()
        .destination(dest)
        .typ(typ)
        .source(source)
        .options(options.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .build()
        .map_err(spec_err)
}

/// All mounts, standard ones first; the caller's mount destinations must be absolute.
pub(crate) fn mounts(input: &SpecInput<'_>) -> Result<Vec<Mount>> {
    let p = Path::new;
    let mut out = vec![
        mount("/proc", "proc", p("proc"), &["nosuid", "noexec", "nodev"])?,
        mount(
            "/dev",
            "tmpfs",
            p("tmpfs"),
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        )?,
        mount(
            "/dev/pts",
            "devpts",
            p("devpts"),
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        )?,
        mount(
            "/dev/shm",
            "tmpfs",
            p("shm"),
            &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        )?,
        mount(
            "/dev/mqueue",
            "mqueue",
            p("mqueue"),
            &["nosuid", "noexec", "nodev"],
        )?,
        mount(
            "/sys",
            "sysfs",
            p("sysfs"),
            match input.security {
                SpecSecurity::Sandbox => &["nosuid", "noexec", "nodev", "ro"],
                SpecSecurity::Insecure { .. } => &["nosuid", "noexec", "nodev", "rw"],
            },
        )?,
        mount("/etc/hosts", "bind", &input.etc.hosts, &["rbind", "ro"])?,
        mount(
            "/etc/resolv.conf",
            "bind",
            &input.etc.resolv_conf,
            &["rbind", "ro"],
        )?,
        mount(
            "/etc/hostname",
            "bind",
            &input.etc.hostname,
            &["rbind", "ro"],
        )?,
    ];
    for m in input.mounts {
        let target = match m {
            MountSpec::Bind { target, .. } | MountSpec::Tmpfs { target, .. } => target,
        };
        if !target.starts_with('/') || target.split('/').any(|c| c == "..") {
            return Err(ExecError::InvalidSpec {
                field: "mount target",
                value: target.clone(),
                reason: "must be an absolute path without ..",
            });
        }
        out.push(match m {
            MountSpec::Bind {
                source,
                target,
                access,
            } => {
                let mode = match access {
                    Access::ReadOnly => "ro",
                    Access::ReadWrite => "rw",
                };
                mount(target, "bind", source, &["rbind", mode])?
            }
            MountSpec::Tmpfs { target, size_bytes } => {
                let size = size_bytes.map(|s| format!("size={s}"));
                let mut opts = vec!["nosuid", "nodev", "mode=1777"];
                if let Some(s) = &size {
                    opts.push(s);
                }
                mount(target, "tmpfs", p("tmpfs"), &opts)?
            }
        });
    }
    Ok(out)
}

/// `process.user.additionalGids` as BuildKit's `WithUIDGID` leaves it (containerd's
/// `ensureAdditionalGids`): the supplementary groups, with the primary group in front unless
/// it is one of them.
fn additional_gids(user: &ResolvedUser) -> Vec<u32> {
    if user.additional_gids.contains(&user.gid) {
        return user.additional_gids.clone();
    }
    std::iter::once(user.gid)
        .chain(user.additional_gids.iter().copied())
        .collect()
}

pub(crate) fn build(input: &SpecInput<'_>) -> Result<Spec> {
    let mut caps: HashSet<Capability> = DEFAULT_CAPS.into_iter().collect();
    let mut capabilities = LinuxCapabilitiesBuilder::default();
    if let SpecSecurity::Insecure { caps: all } = &input.security {
        caps.extend(all.iter().cloned());
        capabilities = capabilities.ambient(caps.clone()).inheritable(caps.clone());
    }
    let capabilities = capabilities
        .bounding(caps.clone())
        .effective(caps.clone())
        .permitted(caps)
        .build()
        .map_err(spec_err)?;
    let user = UserBuilder::default()
        .uid(input.user.uid)
        .gid(input.user.gid)
        .additional_gids(additional_gids(input.user))
        .build()
        .map_err(spec_err)?;
    let process = ProcessBuilder::default()
        .terminal(false)
        .user(user)
        .args(input.args.to_vec())
        .env(input.env.clone())
        .cwd(if input.cwd.is_empty() { "/" } else { input.cwd })
        .capabilities(capabilities)
        .no_new_privileges(false)
        .build()
        .map_err(spec_err)?;

    let mut kinds = vec![
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Mount,
    ];
    if input.network == NetworkMode::None {
        kinds.push(LinuxNamespaceType::Network);
    }
    let namespaces = kinds
        .into_iter()
        .map(|typ| {
            LinuxNamespaceBuilder::default()
                .typ(typ)
                .build()
                .map_err(spec_err)
        })
        .collect::<Result<Vec<_>>>()?;

    let deny_all = LinuxDeviceCgroupBuilder::default()
        .allow(false)
        .access("rwm")
        .build()
        .map_err(spec_err)?;
    let device_rules = match input.security {
        SpecSecurity::Sandbox => vec![deny_all],
        SpecSecurity::Insecure { .. } => ["c", "b"]
            .into_iter()
            .map(|typ| {
                LinuxDeviceCgroupBuilder::default()
                    .allow(true)
                    .typ(
                        typ.parse::<oci_spec::runtime::LinuxDeviceType>()
                            .map_err(spec_err)?,
                    )
                    .access("rwm")
                    .build()
                    .map_err(spec_err)
            })
            .collect::<Result<Vec<_>>>()?,
    };
    let mut resources = LinuxResourcesBuilder::default().devices(device_rules);
    if let Some(limit) = input.resources.memory_bytes {
        resources = resources.memory(
            LinuxMemoryBuilder::default()
                .limit(limit)
                .build()
                .map_err(spec_err)?,
        );
    }
    if let Some(limit) = input.resources.pids {
        resources = resources.pids(
            LinuxPidsBuilder::default()
                .limit(limit)
                .build()
                .map_err(spec_err)?,
        );
    }
    let mut linux = LinuxBuilder::default()
        .namespaces(namespaces)
        .resources(resources.build().map_err(spec_err)?)
        .cgroups_path(PathBuf::from(&input.cgroups_path));
    linux = match input.security {
        SpecSecurity::Sandbox => linux
            .masked_paths(MASKED_PATHS.map(String::from).to_vec())
            .readonly_paths(READONLY_PATHS.map(String::from).to_vec()),
        SpecSecurity::Insecure { .. } => linux
            .masked_paths(Vec::<String>::new())
            .readonly_paths(Vec::<String>::new())
            .devices(insecure_devices()?),
    };
    let linux = linux.build().map_err(spec_err)?;

    SpecBuilder::default()
        .version("1.0.2")
        .root(
            RootBuilder::default()
                .path(input.rootfs)
                .readonly(false)
                .build()
                .map_err(spec_err)?,
        )
        .hostname(input.hostname)
        .process(process)
        .mounts(mounts(input)?)
        .linux(linux)
        .build()
        .map_err(spec_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>(
        etc: &'a EtcFiles,
        user: &'a ResolvedUser,
        mounts: &'a [MountSpec],
        args: &'a [String],
        network: NetworkMode,
    ) -> SpecInput<'a> {
        SpecInput {
            rootfs: Path::new("/r"),
            args,
            env: vec!["PATH=/bin".into()],
            cwd: "/work",
            user,
            hostname: "h",
            network,
            etc,
            mounts,
            resources: Resources {
                memory_bytes: Some(1 << 28),
                pids: None,
            },
            cgroups_path: "/slipway/x".into(),
            security: SpecSecurity::Sandbox,
        }
    }

    #[test]
    fn config_has_namespaces_caps_mounts_and_user() {
        let etc = EtcFiles {
            hosts: "/b/hosts".into(),
            resolv_conf: "/b/resolv.conf".into(),
            hostname: "/b/hostname".into(),
        };
        let user = ResolvedUser {
            uid: 1000,
            gid: 50,
            additional_gids: vec![7],
            home: "/".into(),
        };
        let mounts = [MountSpec::Tmpfs {
            target: "/cache".into(),
            size_bytes: Some(1024),
        }];
        let args = ["sh".to_string()];
        let spec = build(&input(&etc, &user, &mounts, &args, NetworkMode::None)).unwrap();
        let json = serde_json::to_value(&spec).unwrap();
        let ns: Vec<&str> = json["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        assert_eq!(ns, ["pid", "ipc", "uts", "mount", "network"]);
        assert_eq!(
            json["process"]["capabilities"]["bounding"]
                .as_array()
                .unwrap()
                .len(),
            14
        );
        assert_eq!(
            json["process"]["user"],
            serde_json::json!({"uid": 1000, "gid": 50, "additionalGids": [50, 7]})
        );
        assert_eq!(json["hostname"], "h");
        assert_eq!(json["linux"]["resources"]["memory"]["limit"], 1 << 28);
        let dests: Vec<&str> = json["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["destination"].as_str().unwrap())
            .collect();
        assert_eq!(
            dests,
            [
                "/proc",
                "/dev",
                "/dev/pts",
                "/dev/shm",
                "/dev/mqueue",
                "/sys",
                "/etc/hosts",
                "/etc/resolv.conf",
                "/etc/hostname",
                "/cache"
            ]
        );
        let last = json["mounts"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(
            last["options"],
            serde_json::json!(["nosuid", "nodev", "mode=1777", "size=1024"])
        );

        let host = build(&input(&etc, &user, &[], &args, NetworkMode::Host)).unwrap();
        let json = serde_json::to_value(&host).unwrap();
        assert_eq!(json["linux"]["namespaces"].as_array().unwrap().len(), 4);
    }

    #[test]
    fn relative_mount_targets_are_refused() {
        let etc = EtcFiles {
            hosts: "/h".into(),
            resolv_conf: "/r".into(),
            hostname: "/n".into(),
        };
        let user = ResolvedUser {
            uid: 0,
            gid: 0,
            additional_gids: vec![],
            home: "/".into(),
        };
        let args = ["sh".to_string()];
        for t in ["cache", "/a/../../b"] {
            let mounts = [MountSpec::Bind {
                source: "/x".into(),
                target: t.into(),
                access: Access::ReadOnly,
            }];
            assert!(matches!(
                build(&input(&etc, &user, &mounts, &args, NetworkMode::None)),
                Err(ExecError::InvalidSpec { .. })
            ));
        }
    }

    #[test]
    fn capability_masks_name_the_kernels_bits() {
        let caps = caps_from_mask((1 << 0) | (1 << 21) | (1 << 40) | (1 << 63));
        let want: HashSet<Capability> = [
            Capability::Chown,
            Capability::SysAdmin,
            Capability::CheckpointRestore,
        ]
        .into();
        assert_eq!(caps, want, "bit 63 is no capability this crate knows");
        assert_eq!(caps_from_mask(0), HashSet::new());
    }

    #[test]
    fn insecure_configs_drop_the_sandbox() {
        let etc = EtcFiles {
            hosts: "/b/hosts".into(),
            resolv_conf: "/b/resolv.conf".into(),
            hostname: "/b/hostname".into(),
        };
        let user = ResolvedUser {
            uid: 0,
            gid: 0,
            additional_gids: vec![],
            home: "/root".into(),
        };
        let args = ["sh".to_string()];
        let mut i = input(&etc, &user, &[], &args, NetworkMode::Host);
        i.security = SpecSecurity::Insecure {
            caps: caps_from_mask(u64::MAX),
        };
        let json = serde_json::to_value(build(&i).unwrap()).unwrap();
        let eff = json["process"]["capabilities"]["effective"]
            .as_array()
            .unwrap();
        assert_eq!(eff.len(), CAP_NAMES.len());
        assert!(eff.contains(&serde_json::json!("CAP_SYS_ADMIN")));
        assert!(json["linux"]["maskedPaths"].as_array().unwrap().is_empty());
        assert!(json["linux"]["readonlyPaths"]
            .as_array()
            .unwrap()
            .is_empty());
        let sys = json["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["destination"] == "/sys")
            .unwrap();
        assert!(sys["options"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("rw")));
        let rules = json["linux"]["resources"]["devices"].as_array().unwrap();
        assert!(rules.iter().all(|r| r["allow"] == true), "{rules:?}");
        let devices = json["linux"]["devices"].as_array().unwrap();
        assert!(devices.iter().any(|d| d["path"] == "/dev/fuse"));
        // The sandbox keeps Docker's defaults.
        let json = serde_json::to_value(
            build(&input(&etc, &user, &[], &args, NetworkMode::Host)).unwrap(),
        )
        .unwrap();
        let eff = json["process"]["capabilities"]["effective"]
            .as_array()
            .unwrap();
        assert_eq!(eff.len(), DEFAULT_CAPS.len());
        assert!(!json["linux"]["maskedPaths"].as_array().unwrap().is_empty());
    }
}

#[cfg(test)]
mod user_tests {
    use super::*;

    fn gids(gid: u32, sgids: &[u32]) -> Vec<u32> {
        additional_gids(&ResolvedUser {
            uid: 1,
            gid,
            additional_gids: sgids.to_vec(),
            home: "/".into(),
        })
    }

    #[test]
    fn the_primary_group_leads_unless_already_listed() {
        assert_eq!(gids(1000, &[50, 10]), [1000, 50, 10]);
        assert_eq!(gids(50, &[10, 50, 10]), [10, 50, 10]);
        assert_eq!(gids(0, &[]), [0]);
    }
}
