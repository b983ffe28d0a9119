//! The Dockerfile lines of a failed step, shown as BuildKit does under a step error:
//!
//! ```text
//! Dockerfile:3
//! --------------------
//!    2 |     COPY . /src
//!    3 | >>> RUN make
//! --------------------
//! ```

use slipway_graph::SourceLocation;
use std::fmt::Write as _;

const RULE: &str = "--------------------";
const CONTEXT_LINES: usize = 2;

/// The excerpt for `location` in `source` (`None` when the lines are not in the source).
pub fn excerpt(source: &str, location: &SourceLocation) -> Option<String> {
    let lines: Vec<&str> = source.lines().collect();
    let start = location.start_line;
    let end = location.end_line.max(start);
    if start == 0 || start > lines.len() {
        return None;
    }
    let from = start.saturating_sub(CONTEXT_LINES).max(1);
    let to = (end + CONTEXT_LINES).min(lines.len());
    let mut out = format!("{}:{start}\n{RULE}\n", location.file);
    for n in from..=to {
        let text = lines.get(n - 1).copied().unwrap_or_default();
        let mark = if (start..=end).contains(&n) {
            ">>>"
        } else {
            "   "
        };
        let _ = writeln!(out, " {n:>4} | {mark} {text}");
    }
    out.push_str(RULE);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(start: usize, end: usize) -> SourceLocation {
        SourceLocation {
            file: "Dockerfile".into(),
            start_line: start,
            end_line: end,
        }
    }

    #[test]
    fn marks_the_step_with_context() {
        let src = "FROM a\nCOPY . /\nRUN make \\\n  all\nCMD x\nLABEL a=b\nENV c=d\n";
        assert_eq!(
            excerpt(src, &loc(3, 4)).unwrap(),
            "Dockerfile:3\n--------------------\n    1 |     FROM a\n    2 |     COPY . /\n    3 | >>> RUN make \\\n    4 | >>>   all\n    5 |     CMD x\n    6 |     LABEL a=b\n--------------------"
        );
        assert_eq!(
            excerpt("FROM a\n", &loc(1, 1)).unwrap(),
            "Dockerfile:1\n--------------------\n    1 | >>> FROM a\n--------------------"
        );
        assert_eq!(excerpt(src, &loc(0, 0)), None);
        assert_eq!(excerpt(src, &loc(99, 99)), None);
    }
}
