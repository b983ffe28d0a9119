//! `--progress` modes and the renderer each one selects.

use crate::event::ProgressEvent;
use crate::plain::PlainRenderer;
use crate::rawjson::RawJsonRenderer;
use crate::tty::TtyRenderer;
use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::str::FromStr;

/// A `--progress` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProgressMode {
    /// `tty` when stderr is a terminal, else `plain`.
    #[default]
    Auto,
    Tty,
    Plain,
    RawJson,
    Quiet,
}

/// An unknown `--progress` value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown progress mode {value:?} (expected auto, tty, plain, rawjson or quiet)")]
pub struct ModeError {
    pub value: String,
}

impl FromStr for ProgressMode {
    type Err = ModeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "auto" => ProgressMode::Auto,
            "tty" => ProgressMode::Tty,
            "plain" => ProgressMode::Plain,
            "rawjson" => ProgressMode::RawJson,
            "quiet" => ProgressMode::Quiet,
            other => {
                return Err(ModeError {
                    value: other.to_string(),
                })
            }
        })
    }
}

impl fmt::Display for ProgressMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProgressMode::Auto => "auto",
            ProgressMode::Tty => "tty",
            ProgressMode::Plain => "plain",
            ProgressMode::RawJson => "rawjson",
            ProgressMode::Quiet => "quiet",
        })
    }
}

impl ProgressMode {
    /// `Auto` resolved against whether the output is a terminal.
    pub fn resolve(self, is_terminal: bool) -> ProgressMode {
        match self {
            ProgressMode::Auto if is_terminal => ProgressMode::Tty,
            ProgressMode::Auto => ProgressMode::Plain,
            other => other,
        }
    }
}

/// Any renderer, chosen by mode.
pub enum Renderer<W: Write> {
    Plain(PlainRenderer<W>),
    RawJson(RawJsonRenderer<W>),
    Tty(Box<TtyRenderer>),
    Quiet,
}

impl Renderer<io::Stderr> {
    /// The renderer for `mode` writing to stderr (`auto` looks at whether stderr is a terminal).
    pub fn stderr(mode: ProgressMode) -> Renderer<io::Stderr> {
        match mode.resolve(io::stderr().is_terminal()) {
            ProgressMode::Tty => Renderer::Tty(Box::new(TtyRenderer::stderr())),
            ProgressMode::RawJson => Renderer::RawJson(RawJsonRenderer::new(io::stderr())),
            ProgressMode::Quiet => Renderer::Quiet,
            ProgressMode::Plain | ProgressMode::Auto => {
                Renderer::Plain(PlainRenderer::new(io::stderr()))
            }
        }
    }
}

impl<W: Write> Renderer<W> {
    pub fn event(&mut self, event: &ProgressEvent) -> io::Result<()> {
        match self {
            Renderer::Plain(r) => r.event(event),
            Renderer::RawJson(r) => r.event(event),
            Renderer::Tty(r) => {
                r.event(event);
                Ok(())
            }
            Renderer::Quiet => Ok(()),
        }
    }

    pub fn finish(self) -> io::Result<()> {
        match self {
            Renderer::Plain(r) => r.finish().map(drop),
            Renderer::RawJson(r) => r.finish().map(drop),
            Renderer::Tty(r) => {
                r.finish();
                Ok(())
            }
            Renderer::Quiet => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_and_resolve() {
        for m in ["auto", "tty", "plain", "rawjson", "quiet"] {
            assert_eq!(m.parse::<ProgressMode>().unwrap().to_string(), m);
        }
        let err = "fancy".parse::<ProgressMode>().unwrap_err();
        assert!(err.to_string().contains("\"fancy\""));
        assert_eq!(ProgressMode::Auto.resolve(true), ProgressMode::Tty);
        assert_eq!(ProgressMode::Auto.resolve(false), ProgressMode::Plain);
        assert_eq!(ProgressMode::Quiet.resolve(true), ProgressMode::Quiet);
    }

    #[test]
    fn quiet_prints_nothing() {
        let mut r: Renderer<Vec<u8>> = Renderer::Quiet;
        for e in crate::testdata::sample_events() {
            r.event(&e).unwrap();
        }
        r.finish().unwrap();
    }
}
