//! BuildKit's plain progress lines (`--progress=plain`):
//!
//! ```text
//! #5 [linux/arm64 build 2/5] RUN make
//! #5 0.532 hello
//! #5 DONE 1.2s
//! ```
//!
//! Each vertex is numbered in order of first appearance; a blank line separates the output
//! of different vertices; log lines carry seconds since the vertex started.

use crate::event::{ProgressEvent, VertexEvent, VertexStatus};
use crate::numbering::VertexTable;
use slipway_graph::Digest;
use std::collections::{HashMap, HashSet};
use std::io::{self, Write};

/// Writes plain progress lines to `out`.
pub struct PlainRenderer<W: Write> {
    out: W,
    table: VertexTable,
    /// Vertices whose header line was printed.
    headed: HashSet<Digest>,
    /// The vertex of the last line printed (`None` also for warnings).
    last: Option<Option<Digest>>,
    /// Log bytes after the last newline per vertex, with the time of the chunk they came in.
    partial: HashMap<Digest, (Vec<u8>, i64)>,
}

impl<W: Write> PlainRenderer<W> {
    pub fn new(out: W) -> Self {
        PlainRenderer {
            out,
            table: VertexTable::default(),
            headed: HashSet::new(),
            last: None,
            partial: HashMap::new(),
        }
    }

    pub fn event(&mut self, event: &ProgressEvent) -> io::Result<()> {
        match event {
            ProgressEvent::Vertex(v) => self.vertex(v),
            ProgressEvent::Log {
                vertex,
                timestamp_ms,
                data,
                ..
            } => self.log(vertex, *timestamp_ms, data),
            ProgressEvent::Graph { .. } => Ok(()),
            ProgressEvent::Warning { vertex, message } => {
                self.switch_to(None)?;
                match vertex.as_ref().and_then(|v| self.table.get(v)) {
                    Some(s) => writeln!(self.out, "WARNING: #{}: {message}", s.number)?,
                    None => writeln!(self.out, "WARNING: {message}")?,
                }
                self.out.flush()
            }
        }
    }

    /// Prints what is left of partial log lines and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        let mut pending: Vec<Digest> = self.partial.keys().cloned().collect();
        pending.sort_by_key(|d| self.table.get(d).map(|s| s.number));
        for d in pending {
            self.flush_partial(&d)?;
        }
        self.out.flush()?;
        Ok(self.out)
    }

    fn vertex(&mut self, v: &VertexEvent) -> io::Result<()> {
        let state = self.table.observe(v);
        let number = state.number;
        match &v.status {
            VertexStatus::Started => {
                if state.started_ms.is_none() {
                    state.started_ms = Some(v.timestamp_ms);
                }
                self.head(&v.vertex)?;
            }
            VertexStatus::Cached => {
                state.finished = true;
                self.head(&v.vertex)?;
                writeln!(self.out, "#{number} CACHED")?;
            }
            VertexStatus::Done { duration_ms } => {
                state.finished = true;
                self.flush_partial(&v.vertex)?;
                self.head(&v.vertex)?;
                writeln!(self.out, "#{number} DONE {}", seconds(*duration_ms))?;
            }
            VertexStatus::Error { message } => {
                state.finished = true;
                self.flush_partial(&v.vertex)?;
                self.head(&v.vertex)?;
                writeln!(self.out, "#{number} ERROR: {message}")?;
            }
            VertexStatus::Cancelled => {
                state.finished = true;
                self.flush_partial(&v.vertex)?;
                self.head(&v.vertex)?;
                writeln!(self.out, "#{number} CANCELED")?;
            }
        }
        self.out.flush()
    }

    fn log(&mut self, vertex: &Digest, timestamp_ms: i64, data: &[u8]) -> io::Result<()> {
        self.table.entry(vertex, None);
        let (buf, ts) = self.partial.entry(vertex.clone()).or_default();
        buf.extend_from_slice(data);
        *ts = timestamp_ms;
        let mut lines = Vec::new();
        while let Some(pos) = buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buf.drain(..=pos).collect();
            lines.push(line);
        }
        if buf.is_empty() {
            self.partial.remove(vertex);
        }
        for line in lines {
            self.log_line(vertex, timestamp_ms, &line)?;
        }
        self.out.flush()
    }

    fn flush_partial(&mut self, vertex: &Digest) -> io::Result<()> {
        if let Some((rest, ts)) = self.partial.remove(vertex) {
            if !rest.is_empty() {
                self.log_line(vertex, ts, &rest)?;
            }
        }
        Ok(())
    }

    fn log_line(&mut self, vertex: &Digest, timestamp_ms: i64, line: &[u8]) -> io::Result<()> {
        self.head(vertex)?;
        let state = self.table.entry(vertex, None);
        let since = state
            .started_ms
            .map(|s| timestamp_ms.saturating_sub(s).max(0))
            .unwrap_or(0);
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end_matches('\n').trim_end_matches('\r');
        writeln!(
            self.out,
            "#{} {}.{:03} {text}",
            state.number,
            since / 1000,
            since % 1000
        )
    }

    /// Prints the vertex's header line once, after a blank line if another vertex printed last.
    fn head(&mut self, vertex: &Digest) -> io::Result<()> {
        self.switch_to(Some(vertex.clone()))?;
        if self.headed.insert(vertex.clone()) {
            let state = self.table.entry(vertex, None);
            let name = if state.name.is_empty() {
                vertex.to_string()
            } else {
                state.name.clone()
            };
            writeln!(self.out, "#{} {name}", state.number)?;
        }
        Ok(())
    }

    fn switch_to(&mut self, vertex: Option<Digest>) -> io::Result<()> {
        match &self.last {
            Some(last) if *last == vertex && vertex.is_some() => {}
            Some(_) => writeln!(self.out)?,
            None => {}
        }
        self.last = Some(vertex);
        Ok(())
    }
}

/// `1.2s`: seconds rounded to tenths, as BuildKit prints durations (`%.1fs`).
fn seconds(ms: u64) -> String {
    format!("{:.1}s", ms as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::{sample_events, SAMPLE_PLAIN};

    #[test]
    fn golden_plain_output() {
        let mut r = PlainRenderer::new(Vec::new());
        for e in sample_events() {
            r.event(&e).unwrap();
        }
        let out = String::from_utf8(r.finish().unwrap()).unwrap();
        assert_eq!(out, SAMPLE_PLAIN);
    }

    #[test]
    fn durations_in_tenths() {
        assert_eq!(seconds(1234), "1.2s");
        assert_eq!(seconds(0), "0.0s");
        assert_eq!(seconds(61_990), "62.0s");
        assert_eq!(seconds(1250), "1.2s");
    }
}
