//! The live terminal view (`--progress=tty`): one line per running step with a timer, grouped
//! under a line per platform; a finished step collapses to its final line (`DONE 1.2s`,
//! `CACHED`, `ERROR: ...`). A failed step's last log lines are printed above the view.

use crate::event::{ProgressEvent, VertexEvent, VertexStatus};
use crate::numbering::VertexTable;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use slipway_graph::Digest;
use std::collections::{HashMap, VecDeque};
use std::time::Duration;

/// Log lines kept per running step (shown when it fails).
const KEPT_LOG_LINES: usize = 10;

pub struct TtyRenderer {
    multi: MultiProgress,
    table: VertexTable,
    /// Per platform: its header line and the last line of its group.
    groups: HashMap<String, (ProgressBar, ProgressBar)>,
    bars: HashMap<Digest, ProgressBar>,
    logs: HashMap<Digest, VecDeque<String>>,
    running: ProgressStyle,
    finished: ProgressStyle,
}

impl TtyRenderer {
    /// A view drawn on stderr.
    pub fn stderr() -> TtyRenderer {
        TtyRenderer::new(ProgressDrawTarget::stderr())
    }

    pub fn new(target: ProgressDrawTarget) -> TtyRenderer {
        let running = ProgressStyle::with_template("{spinner} {msg} {elapsed:.dim}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        let finished = ProgressStyle::with_template("  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        TtyRenderer {
            multi: MultiProgress::with_draw_target(target),
            table: VertexTable::default(),
            groups: HashMap::new(),
            bars: HashMap::new(),
            logs: HashMap::new(),
            running,
            finished,
        }
    }

    pub fn event(&mut self, event: &ProgressEvent) {
        match event {
            ProgressEvent::Vertex(v) => self.vertex(v),
            ProgressEvent::Log { vertex, data, .. } => {
                let kept = self.logs.entry(vertex.clone()).or_default();
                for line in String::from_utf8_lossy(data).lines() {
                    if kept.len() == KEPT_LOG_LINES {
                        kept.pop_front();
                    }
                    kept.push_back(line.to_string());
                }
                if let (Some(bar), Some(last)) = (self.bars.get(vertex), kept.back()) {
                    let head = self.table.get(vertex).map(|s| (s.number, s.name.clone()));
                    if let Some((n, name)) = head {
                        bar.set_message(format!("#{n} {name}: {last}"));
                    }
                }
            }
            ProgressEvent::Graph { .. } => {}
            ProgressEvent::Warning { message, .. } => {
                let _ = self.multi.println(format!("WARNING: {message}"));
            }
        }
    }

    /// Stops the spinners of steps still running and leaves the view on screen.
    pub fn finish(self) {
        for bar in self.bars.values() {
            if !bar.is_finished() {
                bar.abandon();
            }
        }
        for (header, _) in self.groups.values() {
            header.finish();
        }
    }

    fn vertex(&mut self, v: &VertexEvent) {
        let state = self.table.observe(v);
        let line = format!("#{} {}", state.number, state.name);
        let bar = match self.bars.get(&v.vertex) {
            Some(b) => b.clone(),
            None => {
                let bar = self.new_bar(&v.platform.to_string());
                bar.set_message(line.clone());
                self.bars.insert(v.vertex.clone(), bar.clone());
                bar
            }
        };
        let end = match &v.status {
            VertexStatus::Started => return,
            VertexStatus::Cached => "CACHED".to_string(),
            VertexStatus::Done { duration_ms } => {
                format!("DONE {:.1}s", *duration_ms as f64 / 1000.0)
            }
            VertexStatus::Error { message } => {
                if let Some(lines) = self.logs.get(&v.vertex) {
                    for l in lines {
                        let _ = self.multi.println(format!("{line}: {l}"));
                    }
                }
                format!("ERROR: {message}")
            }
            VertexStatus::Cancelled => "CANCELED".to_string(),
        };
        self.logs.remove(&v.vertex);
        bar.set_style(self.finished.clone());
        bar.finish_with_message(format!("{line}  {end}"));
    }

    fn new_bar(&mut self, platform: &str) -> ProgressBar {
        let bar = ProgressBar::new_spinner().with_style(self.running.clone());
        let bar = match self.groups.get_mut(platform) {
            Some((_, last)) => {
                let bar = self.multi.insert_after(last, bar);
                *last = bar.clone();
                bar
            }
            None => {
                let header = self.multi.add(
                    ProgressBar::new_spinner()
                        .with_style(self.finished.clone())
                        .with_message(format!("[{platform}]")),
                );
                header.tick();
                let bar = self.multi.add(bar);
                self.groups
                    .insert(platform.to_string(), (header, bar.clone()));
                bar
            }
        };
        bar.enable_steady_tick(Duration::from_millis(100));
        bar
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::sample_events;

    #[test]
    fn every_step_ends_finished_or_abandoned() {
        let mut r = TtyRenderer::new(ProgressDrawTarget::hidden());
        for e in sample_events() {
            r.event(&e);
        }
        assert_eq!(r.bars.len(), 4);
        assert!(r.bars.values().all(|b| b.is_finished()));
        assert_eq!(r.groups.len(), 1);
        r.finish();
    }
}
