//! Where a build's graph is cut between tasks. A vertex becomes the output of a stage task
//! of its own when running it once, on its own platform, beats running it inside each task
//! that needs it:
//! - **shared**: two or more outputs (platform images) need it, and some vertex using it
//!   is needed by fewer of them (the edge of the shared part, e.g. the last step of a stage
//!   whose ops do not depend on the target platform);
//! - **platform change**: a vertex of another platform uses it (e.g. the last step of a
//!   `FROM --platform=$BUILDPLATFORM` stage that an arm64 image copies from): the stage
//!   then runs on a worker of its own platform instead of under emulation on the image's.
//!
//! Only vertices whose result is worth moving are cut: something at or below them runs a
//! process (sources and file ops alone are cheaper to redo than to fetch), they produce a
//! filesystem, and they are not an output's root (roots stay in their image's task).

use slipway_graph::{Digest, ExecOutput, Graph, GraphError, Op};
use std::collections::{BTreeMap, BTreeSet};

/// The cut points of `graph`, inputs before the vertices using them (a cut's own cuts come
/// earlier in the list).
pub fn cut_points(graph: &Graph) -> Result<Vec<Digest>, GraphError> {
    // Which outputs need each vertex.
    let mut needed_by: BTreeMap<&Digest, BTreeSet<usize>> = BTreeMap::new();
    let mut roots = BTreeSet::new();
    for (i, output) in graph.outputs.iter().enumerate() {
        let Some(root) = &output.root else { continue };
        roots.insert(root);
        needed_by.entry(root).or_default().insert(i);
        for d in graph.ancestors(root)? {
            let d = graph
                .vertices
                .get_key_value(&d)
                .map(|(k, _)| k)
                .ok_or_else(|| GraphError::UnknownVertex { digest: d.clone() })?;
            needed_by.entry(d).or_default().insert(i);
        }
    }
    // The vertices using each needed vertex.
    let mut users: BTreeMap<&Digest, Vec<&Digest>> = BTreeMap::new();
    for digest in needed_by.keys() {
        for input in &graph.vertices[*digest].inputs {
            users.entry(&input.vertex).or_default().push(digest);
        }
    }
    let order = graph.topological_order()?;
    let mut runs_below: BTreeSet<&Digest> = BTreeSet::new();
    let mut cuts = Vec::new();
    for digest in &order {
        let Some(needers) = needed_by.get(digest) else {
            continue;
        };
        let vertex = &graph.vertices[digest];
        let runs = matches!(vertex.op, Op::Exec(_))
            || vertex.inputs.iter().any(|i| runs_below.contains(&i.vertex));
        if !runs {
            continue;
        }
        runs_below.insert(digest);
        let discards = matches!(&vertex.op, Op::Exec(e) if e.output == ExecOutput::Discard);
        if discards || roots.contains(digest) {
            continue;
        }
        let edge = users.get(digest).into_iter().flatten().any(|user| {
            let shared_edge = needers.len() >= 2 && needed_by.get(*user) != Some(needers);
            shared_edge || graph.vertices[*user].platform != vertex.platform
        });
        if edge {
            cuts.push(digest.clone());
        }
    }
    Ok(cuts)
}
