//! RUN: the exec op with its mounts, network and security modes, and heredocs
//! (BuildKit's `dispatchRun`, `dispatchRunMounts`, `dispatchSecret`, `dispatchSSH`).

use crate::instructions::{
    MountType, NetworkMode as InstrNetwork, ResolveError, RunCommand, SecurityMode as InstrSecurity,
};
use crate::parser::{chomp_heredoc_content, parse_heredoc};
use crate::shell::{Lexer, LexerOptions};
use slipway_graph::{
    CacheSharing, ExecOp, ExecOutput, Mount, MountKind, NetworkMode, Op, SecretEnv, SecurityMode,
};

use super::config::{go_slice, with_shell};
use super::ctx::{Inputs, VertexMeta};
use super::dispatch::StageRun;
use super::error::LowerErrorKind;
use super::names::{process_cmd_env, uppercase_cmd};
use super::paths::{clean, is_abs, join};

pub fn dispatch_run(
    s: &mut StageRun,
    c: &RunCommand,
    sources: &[usize],
    on_build: bool,
) -> Result<(), LowerErrorKind> {
    if !c.devices.is_empty() {
        return Err(LowerErrorKind::NotSupported {
            what: "RUN --device (CDI devices)",
        });
    }
    let os = s.os();
    let mut inputs = Inputs::default();
    let rootfs = inputs.opt(s.d.state.root.as_ref());
    let mut mounts = Vec::new();
    let mut custom_name = c.original.clone();
    let mut args = c.cmd.cmd_line.clone();
    if !c.cmd.files.is_empty() {
        let (a, summary) = heredoc_args(s, c, &os, &mut inputs, &mut mounts)?;
        args = a;
        if let Some(summary) = summary {
            custom_name.push_str(&format!(" ({summary})"));
        }
    }
    if c.cmd.prepend_shell {
        args = with_shell(&s.d.image, &os, &args);
    }
    let mut secret_env = Vec::new();
    run_mounts(s, c, sources, &mut inputs, &mut mounts, &mut secret_env)?;

    let mut env = s.d.state.env.clone();
    let first_ssh = mounts
        .iter()
        .find(|m| matches!(m.kind, MountKind::Ssh { .. }))
        .map(|m| m.target.clone());
    if let Some(target) = first_ssh {
        if !env.contains("SSH_AUTH_SOCK") {
            env.set("SSH_AUTH_SOCK", &target);
        }
    }
    let exec = ExecOp {
        args: args.clone(),
        env: env.to_array(),
        cwd: s.d.state.cwd.clone(),
        user: s.d.state.user.clone(),
        network: match c.network {
            InstrNetwork::Default => NetworkMode::Sandbox,
            InstrNetwork::None => NetworkMode::None,
            InstrNetwork::Host => NetworkMode::Host,
        },
        security: match c.security {
            InstrSecurity::Sandbox => SecurityMode::Sandbox,
            InstrSecurity::Insecure => SecurityMode::Insecure,
        },
        rootfs,
        output: ExecOutput::Rootfs,
        mounts,
        secret_env: secret_env.clone(),
    };

    let names: Vec<String> = secret_env.iter().map(|e| e.name.clone()).collect();
    let masked = s.masked_env(&names);
    let raw = Lexer::with_options(
        s.ctx.lexer.escape(),
        LexerOptions {
            raw_quotes: true,
            skip_unset_env: true,
            ..Default::default()
        },
    );
    let text = uppercase_cmd(&process_cmd_env(&raw, &custom_name, &masked));
    let platform = s.d.state.platform.clone();
    let name = s.counter.name(&text, &platform, Some(&masked), on_build);
    let meta = VertexMeta {
        name,
        location: Some(c.location),
        command: Some(c.original.clone()),
    };
    s.d.state.root = Some(s.ctx.add(Op::Exec(exec), inputs, &platform, meta));
    let history = s.run_history(&args);
    s.commit(history, true, true);
    Ok(())
}

/// The command line of a RUN with heredocs, and the summary shown in its name.
fn heredoc_args(
    s: &mut StageRun,
    c: &RunCommand,
    os: &str,
    inputs: &mut Inputs,
    mounts: &mut Vec<Mount>,
) -> Result<(Vec<String>, Option<String>), LowerErrorKind> {
    let args = &c.cmd.cmd_line;
    let (Some(first), 1, true) = (args.first(), args.len(), c.cmd.prepend_shell) else {
        return Err(LowerErrorKind::InvalidRunHeredoc {
            args: go_slice(args),
        });
    };
    let single = matches!(parse_heredoc(first), Ok(Some(_)));
    let Some(file) = c.cmd.files.first().filter(|_| single) else {
        // Several heredocs or a command around one: hand the whole script to the shell.
        let mut script = first.clone();
        for f in &c.cmd.files {
            script.push('\n');
            script.push_str(&f.data);
            script.push_str(&f.name);
        }
        return Ok((vec![script], None));
    };
    let data = if file.chomp {
        chomp_heredoc_content(&file.data)
    } else {
        file.data.clone()
    };
    let summary = Some(summarize_heredoc(&file.data));
    if os == "windows" || !data.starts_with("#!") {
        return Ok((vec![data], summary));
    }
    // A script with a shebang: write it to a file and run that.
    let doc = s.inline_document(join(&["/", &file.name]), 0o755, data);
    mounts.push(Mount {
        target: "/dev/pipes/".into(),
        kind: MountKind::Layer {
            input: Some(inputs.index(&doc)),
            selector: "/".into(),
            readonly: true,
        },
    });
    Ok((vec![join(&["/dev/pipes/", &file.name])], summary))
}

