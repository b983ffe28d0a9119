//! Property tests: vertex digests are a pure function of (op, platform, inputs).

use proptest::prelude::*;
use slipway_graph::{
    CacheSharing, Digest, ExecOp, ExecOutput, Graph, Input, Mount, MountKind, NetworkMode, Op,
    Platform, SecurityMode, Vertex,
};

fn platform() -> impl Strategy<Value = Platform> {
    prop_oneof![
        Just(Platform::linux("amd64", "")),
        Just(Platform::linux("arm64", "")),
        Just(Platform::linux("arm", "v7")),
    ]
}

fn exec() -> impl Strategy<Value = ExecOp> {
    (
        prop::collection::vec("[a-z0-9 $-]{0,12}", 1..4),
        prop::collection::vec("[A-Z]{1,4}=[a-z]{0,4}", 0..4),
        "/[a-z]{0,6}",
        prop::option::of("[a-z]{1,6}"),
        any::<bool>(),
    )
        .prop_map(|(args, env, cwd, cache, host)| ExecOp {
            args,
            env,
            cwd,
            user: String::new(),
            network: if host {
                NetworkMode::Host
            } else {
                NetworkMode::Sandbox
            },
            security: SecurityMode::Sandbox,
            rootfs: Some(0),
            output: ExecOutput::Rootfs,
            mounts: cache
                .map(|id| Mount {
                    target: format!("/cache/{id}"),
                    kind: MountKind::Cache {
                        id,
                        sharing: CacheSharing::Locked,
                        from: None,
                        selector: "/".into(),
                        uid: 0,
                        gid: 0,
                        mode: 0o755,
                        readonly: false,
                    },
                })
                .into_iter()
                .collect(),
            secret_env: vec![],
        })
}

fn base_digest() -> impl Strategy<Value = Digest> {
    "[a-z]{1,8}".prop_map(|s| Digest::of_bytes(s.as_bytes()))
}

proptest! {
    #[test]
    fn digest_is_stable_through_clone_and_json(e in exec(), p in platform(), base in base_digest(), name in ".{0,20}") {
        let v = Vertex::new(Op::Exec(e), vec![Input::of(base)], p).with_name(name);
        let d = v.digest();
        prop_assert_eq!(v.clone().digest(), d.clone());
        let json = serde_json::to_string(&v).unwrap();
        let back: Vertex = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back.digest(), d.clone());
        // The name and description are not part of the identity.
        let mut renamed = v.clone();
        renamed.name.push('!');
        renamed.description.insert("k".into(), "v".into());
        prop_assert_eq!(renamed.digest(), d);
    }

    #[test]
    fn identical_work_is_stored_once(e in exec(), p in platform(), base in base_digest(), copies in 1usize..5) {
        let mut g = Graph::new();
        let v = Vertex::new(Op::Exec(e), vec![Input::of(base)], p);
        let digests: Vec<Digest> = (0..copies).map(|i| g.add(v.clone().with_name(format!("copy {i}")))).collect();
        prop_assert_eq!(g.vertices.len(), 1);
        prop_assert!(digests.iter().all(|d| d == &digests[0]));
    }

    #[test]
    fn any_change_changes_the_digest(e in exec(), p in platform(), base in base_digest(), other in base_digest()) {
        let v = Vertex::new(Op::Exec(e.clone()), vec![Input::of(base.clone())], p.clone());
        let mut changed_args = e.clone();
        changed_args.args.push("x".into());
        prop_assert_ne!(Vertex::new(Op::Exec(changed_args), vec![Input::of(base.clone())], p.clone()).digest(), v.digest());
        let mut changed_env = e.clone();
        changed_env.env.push("Z=1".into());
        prop_assert_ne!(Vertex::new(Op::Exec(changed_env), vec![Input::of(base.clone())], p.clone()).digest(), v.digest());
        if other != base {
            prop_assert_ne!(Vertex::new(Op::Exec(e.clone()), vec![Input::of(other)], p.clone()).digest(), v.digest());
        }
        let other_platform = if p.architecture == "amd64" { Platform::linux("arm64", "") } else { Platform::linux("amd64", "") };
        prop_assert_ne!(Vertex::new(Op::Exec(e), vec![Input::of(base)], other_platform).digest(), v.digest());
    }
}

/// The digest of a fixed vertex never changes (guards the canonical serialisation).
#[test]
fn digest_is_pinned() {
    let v = Vertex::new(
        Op::Exec(ExecOp {
            args: vec!["/bin/sh".into(), "-c".into(), "make".into()],
            env: vec!["PATH=/usr/bin".into()],
            cwd: "/src".into(),
            user: String::new(),
            network: NetworkMode::Sandbox,
            security: SecurityMode::Sandbox,
            rootfs: Some(0),
            output: ExecOutput::Rootfs,
            mounts: vec![],
            secret_env: vec![],
        }),
        vec![Input::of(Digest::of_bytes(b"base"))],
        Platform::linux("arm64", ""),
    );
    let json = String::from_utf8(serde_json::to_vec(&v).unwrap()).unwrap();
    assert!(
        json.starts_with(r#"{"op":{"exec":{"args":["/bin/sh","-c","make"]"#),
        "{json}"
    );
    assert_eq!(v.digest().as_str(), PINNED);
}

const PINNED: &str = "sha256:2e0e3a40b32e7f684371d06aba99472651f4b56b5ad1afd57389c73dc6850f52";
