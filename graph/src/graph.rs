//! The graph: content-addressed vertices plus one output per requested platform.

use crate::{Digest, GraphError, ImageConfig, Platform, Vertex};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// One requested result: a platform's root filesystem plus its image config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphOutput {
    pub platform: Platform,
    /// The stage this output is the result of (empty when unnamed).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub target: String,
    /// The vertex whose output 0 is the image's filesystem; `None` is an empty filesystem
    /// (e.g. `FROM scratch` with only metadata instructions).
    pub root: Option<Digest>,
    pub image: ImageConfig,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Graph {
    pub vertices: BTreeMap<Digest, Vertex>,
    pub outputs: Vec<GraphOutput>,
}

impl Graph {
    pub fn new() -> Graph {
        Graph::default()
    }

    /// Adds `vertex` and returns its digest. Adding the same work twice (same op, platform
    /// and inputs) stores it once; the first vertex's name and metadata are kept.
    pub fn add(&mut self, vertex: Vertex) -> Digest {
        let digest = vertex.digest();
        self.vertices.entry(digest.clone()).or_insert(vertex);
        digest
    }

    pub fn get(&self, digest: &Digest) -> Option<&Vertex> {
        self.vertices.get(digest)
    }

    fn exec_ops(&self) -> impl Iterator<Item = &crate::ExecOp> {
        self.vertices.values().filter_map(|v| match &v.op {
            crate::Op::Exec(e) => Some(e),
            _ => None,
        })
    }

    /// The ids of every ssh agent an exec mounts (`RUN --mount=type=ssh`), sorted.
    pub fn ssh_ids(&self) -> BTreeSet<String> {
        self.exec_ops()
            .flat_map(|e| &e.mounts)
            .filter_map(|m| match &m.kind {
                crate::MountKind::Ssh { id, .. } => Some(id.clone()),
                _ => None,
            })
            .collect()
    }

    /// The ids of every secret an exec mounts or exposes as a variable, sorted.
    pub fn secret_ids(&self) -> BTreeSet<String> {
        self.exec_ops()
            .flat_map(|e| {
                let mounted = e.mounts.iter().filter_map(|m| match &m.kind {
                    crate::MountKind::Secret { id, .. } => Some(id.clone()),
                    _ => None,
                });
                mounted.chain(e.secret_env.iter().map(|s| s.id.clone()))
            })
            .collect()
    }

    fn vertex(&self, digest: &Digest) -> Result<&Vertex, GraphError> {
        self.vertices
            .get(digest)
            .ok_or_else(|| GraphError::UnknownVertex {
                digest: digest.clone(),
            })
    }

    /// The distinct vertices `digest` takes as inputs, in input order.
    pub fn dependencies(&self, digest: &Digest) -> Result<Vec<Digest>, GraphError> {
        let mut seen = BTreeSet::new();
        Ok(self
            .vertex(digest)?
            .inputs
            .iter()
            .filter(|i| seen.insert(i.vertex.clone()))
            .map(|i| i.vertex.clone())
            .collect())
    }

    /// The vertices that take `digest` as an input, in digest order.
    pub fn dependents(&self, digest: &Digest) -> Result<Vec<Digest>, GraphError> {
        self.vertex(digest)?;
        Ok(self
            .vertices
            .iter()
            .filter(|(_, v)| v.inputs.iter().any(|i| &i.vertex == digest))
            .map(|(d, _)| d.clone())
            .collect())
    }

    /// Every vertex `digest` depends on, directly or not (without `digest` itself).
    pub fn ancestors(&self, digest: &Digest) -> Result<BTreeSet<Digest>, GraphError> {
        let mut out = BTreeSet::new();
        let mut stack = self.dependencies(digest)?;
        while let Some(d) = stack.pop() {
            if out.insert(d.clone()) {
                stack.extend(self.dependencies(&d)?);
            }
        }
        Ok(out)
    }

    /// True when `to` is reachable from `from` by following inputs (`from` needs `to`).
    pub fn reaches(&self, from: &Digest, to: &Digest) -> Result<bool, GraphError> {
        Ok(self.ancestors(from)?.contains(to))
    }

    /// All vertices, inputs before the vertices using them. The order is deterministic and
    /// follows the build: a depth-first walk from each output's root (inputs in order), then
    /// any vertex no output needs, in digest order.
    pub fn topological_order(&self) -> Result<Vec<Digest>, GraphError> {
        let mut walk = Walk {
            graph: self,
            state: BTreeMap::new(),
            order: Vec::new(),
        };
        let roots: Vec<Digest> = self.outputs.iter().filter_map(|o| o.root.clone()).collect();
        for root in roots.iter().chain(self.vertices.keys()) {
            walk.visit(root)?;
        }
        Ok(walk.order)
    }

