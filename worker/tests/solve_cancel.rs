//! Cancelling a solve mid-RUN (root only): the container is killed and no process, mount,
//! bundle or temp dir is left behind.

mod common;
mod solve_support;

use std::time::{Duration, Instant};

use slipway_graph::Graph;
use slipway_progress::{ProgressEvent, VertexStatus};
use slipway_worker::SolveError;
use solve_support::*;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

fn dir_is_empty(p: &std::path::Path) -> bool {
    std::fs::read_dir(p)
        .map(|mut d| d.next().is_none())
        .unwrap_or(true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancel_mid_run_leaves_nothing_behind() {
    let reg = TestRegistry::start();
    let base = push_base(&reg, "amd64").await;
    let tmp = tempfile::tempdir().unwrap();
    let w = worker(tmp.path(), "cancel");
    let secret = tmp.path().join("s");
    std::fs::write(&secret, "v").unwrap();
    let p = host();
    let mut g = Graph::new();
    let from = image(&mut g, &base, &p);
    let mounts = vec![
        slipway_graph::Mount {
            target: "/run/secrets/s".into(),
            kind: slipway_graph::MountKind::Secret {
                id: "s".into(),
                required: true,
                uid: 0,
                gid: 0,
                mode: 0o400,
            },
        },
        slipway_graph::Mount {
            target: "/cache".into(),
            kind: slipway_graph::MountKind::Cache {
                id: "c".into(),
                sharing: slipway_graph::CacheSharing::Locked,
                from: None,
                selector: "/".into(),
                uid: 0,
                gid: 0,
                mode: 0o755,
                readonly: false,
            },
        },
    ];
    let long = run_with(&mut g, &from, "echo started; sleep 60", mounts, vec![], &p);
    let after = run(&mut g, &long, "echo never", &p);
    output(&mut g, &after, &p);
    let mut req = request(g);
    req.secrets
        .insert("s".into(), slipway_worker::SecretSource::File(secret));
    let cancel = CancellationToken::new();
    let (tx, mut rx) = mpsc::channel(1024);
    let worker = w.worker.clone();
    let token = cancel.clone();
    let task = tokio::spawn(async move { worker.solve(req, tx, token).await });
    // Wait for the container's first output, then cancel.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut events = Vec::new();
    loop {
        let e = tokio::time::timeout_at(deadline.into(), rx.recv())
            .await
            .expect("the RUN never started")
            .expect("the solve ended early");
        let started = matches!(&e, ProgressEvent::Log { data, .. } if data.starts_with(b"started"));
        events.push(e);
        if started {
            break;
        }
    }
    let cancelled_at = Instant::now();
    cancel.cancel();
    let result = tokio::time::timeout(Duration::from_secs(20), task)
        .await
        .expect("cancellation took too long")
        .unwrap();
    assert!(cancelled_at.elapsed() < Duration::from_secs(15));
    assert!(matches!(result, Err(SolveError::Cancelled)), "{result:?}");
    while let Some(e) = rx.recv().await {
        events.push(e);
    }
    assert!(statuses(&events, "RUN echo never").is_empty());
    let st = statuses(&events, "RUN echo started; sleep 60");
    assert_eq!(st.last(), Some(&VertexStatus::Cancelled), "{st:?}");
    assert!(
        w.runc.list().await.unwrap().is_empty(),
        "container left running"
    );
    assert!(w.runc.bundles().unwrap().is_empty(), "bundle left behind");
    assert!(
        mounts_under(tmp.path()).is_empty(),
        "{:?}",
        mounts_under(tmp.path())
    );
    let data = tmp.path().join("data");
    assert!(dir_is_empty(&data.join("tmp")), "temp files left behind");
    assert!(
        dir_is_empty(&data.join("snapshots/active")),
        "active snapshot left"
    );
    assert!(dir_is_empty(&data.join("snapshots/staging")));
    let ps = std::process::Command::new("ps")
        .args(["-eo", "args"])
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&ps.stdout).contains("sleep 60"),
        "process left running"
    );
    // The locked cache was released: a new solve using it runs at once.
    let mut g = Graph::new();
    let from = image(&mut g, &base, &p);
    let cache = vec![slipway_graph::Mount {
        target: "/cache".into(),
        kind: slipway_graph::MountKind::Cache {
            id: "c".into(),
            sharing: slipway_graph::CacheSharing::Locked,
            from: None,
            selector: "/".into(),
            uid: 0,
            gid: 0,
            mode: 0o755,
            readonly: false,
        },
    }];
    let step = run_with(&mut g, &from, "true", cache, vec![], &p);
    output(&mut g, &step, &p);
    let (r, _) = tokio::time::timeout(Duration::from_secs(30), solve(&w.worker, request(g)))
        .await
        .expect("locked cache still held");
    r.unwrap();
}
