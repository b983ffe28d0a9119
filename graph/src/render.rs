//! Renderings of a graph: JSON (lossless), Graphviz dot, and a stable text form for humans
//! and golden tests.

use crate::{Digest, Graph, GraphError};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;

impl Graph {
    /// Pretty JSON; deterministic (vertices sorted by digest).
    pub fn to_json(&self) -> Result<String, GraphError> {
        Ok(serde_json::to_string_pretty(self)?)
    }

    /// Parses JSON and validates the result.
    pub fn from_json(json: &str) -> Result<Graph, GraphError> {
        let graph: Graph = serde_json::from_str(json)?;
        graph.validate()?;
        Ok(graph)
    }

    /// Graphviz: one node per vertex (label = name and platform), edges input → user, and
    /// one node per output.
    pub fn to_dot(&self) -> Result<String, GraphError> {
        let order = self.topological_order()?;
        let mut out = String::from(
            "digraph slipway {\n  rankdir=TB;\n  node [shape=box, fontname=\"monospace\"];\n",
        );
        for d in &order {
            let v = self.vertex_ref(d)?;
            let title = if v.name.is_empty() {
                v.op.kind().to_string()
            } else {
                v.name.clone()
            };
            let label = format!("{title}\n{} {}", v.platform, d.short());
            let _ = writeln!(out, "  \"{}\" [label={}];", d.short(), dot_quote(&label));
        }
        for d in &order {
            let v = self.vertex_ref(d)?;
            for input in &v.inputs {
                let _ = writeln!(out, "  \"{}\" -> \"{}\";", input.vertex.short(), d.short());
            }
        }
        for (i, o) in self.outputs.iter().enumerate() {
            let label = format!("output {} {}", o.platform, o.target);
            let _ = writeln!(
                out,
                "  \"output{i}\" [shape=oval, label={}];",
                dot_quote(label.trim_end())
            );
            if let Some(root) = &o.root {
                let _ = writeln!(out, "  \"{}\" -> \"output{i}\";", root.short());
            }
        }
        out.push_str("}\n");
        Ok(out)
    }

    /// A stable text form: vertices numbered `#1..` in [`Graph::topological_order`], each
    /// with kind, platform, short digest and name, then its inputs and every op field; then
    /// the outputs with their image config.
    pub fn to_text(&self) -> Result<String, GraphError> {
        let order = self.topological_order()?;
        let number: BTreeMap<&Digest, usize> =
            order.iter().enumerate().map(|(i, d)| (d, i + 1)).collect();
        let num = |d: &Digest| {
            number
                .get(d)
                .map_or_else(|| format!("?{}", d.short()), |n| format!("#{n}"))
        };
        let mut out = String::new();
        for d in &order {
            let v = self.vertex_ref(d)?;
            let _ = writeln!(
                out,
                "{} {} {} {} {}",
                num(d),
                v.op.kind(),
                v.platform,
                d.short(),
                quote(&v.name)
            );
            if !v.inputs.is_empty() {
                let list: Vec<String> = v
                    .inputs
                    .iter()
                    .enumerate()
                    .map(|(i, inp)| format!("[{i}]={}:{}", num(&inp.vertex), inp.output))
                    .collect();
                let _ = writeln!(out, "  inputs: {}", list.join(" "));
            }
            render_value(&mut out, 1, None, &serde_json::to_value(&v.op)?);
        }
        for o in &self.outputs {
            let root = o.root.as_ref().map_or_else(|| "scratch".to_string(), &num);
            let _ = writeln!(
                out,
                "output {} target={} root={}",
                o.platform,
                quote(&o.target),
                root
            );
            render_value(&mut out, 1, None, &serde_json::to_value(&o.image)?);
        }
        Ok(out)
    }

    fn vertex_ref(&self, d: &Digest) -> Result<&crate::Vertex, GraphError> {
        self.get(d)
            .ok_or_else(|| GraphError::UnknownVertex { digest: d.clone() })
    }
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
}

fn dot_quote(s: &str) -> String {
    let escaped = s
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n");
    format!("\"{escaped}\"")
}

fn is_scalar(v: &Value) -> bool {
    !matches!(v, Value::Array(_) | Value::Object(_))
}

/// Writes `value` as indented `key: value` lines; scalars and arrays of scalars inline.
fn render_value(out: &mut String, depth: usize, key: Option<&str>, value: &Value) {
    let pad = "  ".repeat(depth);
    match value {
        Value::Object(map) => {
            let mut depth = depth;
            if let Some(k) = key {
                let _ = writeln!(out, "{pad}{k}:");
                depth += 1;
            }
            for (k, v) in map {
                render_value(out, depth, Some(k), v);
            }
        }
        Value::Array(items) if !items.iter().all(is_scalar) => {
            let k = key.unwrap_or("-");
            for (i, item) in items.iter().enumerate() {
                render_value(out, depth, Some(&format!("{k}[{i}]")), item);
            }
        }
        scalar_or_flat => {
            let text = serde_json::to_string(scalar_or_flat).unwrap_or_default();
            match key {
                Some(k) => {
                    let _ = writeln!(out, "{pad}{k}: {text}");
                }
                None => {
                    let _ = writeln!(out, "{pad}{text}");
                }
            }
        }
    }
}