    /// Checks the graph: every key is its vertex's digest, inputs and roots exist, input
    /// indices are in range, and there is no cycle.
    pub fn validate(&self) -> Result<(), GraphError> {
        for (key, v) in &self.vertices {
            let computed = v.digest();
            if &computed != key {
                return Err(GraphError::DigestMismatch {
                    key: key.clone(),
                    computed,
                });
            }
            v.check_input_refs(key)?;
            if let Some(missing) = v
                .inputs
                .iter()
                .find(|i| !self.vertices.contains_key(&i.vertex))
            {
                return Err(GraphError::MissingInput {
                    vertex: key.clone(),
                    input: missing.vertex.clone(),
                });
            }
        }
        for (index, o) in self.outputs.iter().enumerate() {
            if let Some(root) = &o.root {
                if !self.vertices.contains_key(root) {
                    return Err(GraphError::MissingRoot {
                        index,
                        platform: o.platform.to_string(),
                        root: root.clone(),
                    });
                }
            }
        }
        self.topological_order().map(|_| ())
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mark {
    InProgress,
    Done,
}

struct Walk<'g> {
    graph: &'g Graph,
    state: BTreeMap<Digest, Mark>,
    order: Vec<Digest>,
}

impl Walk<'_> {
    /// Iterative post-order DFS (no recursion: graphs from input may be deep).
    fn visit(&mut self, start: &Digest) -> Result<(), GraphError> {
        if self.state.contains_key(start) {
            return Ok(());
        }
        let mut stack: Vec<(Digest, usize)> = vec![(start.clone(), 0)];
        self.state.insert(start.clone(), Mark::InProgress);
        while let Some((digest, next)) = stack.pop() {
            let vertex = self.graph.vertex(&digest)?;
            match vertex.inputs.get(next) {
                Some(input) => {
                    stack.push((digest.clone(), next + 1));
                    match self.state.get(&input.vertex) {
                        Some(Mark::Done) => {}
                        Some(Mark::InProgress) => {
                            return Err(GraphError::Cycle {
                                vertex: input.vertex.clone(),
                            })
                        }
                        None => {
                            if !self.graph.vertices.contains_key(&input.vertex) {
                                return Err(GraphError::MissingInput {
                                    vertex: digest,
                                    input: input.vertex.clone(),
                                });
                            }
                            self.state.insert(input.vertex.clone(), Mark::InProgress);
                            stack.push((input.vertex.clone(), 0));
                        }
                    }
                }
                None => {
                    self.state.insert(digest.clone(), Mark::Done);
                    self.order.push(digest);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::ImageSource;
    use crate::{ExecOp, ExecOutput, Input, NetworkMode, Op, SecurityMode, SourceOp};

    fn linux(arch: &str) -> Platform {
        Platform::linux(arch, "")
    }

    fn image(reference: &str, p: &Platform) -> Vertex {
        Vertex::new(
            Op::Source(SourceOp::Image(ImageSource {
                reference: reference.into(),
                resolved: None,
            })),
            vec![],
            p.clone(),
        )
    }

    fn run(cmd: &str, on: &Digest, p: &Platform) -> Vertex {
        Vertex::new(
            Op::Exec(ExecOp {
                args: vec!["/bin/sh".into(), "-c".into(), cmd.into()],
                env: vec![],
                cwd: "/".into(),
                user: String::new(),
                network: NetworkMode::Sandbox,
                security: SecurityMode::Sandbox,
                rootfs: Some(0),
                output: ExecOutput::Rootfs,
                mounts: vec![],
                secret_env: vec![],
            }),
            vec![Input::of(on.clone())],
            p.clone(),
        )
    }

    #[test]
    fn secret_and_ssh_ids_come_from_every_exec() {
        let p = linux("amd64");
        let mut g = Graph::new();
        let base = g.add(image("busybox", &p));
        let mut v = run("cat /run/secrets/a", &base, &p);
        if let Op::Exec(e) = &mut v.op {
            let mount = |kind| crate::Mount {
                target: "/run/x".into(),
                kind,
            };
            e.mounts.push(mount(crate::MountKind::Secret {
                id: "a".into(),
                required: false,
                uid: 0,
                gid: 0,
                mode: 0o400,
            }));
            e.mounts.push(mount(crate::MountKind::Ssh {
                id: "default".into(),
                required: false,
                uid: 0,
                gid: 0,
                mode: 0o600,
            }));
            e.secret_env.push(crate::SecretEnv {
                id: "b".into(),
                name: "B".into(),
                required: true,
            });
        }
        g.add(v);
        assert_eq!(g.secret_ids().into_iter().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(g.ssh_ids().into_iter().collect::<Vec<_>>(), ["default"]);
        assert!(Graph::new().secret_ids().is_empty());
    }

    #[test]
    fn dedup_and_name_not_in_digest() {
        let mut g = Graph::new();
        let p = linux("amd64");
        let a = g.add(image("docker.io/library/alpine:3", &p).with_name("first"));
        let b = g.add(image("docker.io/library/alpine:3", &p).with_name("second"));
        assert_eq!(a, b);
        assert_eq!(g.vertices.len(), 1);
        assert_eq!(g.get(&a).map(|v| v.name.as_str()), Some("first"));
        let c = g.add(image("docker.io/library/alpine:3", &linux("arm64")));
        assert_ne!(a, c, "platform is part of the identity");
    }

    #[test]
    fn order_dependencies_and_reachability() {
        let mut g = Graph::new();
        let p = linux("amd64");
        let base = g.add(image("docker.io/library/alpine:3", &p));
        let left = g.add(run("left", &base, &p));
        let right = g.add(run("right", &base, &p));
        let mut join = run("join", &left, &p);
        join.inputs.push(Input::of(right.clone()));
        let join = g.add(join);
        g.outputs.push(GraphOutput {
            platform: p,
            target: String::new(),
            root: Some(join.clone()),
            image: ImageConfig::default(),
        });
        g.validate().unwrap();
        assert_eq!(
            g.topological_order().unwrap(),
            vec![base.clone(), left.clone(), right.clone(), join.clone()]
        );
        assert_eq!(
            g.dependencies(&join).unwrap(),
            vec![left.clone(), right.clone()]
        );
        let mut deps = g.dependents(&base).unwrap();
        deps.sort();
        let mut expect = vec![left.clone(), right.clone()];
        expect.sort();
        assert_eq!(deps, expect);
        assert!(g.reaches(&join, &base).unwrap());
        assert!(!g.reaches(&left, &right).unwrap());
        assert!(!g.reaches(&right, &left).unwrap());
        let text = g.to_text().unwrap();
        assert!(text.starts_with("#1 source linux/amd64 "), "{text}");
        assert!(text.contains("inputs: [0]=#2:0 [1]=#3:0"), "{text}");
        let dot = g.to_dot().unwrap();
        assert_eq!(dot.matches(" -> ").count(), 5);
        let back = Graph::from_json(&g.to_json().unwrap()).unwrap();
        assert_eq!(back, g);
    }

    #[test]
    fn validation_finds_problems() {
        let p = linux("amd64");
        let mut g = Graph::new();
        let ghost = image("ghost", &p).digest();
        let orphan = g.add(run("x", &ghost, &p));
        assert!(
            matches!(g.validate(), Err(GraphError::MissingInput { vertex, .. }) if vertex == orphan)
        );

        let mut g = Graph::new();
        let mut bad = run("x", &ghost, &p);
        bad.inputs.clear();
        let bad_d = g.add(bad);
        assert!(matches!(
            g.validate(),
            Err(GraphError::InputIndexOutOfRange {
                index: 0,
                inputs: 0,
                ..
            })
        ));
        // A tampered key is refused.
        let v = g.vertices.remove(&bad_d).unwrap();
        g.vertices.insert(ghost.clone(), v);
        assert!(matches!(
            g.validate(),
            Err(GraphError::DigestMismatch { .. })
        ));

        let mut g = Graph::new();
        g.outputs.push(GraphOutput {
            platform: p,
            target: String::new(),
            root: Some(ghost),
            image: ImageConfig::default(),
        });
        assert!(matches!(
            g.validate(),
            Err(GraphError::MissingRoot { index: 0, .. })
        ));
    }

    #[test]
    fn cycles_are_detected() {
        // Digests cannot form a cycle honestly; build one by hand-editing keys.
        let p = linux("amd64");
        let a_key = Digest::of_bytes(b"a");
        let b_key = Digest::of_bytes(b"b");
        let mut g = Graph::new();
        g.vertices.insert(a_key.clone(), run("a", &b_key, &p));
        g.vertices.insert(b_key.clone(), run("b", &a_key, &p));
        assert!(matches!(
            g.topological_order(),
            Err(GraphError::Cycle { .. })
        ));
    }
}
