//! `RUN --security=insecure` in a real solve (root, runc): granted only when the build asks
//! for `security.insecure` and the worker allows it; then the step holds every capability,
//! can mount, sees a writable /sys and unmasked /proc paths. A sandboxed step cannot.

mod common;
mod solve_support;

use slipway_graph::{Entitlement, Graph, Input, Op, SecurityMode, Vertex};
use slipway_worker::{SolveError, VertexError};
use solve_support::*;

/// A graph whose output runs `cmd` (insecure or not) on busybox, writing to /out.
fn graph(base: &str, cmd: &str, security: SecurityMode) -> Graph {
    let p = host();
    let mut g = Graph::new();
    let from = image(&mut g, base, &p);
    let mut op = exec_op(cmd);
    op.security = security;
    let v = g.add(Vertex::new(Op::Exec(op), vec![Input::of(from)], p.clone()).with_name("RUN"));
    output(&mut g, &v, &p);
    g
}

const PROBE: &str = "grep CapEff /proc/self/status > /out; \
    (mkdir -p /m && mount -t tmpfs none /m && echo mounted || echo no-mount) >> /out; \
    (grep -q ' /sys sysfs rw' /proc/mounts && echo sys-rw || echo sys-ro) >> /out; \
    (test -s /proc/kcore -o -r /proc/kcore && echo kcore || echo masked) >> /out";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn insecure_runs_need_both_entitlements_and_are_privileged() {
    let reg = TestRegistry::start();
    let base = push_base(&reg, "amd64").await;
    let tmp = tempfile::tempdir().unwrap();

    // The build does not ask: refused, naming the flag.
    let w = worker_with(&tmp.path().join("a"), "insecure-a", |c| {
        c.allowed_entitlements = [Entitlement::SecurityInsecure].into();
    });
    let (r, _) = solve(
        &w.worker,
        request(graph(&base, PROBE, SecurityMode::Insecure)),
    )
    .await;
    let err = r.unwrap_err();
    assert!(
        matches!(&err, SolveError::Vertex { source, .. } if matches!(**source, VertexError::NotEntitled { .. })),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("--allow security.insecure"),
        "{err}"
    );

    // It asks and the worker allows: privileged.
    let mut req = request(graph(&base, PROBE, SecurityMode::Insecure));
    req.allow = [Entitlement::SecurityInsecure].into();
    let (r, _) = solve(&w.worker, req).await;
    let r = r.unwrap();
    let files = layer_files(w.worker.store(), r.images[0].layers.last().unwrap());
    let out = String::from_utf8_lossy(&files["out"]).to_string();
    let cap_eff = out
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .unwrap();
    assert_ne!(cap_eff & (1 << 21), 0, "CAP_SYS_ADMIN: {out}");
    assert!(out.contains("mounted"), "{out}");
    assert!(out.contains("sys-rw"), "{out}");

    // The same probe sandboxed: Docker's default capabilities, no mount, /sys read-only.
    let (r, _) = solve(
        &w.worker,
        request(graph(&base, PROBE, SecurityMode::Sandbox)),
    )
    .await;
    let r = r.unwrap();
    let files = layer_files(w.worker.store(), r.images[0].layers.last().unwrap());
    let out = String::from_utf8_lossy(&files["out"]).to_string();
    assert!(out.contains("no-mount") && out.contains("sys-ro"), "{out}");

    // The build asks but the worker does not allow: refused, naming the worker flag.
    let strict = worker(&tmp.path().join("b"), "insecure-b");
    let mut req = request(graph(&base, PROBE, SecurityMode::Insecure));
    req.allow = [Entitlement::SecurityInsecure].into();
    let (r, _) = solve(&strict.worker, req).await;
    let err = r.unwrap_err().to_string();
    assert!(
        err.contains("--allow-insecure-entitlement security.insecure"),
        "{err}"
    );
}
