//! Vertex numbering and per-vertex bookkeeping shared by the renderers: each vertex gets a
//! number (`#5`) in order of first appearance, as BuildKit's printer does.

use crate::event::VertexEvent;
use slipway_graph::Digest;
use std::collections::HashMap;

/// What a renderer remembers about one vertex.
#[derive(Debug, Clone)]
pub struct VertexState {
    pub number: usize,
    pub name: String,
    /// When the vertex started (ms since the epoch), if it did.
    pub started_ms: Option<i64>,
    /// Whether it reached a final state (cached, done, error, cancelled).
    pub finished: bool,
}

/// Vertices by digest, numbered from 1 in order of first appearance.
#[derive(Debug, Default)]
pub struct VertexTable {
    by_digest: HashMap<Digest, VertexState>,
    next: usize,
}

impl VertexTable {
    /// The state of `vertex`, created (and numbered) on first sight. `name` is taken from
    /// the first event that carries one.
    pub fn entry(&mut self, vertex: &Digest, name: Option<&str>) -> &mut VertexState {
        let next = &mut self.next;
        let state = self.by_digest.entry(vertex.clone()).or_insert_with(|| {
            *next += 1;
            VertexState {
                number: *next,
                name: String::new(),
                started_ms: None,
                finished: false,
            }
        });
        if state.name.is_empty() {
            if let Some(n) = name {
                state.name = n.to_string();
            }
        }
        state
    }

    /// Records a vertex event's name; returns the state.
    pub fn observe(&mut self, event: &VertexEvent) -> &mut VertexState {
        self.entry(&event.vertex, Some(&event.name))
    }

    pub fn get(&self, vertex: &Digest) -> Option<&VertexState> {
        self.by_digest.get(vertex)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_follow_first_appearance() {
        let a = Digest::of_bytes(b"a");
        let b = Digest::of_bytes(b"b");
        let mut t = VertexTable::default();
        assert_eq!(t.entry(&b, Some("B")).number, 1);
        assert_eq!(t.entry(&a, None).number, 2);
        assert_eq!(t.entry(&b, Some("other")).number, 1);
        assert_eq!(t.get(&b).map(|s| s.name.as_str()), Some("B"));
        assert_eq!(t.entry(&a, Some("A")).name, "A");
    }
}
