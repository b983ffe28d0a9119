//! The frontend's top-level error: what went wrong, in which Dockerfile, at which lines —
//! rendered the way BuildKit prints build errors.

use crate::instructions::InstructionError;
use crate::lower::LowerError;
use crate::parser::ParseError;
use std::fmt::Write as _;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrontendError {
    #[error("{}", located(.dockerfile, &self.line_ranges(), &.source.to_string()))]
    Parse {
        dockerfile: String,
        source: ParseError,
    },
    #[error("{}", located(.dockerfile, &self.line_ranges(), &.source.buildkit_message()))]
    Instruction {
        dockerfile: String,
        source: InstructionError,
    },
    #[error("{}", located(.dockerfile, &self.line_ranges(), &.source.to_string()))]
    Lower {
        dockerfile: String,
        source: LowerError,
    },
}

fn located(file: &str, ranges: &[(usize, usize)], message: &str) -> String {
    match ranges.first() {
        Some((start, _)) => format!("{file}:{start}: {message}"),
        None => message.to_string(),
    }
}

/// Lines shown around an error.
const CONTEXT_LINES: usize = 2;
const RULE: &str = "--------------------";

impl FrontendError {
    pub fn dockerfile(&self) -> &str {
        match self {
            FrontendError::Parse { dockerfile, .. }
            | FrontendError::Instruction { dockerfile, .. }
            | FrontendError::Lower { dockerfile, .. } => dockerfile,
        }
    }

    /// The (first, last) source lines the error is about, 1-based; empty when none.
    pub fn line_ranges(&self) -> Vec<(usize, usize)> {
        let ranges = match self {
            FrontendError::Parse { source, .. } => vec![source.lines()],
            FrontendError::Instruction { source, .. } => {
                let l = source.location();
                vec![(l.start_line, l.end_line)]
            }
            FrontendError::Lower { source, .. } => source
                .locations
                .iter()
                .map(|l| (l.start_line, l.end_line))
                .collect(),
        };
        let mut ranges: Vec<(usize, usize)> = ranges.into_iter().filter(|(s, _)| *s > 0).collect();
        ranges.sort_unstable();
        ranges.dedup();
        ranges
    }

    /// The error with the offending lines of `source` marked `>>>`, e.g.
    ///
    /// ```text
    /// Dockerfile:3: base name (${BASE}) should not be blank
    /// --------------------
    ///    1 |     ARG BASE
    ///    2 |     # comment
    ///    3 | >>> FROM ${BASE}
    /// --------------------
    /// ```
    pub fn render(&self, source: &str) -> String {
        let mut out = self.to_string();
        out.push('\n');
        let lines: Vec<&str> = source.lines().collect();
        let ranges = self.line_ranges();
        if ranges.is_empty() || lines.is_empty() {
            return out;
        }
        let hit = |n: usize| ranges.iter().any(|(s, e)| (*s..=(*e).max(*s)).contains(&n));
        let mut shown: Vec<usize> = Vec::new();
        for (s, e) in &ranges {
            let from = s.saturating_sub(CONTEXT_LINES).max(1);
            let to = ((*e).max(*s) + CONTEXT_LINES).min(lines.len());
            shown.extend(from..=to);
        }
        shown.sort_unstable();
        shown.dedup();
        let _ = writeln!(out, "{RULE}");
        let mut last = None;
        for n in shown {
            if last.is_some_and(|l: usize| n > l + 1) {
                let _ = writeln!(out, "  ...");
            }
            let text = lines.get(n - 1).copied().unwrap_or_default();
            let mark = if hit(n) { ">>>" } else { "   " };
            let _ = writeln!(out, " {n:>4} | {mark} {text}");
            last = Some(n);
        }
        let _ = writeln!(out, "{RULE}");
        out
    }
}