fn summarize_heredoc(doc: &str) -> String {
    let doc = doc.trim().replace("\r\n", "\n");
    let mut lines = doc.split('\n');
    let first = lines.next().unwrap_or_default().to_string();
    if lines.next().is_some() {
        format!("{first}...")
    } else {
        first
    }
}

fn run_mounts(
    s: &mut StageRun,
    c: &RunCommand,
    sources: &[usize],
    inputs: &mut Inputs,
    mounts: &mut Vec<Mount>,
    secret_env: &mut Vec<SecretEnv>,
) -> Result<(), LowerErrorKind> {
    let mut ssh_index = 0;
    for (i, raw) in c.mounts.iter().enumerate() {
        let m = raw
            .resolve(|w| {
                s.ctx
                    .lexer
                    .process_word(w, &s.d.state.env)
                    .map(|e| e.result)
            })
            .map_err(|e| match e {
                ResolveError::Expand(source) => LowerErrorKind::Expand { source },
                ResolveError::Mount(source) => LowerErrorKind::Mount { source },
            })?;
        match m.mount_type {
            MountType::Secret => {
                let secret = m
                    .secret()
                    .map_err(|source| LowerErrorKind::Mount { source })?;
                if let Some(target) = &secret.target {
                    mounts.push(Mount {
                        target: target.clone(),
                        kind: MountKind::Secret {
                            id: secret.id.clone(),
                            required: secret.required,
                            uid: secret.owner.uid,
                            gid: secret.owner.gid,
                            mode: secret.owner.mode,
                        },
                    });
                }
                if let Some(name) = &secret.env {
                    secret_env.push(SecretEnv {
                        id: secret.id.clone(),
                        name: name.clone(),
                        required: secret.required,
                    });
                }
                continue;
            }
            MountType::Ssh => {
                let ssh = m
                    .ssh(ssh_index)
                    .map_err(|source| LowerErrorKind::Mount { source })?;
                ssh_index += 1;
                mounts.push(Mount {
                    target: ssh.target,
                    kind: MountKind::Ssh {
                        id: ssh.id,
                        required: ssh.required,
                        uid: ssh.owner.uid,
                        gid: ssh.owner.gid,
                        mode: ssh.owner.mode,
                    },
                });
                continue;
            }
            _ => {}
        }
        let mut from = m.from.clone();
        if from.is_empty() && m.mount_type == MountType::Cache {
            from = "scratch".into();
        }
        let root = if m.mount_type == MountType::Tmpfs {
            None
        } else if from.is_empty() {
            Some(s.ctx.build_context())
        } else {
            let done = sources
                .get(i)
                .and_then(|&src| s.entries.get(src))
                .and_then(|e| e.done.as_ref());
            let Some(done) = done else {
                return Err(LowerErrorKind::MountFromLaterStage {
                    from: from.clone(),
                    target: m.target.clone(),
                });
            };
            done.state.root.clone()
        };
        let target = if is_abs(&clean(&m.target)) {
            m.target.clone()
        } else {
            join(&["/", &s.d.state.cwd, &m.target])
        };
        if target == "/" {
            return Err(LowerErrorKind::InvalidMountTarget { target });
        }
        let src = join(&["/", &m.source]);
        let kind = match m.mount_type {
            MountType::Tmpfs => MountKind::Tmpfs {
                size: u64::try_from(m.size_limit).ok().filter(|n| *n > 0),
            },
            MountType::Cache => {
                let owner = if src == "/" {
                    m.cache_dir_owner()
                } else {
                    None
                };
                MountKind::Cache {
                    id: m.cache_id(),
                    sharing: match m.cache_sharing() {
                        crate::instructions::ShareMode::Shared => CacheSharing::Shared,
                        crate::instructions::ShareMode::Private => CacheSharing::Private,
                        crate::instructions::ShareMode::Locked => CacheSharing::Locked,
                    },
                    from: inputs.opt(root.as_ref()),
                    selector: src,
                    uid: owner.map_or(0, |o| o.uid),
                    gid: owner.map_or(0, |o| o.gid),
                    mode: owner.map_or(0o755, |o| o.mode),
                    readonly: m.read_only,
                }
            }
            _ => MountKind::Layer {
                input: inputs.opt(root.as_ref()),
                selector: src,
                readonly: m.read_only,
            },
        };
        mounts.push(Mount { target, kind });
    }
    Ok(())
}
