//! Build-wide settings applied to a lowered graph: `--label` on every output image's config
//! and `--network` as the default network of RUN steps.

use slipway_graph::{Graph, GraphError, Input, NetworkMode, Op};
use std::collections::{BTreeMap, HashMap};

/// Adds `labels` to every output image's config (a `--label` wins over a Dockerfile `LABEL`).
pub fn apply_labels(graph: &mut Graph, labels: &BTreeMap<String, String>) {
    for out in &mut graph.outputs {
        for (k, v) in labels {
            out.image.labels.insert(k.clone(), v.clone());
        }
    }
}

/// Runs every RUN step that uses the default (sandbox) network with `mode` instead.
/// Vertex digests change with their ops, so the graph is rebuilt in dependency order.
pub fn apply_network(graph: Graph, mode: NetworkMode) -> Result<Graph, GraphError> {
    if mode == NetworkMode::Sandbox {
        return Ok(graph);
    }
    let order = graph.topological_order()?;
    let mut renamed = HashMap::new();
    let mut out = Graph::new();
    for old in order {
        let Some(vertex) = graph.vertices.get(&old) else {
            continue;
        };
        let mut v = vertex.clone();
        if let Op::Exec(exec) = &mut v.op {
            if exec.network == NetworkMode::Sandbox {
                exec.network = mode;
            }
        }
        v.inputs = v
            .inputs
            .iter()
            .map(|i| Input {
                vertex: renamed
                    .get(&i.vertex)
                    .cloned()
                    .unwrap_or_else(|| i.vertex.clone()),
                output: i.output,
            })
            .collect();
        let new = out.add(v);
        renamed.insert(old, new);
    }
    out.outputs = graph
        .outputs
        .into_iter()
        .map(|mut o| {
            o.root = o.root.map(|r| renamed.get(&r).cloned().unwrap_or(r));
            o
        })
        .collect();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use slipway_frontend::{lower, LowerOptions, NoBaseConfig};

    fn graph() -> Graph {
        let df = "FROM scratch AS a\nCOPY x /x\nRUN --network=none true\nRUN make\nLABEL a=1\n";
        lower(df, &LowerOptions::default(), &NoBaseConfig).unwrap()
    }

    fn networks(g: &Graph) -> Vec<NetworkMode> {
        let mut v: Vec<NetworkMode> = g
            .vertices
            .values()
            .filter_map(|v| match &v.op {
                Op::Exec(e) => Some(e.network),
                _ => None,
            })
            .collect();
        v.sort_by_key(|m| format!("{m:?}"));
        v
    }

    #[test]
    fn network_rewrites_default_runs_and_keeps_the_graph_valid() {
        let g = graph();
        assert_eq!(networks(&g), vec![NetworkMode::None, NetworkMode::Sandbox]);
        let h = apply_network(g.clone(), NetworkMode::Host).unwrap();
        assert_eq!(networks(&h), vec![NetworkMode::Host, NetworkMode::None]);
        h.validate().unwrap();
        assert_eq!(h.vertices.len(), g.vertices.len());
        assert_ne!(h.outputs[0].root, g.outputs[0].root);
        assert_eq!(apply_network(g.clone(), NetworkMode::Sandbox).unwrap(), g);
    }

    #[test]
    fn labels_override_dockerfile_labels() {
        let mut g = graph();
        let labels = BTreeMap::from([("a".to_string(), "2".to_string()), ("b".into(), "3".into())]);
        apply_labels(&mut g, &labels);
        assert_eq!(g.outputs[0].image.labels, labels);
    }
}
