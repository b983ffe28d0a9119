//! The OCI runtime `config.json` of a RUN container, Docker/BuildKit style.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    Capability, LinuxBuilder, LinuxCapabilitiesBuilder, LinuxDeviceCgroupBuilder,
    LinuxMemoryBuilder, LinuxNamespaceBuilder, LinuxNamespaceType, LinuxPidsBuilder,
    LinuxResourcesBuilder, Mount, MountBuilder, ProcessBuilder, RootBuilder, Spec, SpecBuilder,
    UserBuilder,
};

use super::{Access, ExecError, MountSpec, NetworkMode, ResolvedUser, Resources, Result};

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
            &["nosuid", "noexec", "nodev", "ro"],
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

pub(crate) fn build(input: &SpecInput<'_>) -> Result<Spec> {
    let caps: HashSet<Capability> = DEFAULT_CAPS.into_iter().collect();
    let capabilities = LinuxCapabilitiesBuilder::default()
        .bounding(caps.clone())
        .effective(caps.clone())
        .permitted(caps)
        .build()
        .map_err(spec_err)?;
    let user = UserBuilder::default()
        .uid(input.user.uid)
        .gid(input.user.gid)
        .additional_gids(input.user.additional_gids.clone())
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
    let mut resources = LinuxResourcesBuilder::default().devices(vec![deny_all]);
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
    let linux = LinuxBuilder::default()
        .namespaces(namespaces)
        .resources(resources.build().map_err(spec_err)?)
        .cgroups_path(PathBuf::from(&input.cgroups_path))
        .masked_paths(MASKED_PATHS.map(String::from).to_vec())
        .readonly_paths(READONLY_PATHS.map(String::from).to_vec())
        .build()
        .map_err(spec_err)?;

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
            serde_json::json!({"uid": 1000, "gid": 50, "additionalGids": [7]})
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
}
