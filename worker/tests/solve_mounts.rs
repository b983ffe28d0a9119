//! RUN mounts in real solves (root only): cache (persistence, locked sharing), secrets,
//! tmpfs, ssh and bind mounts of other vertices.

mod common;
mod solve_support;

use std::sync::atomic::Ordering;

use slipway_graph::{CacheSharing, Graph, Mount, MountKind, SecretEnv};
use slipway_worker::{SecretSource, SolveError, SshSource, VertexError};
use solve_support::*;

fn cache_mount(id: &str, sharing: CacheSharing) -> Mount {
    Mount {
        target: "/cache".into(),
        kind: MountKind::Cache {
            id: id.into(),
            sharing,
            from: None,
            selector: "/".into(),
            uid: 0,
            gid: 0,
            mode: 0o755,
            readonly: false,
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cache_mount_persists_and_locked_is_exclusive() {
    let reg = TestRegistry::start();
    let base = push_base(&reg, "amd64").await;
    let tmp = tempfile::tempdir().unwrap();
    let w = worker(tmp.path(), "cachemount");
    let p = host();
    let one = |cmd: &str, id: &str, sharing: CacheSharing| {
        let mut g = Graph::new();
        let from = image(&mut g, &base, &p);
        let step = run_with(
            &mut g,
            &from,
            cmd,
            vec![cache_mount(id, sharing)],
            vec![],
            &p,
        );
        output(&mut g, &step, &p);
        request(g)
    };
    let (r, _) = solve(
        &w.worker,
        one("echo kept > /cache/a", "c1", CacheSharing::Shared),
    )
    .await;
    let first = r.unwrap();
    let files = layer_files(w.worker.store(), first.images[0].layers.last().unwrap());
    assert!(!files.keys().any(|k| k.starts_with("cache/")), "{files:?}");
    let (r, _) = solve(
        &w.worker,
        one("cat /cache/a > /seen", "c1", CacheSharing::Shared),
    )
    .await;
    let second = r.unwrap();
    let files = layer_files(w.worker.store(), second.images[0].layers.last().unwrap());
    assert_eq!(
        files.get("seen").map(Vec::as_slice),
        Some(&b"kept\n"[..]),
        "{files:?}"
    );

    // Two concurrent solves using one locked cache: the second waits for the first.
    let step =
        |n: &str| format!("echo start-{n} >> /cache/log; sleep 1; echo end-{n} >> /cache/log");
    let (ra, rb) = tokio::join!(
        solve(&w.worker, one(&step("a"), "lk", CacheSharing::Locked)),
        solve(&w.worker, one(&step("b"), "lk", CacheSharing::Locked)),
    );
    ra.0.unwrap();
    rb.0.unwrap();
    let (r, _) = solve(
        &w.worker,
        one("cp /cache/log /log", "lk", CacheSharing::Locked),
    )
    .await;
    let done = r.unwrap();
    let files = layer_files(w.worker.store(), done.images[0].layers.last().unwrap());
    let log = String::from_utf8(files.get("log").cloned().unwrap_or_default()).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 4, "{log}");
    let interleaved = lines[0].starts_with("start") && lines[1].starts_with("start");
    assert!(!interleaved, "locked cache users overlapped:\n{log}");
    assert_eq!(
        lines[0].trim_start_matches("start-"),
        lines[1].trim_start_matches("end-"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn secrets_reach_the_run_but_no_layer_or_blob() {
    let reg = TestRegistry::start();
    let base = push_base(&reg, "amd64").await;
    let tmp = tempfile::tempdir().unwrap();
    let w = worker(tmp.path(), "secret");
    let secret_file = tmp.path().join("token");
    let value = "s3cr3t-VALUE-7f2a9";
    std::fs::write(&secret_file, value).unwrap();
    let p = host();
    let build = |required_missing: bool| {
        let mut g = Graph::new();
        let from = image(&mut g, &base, &p);
        // /run exists below the step: its copy-up for the mount point must not show.
        let from = run(&mut g, &from, "mkdir -p /run", &p);
        let mut mounts = vec![Mount {
            target: "/run/secrets/tok".into(),
            kind: MountKind::Secret {
                id: "tok".into(),
                required: true,
                uid: 1000,
                gid: 1000,
                mode: 0o400,
            },
        }];
        if required_missing {
            mounts.push(Mount {
                target: "/run/secrets/other".into(),
                kind: MountKind::Secret {
                    id: "absent".into(),
                    required: true,
                    uid: 0,
                    gid: 0,
                    mode: 0o400,
                },
            });
        }
        let cmd = format!(
            "test \"$(cat /run/secrets/tok)\" = {value} && echo ok > /file-ok; \
             test \"$TOK\" = {value} && echo ok > /env-ok; \
             stat -c %u:%a /run/secrets/tok > /owner"
        );
        let mut op = exec_op(&cmd);
        op.mounts = mounts;
        op.secret_env = vec![SecretEnv {
            id: "tok".into(),
            name: "TOK".into(),
            required: true,
        }];
        let step = g.add(
            slipway_graph::Vertex::new(
                slipway_graph::Op::Exec(op),
                vec![slipway_graph::Input::of(from)],
                p.clone(),
            )
            .with_name("RUN --mount=type=secret"),
        );
        output(&mut g, &step, &p);
        let mut req = request(g);
        req.secrets
            .insert("tok".into(), SecretSource::File(secret_file.clone()));
        req
    };
    let (r, _) = solve(&w.worker, build(false)).await;
    let result = r.unwrap();
    let files = layer_files(w.worker.store(), result.images[0].layers.last().unwrap());
    assert_eq!(
        files.get("file-ok").map(Vec::as_slice),
        Some(&b"ok\n"[..]),
        "{files:?}"
    );
    assert_eq!(
        files.get("env-ok").map(Vec::as_slice),
        Some(&b"ok\n"[..]),
        "{files:?}"
    );
    assert_eq!(
        files.get("owner").map(Vec::as_slice),
        Some(&b"1000:400\n"[..])
    );
    assert_eq!(
        files.keys().collect::<Vec<_>>(),
        vec!["env-ok", "file-ok", "owner"],
        "mount points left in the layer"
    );
    assert!(blobs_containing(w.worker.store(), value.as_bytes()).is_empty());
    assert!(files_containing(&tmp.path().join("data"), value.as_bytes()).is_empty());

    let (r, _) = solve(&w.worker, build(true)).await;
    match r.unwrap_err() {
        SolveError::Vertex { name, source, .. } => {
            assert_eq!(name, "RUN --mount=type=secret");
            assert!(
                matches!(*source, VertexError::MissingSecret { ref id } if id == "absent"),
                "{source:?}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tmpfs_ssh_and_bind_mounts() {
    let reg = TestRegistry::start();
    let base = push_base(&reg, "amd64").await;
    let tmp = tempfile::tempdir().unwrap();
    let w = worker(tmp.path(), "mounts");
    let sock = tmp.path().join("agent.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let p = host();
    let mut g = Graph::new();
    let from = image(&mut g, &base, &p);
    let other = run(&mut g, &from, "echo from-other > /hello", &p);
    let mounts = vec![
        Mount {
            target: "/scratch".into(),
            kind: MountKind::Tmpfs {
                size: Some(1 << 20),
            },
        },
        Mount {
            target: "/run/ssh.sock".into(),
            kind: MountKind::Ssh {
                id: "default".into(),
                required: true,
                uid: 1000,
                gid: 1000,
                mode: 0o600,
            },
        },
        Mount {
            target: "/src".into(),
            kind: MountKind::Layer {
                input: Some(1),
                selector: "/".into(),
                readonly: true,
            },
        },
        Mount {
            target: "/rw".into(),
            kind: MountKind::Layer {
                input: Some(1),
                selector: "/".into(),
                readonly: false,
            },
        },
    ];
    let cmd =
        "echo x > /scratch/f && grep -q ' /scratch tmpfs' /proc/mounts && echo yes > /tmpfs-ok; \
               test -S \"$SSH_AUTH_SOCK\" && stat -c \"$SSH_AUTH_SOCK %u:%a\" \"$SSH_AUTH_SOCK\" > /ssh-ok; \
               cat /src/hello > /copied; (echo nope > /src/x) 2>/dev/null || echo ro > /src-ro; \
               echo discarded > /rw/hello";
    let step = run_with(&mut g, &from, cmd, mounts, vec![other.clone()], &p);
    // Reading /hello of `other` again shows the rw mount's write was discarded.
    let check = copy(&mut g, &step, &other, "/hello", "/hello-after", &p);
    output(&mut g, &check, &p);
    let mut req = request(g);
    req.ssh
        .insert("default".into(), SshSource::AgentSocket(sock.clone()));
    let (r, _) = solve(&w.worker, req).await;
    let result = r.unwrap();
    let layers = &result.images[0].layers;
    let run_files = layer_files(w.worker.store(), &layers[layers.len() - 2]);
    assert_eq!(
        run_files.get("tmpfs-ok").map(Vec::as_slice),
        Some(&b"yes\n"[..]),
        "{run_files:?}"
    );
    assert_eq!(
        run_files.get("ssh-ok").map(Vec::as_slice),
        Some(&b"/run/ssh.sock 1000:600\n"[..])
    );
    assert_eq!(
        run_files.get("copied").map(Vec::as_slice),
        Some(&b"from-other\n"[..])
    );
    assert_eq!(
        run_files.get("src-ro").map(Vec::as_slice),
        Some(&b"ro\n"[..])
    );
    for k in run_files.keys() {
        assert!(
            !k.starts_with("scratch")
                && !k.starts_with("src/")
                && !k.starts_with("rw")
                && !k.starts_with("run"),
            "{k} in the layer"
        );
    }
    let top = layer_files(w.worker.store(), layers.last().unwrap());
    assert_eq!(
        top.get("hello-after").map(Vec::as_slice),
        Some(&b"from-other\n"[..])
    );
    assert_eq!(w.runs.load(Ordering::SeqCst), 2);
    assert!(mounts_under(tmp.path()).is_empty());

    // A required ssh agent that is missing fails the step.
    let mut g = Graph::new();
    let from = image(&mut g, &base, &p);
    let ssh = vec![Mount {
        target: "/run/ssh.sock".into(),
        kind: MountKind::Ssh {
            id: "default".into(),
            required: true,
            uid: 0,
            gid: 0,
            mode: 0o600,
        },
    }];
    let step = run_with(&mut g, &from, "true", ssh, vec![], &p);
    output(&mut g, &step, &p);
    let (r, _) = solve(&w.worker, request(g)).await;
    let err = r.unwrap_err();
    assert!(
        err.to_string()
            .contains("ssh agent \"default\" is required"),
        "{err}"
    );
}
