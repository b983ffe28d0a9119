//! The top-level loop of BuildKit's `parser.Parse`: directives, comments, line continuations,
//! instruction nodes and heredoc bodies.

use super::directives::{detect_directive, DirectiveParser, KEY_CHECK, KEY_ESCAPE, KEY_SYNTAX};
use super::error::ParseError;
use super::heredoc::{heredocs_from_line, HeredocError};
use super::line_parsers::node_from_line;
use super::node::{Directives, Node, ParseResult, Warning};
use super::scanner::LineScanner;
use super::text::{is_comment, lossy, trim_leading_whitespace, trim_newline};

/// The escape token when no `# escape=` directive says otherwise.
pub const DEFAULT_ESCAPE_TOKEN: char = '\\';

/// Instructions whose body may hold heredocs.
const HEREDOC_INSTRUCTIONS: [&str; 3] = ["add", "copy", "run"];

/// Parses a Dockerfile into BuildKit's syntax tree.
pub fn parse(source: &str) -> Result<ParseResult, ParseError> {
    let mut parser = Parser {
        scanner: LineScanner::new(source),
        directive_parser: DirectiveParser::default(),
        escape: DEFAULT_ESCAPE_TOKEN,
        escape_directive: None,
        current_line: 0,
    };
    let (children, warnings) = parser.run()?;
    let mut root = Node {
        start_line: children.first().map_or(0, |c| c.start_line),
        end_line: children.last().map_or(0, |c| c.end_line),
        children,
        ..Node::default()
    };
    if root.children.is_empty() {
        return Err(ParseError::NoInstructions {
            line: parser.current_line,
        });
    }
    if parser.scanner.hit_line_too_long() {
        return Err(ParseError::LineTooLong {
            line: parser.current_line + 1,
        });
    }
    root.value = String::new();
    let syntax = detect_directive(KEY_SYNTAX, source, true);
    let check = detect_directive(KEY_CHECK, source, false);
    Ok(ParseResult {
        ast: root,
        directives: Directives {
            syntax_line: syntax.as_ref().map(|(_, line)| *line),
            syntax: syntax.map(|(value, _)| value),
            escape: parser.escape_directive,
            check: check.map(|(value, _)| value),
        },
        escape: parser.escape,
        warnings,
    })
}

struct Parser<'a> {
    scanner: LineScanner<'a>,
    directive_parser: DirectiveParser,
    escape: char,
    escape_directive: Option<char>,
    /// Lines consumed so far (the 1-based number of the last line read).
    current_line: usize,
}

impl<'a> Parser<'a> {
    fn run(&mut self) -> Result<(Vec<Node>, Vec<Warning>), ParseError> {
        let mut children = Vec::new();
        let mut warnings = Vec::new();
        let mut comments: Vec<String> = Vec::new();

        while let Some(mut raw) = self.scanner.next_line() {
            if self.current_line == 0 {
                raw = raw.strip_prefix('\u{feff}').unwrap_or(raw);
            }
            if is_comment(raw) {
                // BuildKit drops the line's first byte, not the `#`, before trimming.
                let comment = lossy(raw.as_bytes().get(1..).unwrap_or_default());
                let comment = comment.trim();
                if comment.is_empty() {
                    comments.clear();
                } else {
                    comments.push(comment.to_string());
                }
            }
            let (line, directive) = self.process_line(raw, true)?;
            if directive {
                comments.pop();
            }
            self.current_line += 1;
            let start_line = self.current_line;

            let (first, mut end_of_line) = self.trim_continuation(line);
            if end_of_line && first.is_empty() {
                continue;
            }
            let mut joined = first.to_string();
            let mut has_empty_continuation = false;
            while !end_of_line {
                let Some(raw) = self.scanner.next_line() else {
                    break;
                };
                let (line, _) = self.process_line(raw, false)?;
                self.current_line += 1;
                if is_comment(raw) {
                    continue;
                }
                if trim_leading_whitespace(line).is_empty() {
                    has_empty_continuation = true;
                    continue;
                }
                let (part, eol) = self.trim_continuation(line);
                end_of_line = eol;
                joined.push_str(part);
            }

            if has_empty_continuation {
                warnings.push(Warning {
                    line: self.current_line,
                    message: format!("Empty continuation line found in: {joined}"),
                });
            }

            let mut child = node_from_line(&joined, self.escape, std::mem::take(&mut comments))
                .map_err(|e| e.at(start_line, self.current_line))?;
            if can_contain_heredoc(&child) && joined.contains("<<") {
                self.read_heredocs(&mut child, &joined, start_line)?;
            }
            child.start_line = start_line;
            child.end_line = self.current_line;
            children.push(child);
        }
        Ok((children, warnings))
    }

    /// BuildKit's `processLine`: strips the line ending (and leading blanks on a first line),
    /// feeds the directive parser, and blanks out comment lines.
    fn process_line(
        &mut self,
        raw: &'a str,
        strip_left: bool,
    ) -> Result<(&'a str, bool), ParseError> {
        let mut token = trim_newline(raw);
        if strip_left {
            token = trim_leading_whitespace(token);
        }
        let directive = self.possible_directive(token)?;
        let line = if is_comment(token) { "" } else { token };
        Ok((line, directive))
    }

    fn possible_directive(&mut self, token: &str) -> Result<bool, ParseError> {
        let line = self.current_line + 1;
        let directive = self
            .directive_parser
            .parse_line(token)
            .map_err(|name| ParseError::DuplicateDirective { line, name })?;
        let Some(directive) = directive else {
            return Ok(false);
        };
        if directive.name == KEY_ESCAPE {
            let escape = match directive.value.as_str() {
                "`" => '`',
                "\\" => '\\',
                other => {
                    return Err(ParseError::InvalidEscapeToken {
                        line,
                        token: other.to_string(),
                    })
                }
            };
            self.escape = escape;
            self.escape_directive = Some(escape);
        }
        Ok(true)
    }

    /// Removes a trailing escape token (plus blanks after it) that is not itself escaped;
    /// returns the rest and whether the instruction ends on this line.
    fn trim_continuation(&self, line: &'a str) -> (&'a str, bool) {
        let trimmed = line.trim_end_matches([' ', '\t']);
        if let Some(before) = trimmed.strip_suffix(self.escape) {
            if !before.ends_with(self.escape) {
                return (before, false);
            }
        }
        (line, true)
    }

    /// Reads the bodies of the heredocs named on `line` from the lines that follow.
    fn read_heredocs(
        &mut self,
        child: &mut Node,
        line: &str,
        start_line: usize,
    ) -> Result<(), ParseError> {
        let docs = heredocs_from_line(line).map_err(|e| match e {
            HeredocError::Lex { word, reason } => ParseError::HeredocWord {
                start_line,
                end_line: self.current_line,
                word,
                reason,
            },
            HeredocError::Inconsistent { word } => ParseError::HeredocInconsistent {
                start_line,
                end_line: self.current_line,
                word,
            },
        })?;
        for mut doc in docs {
            let mut terminated = false;
            while let Some(raw) = self.scanner.next_line() {
                self.current_line += 1;
                let mut candidate = trim_newline(raw);
                if doc.chomp {
                    candidate = candidate.trim_start_matches('\t');
                }
                if candidate == doc.name {
                    terminated = true;
                    break;
                }
                doc.content.push_str(raw);
            }
            if !terminated {
                return Err(ParseError::UnterminatedHeredoc {
                    start_line,
                    end_line: self.current_line,
                });
            }
            child.heredocs.push(doc);
        }
        Ok(())
    }
}

/// RUN, COPY and ADD in shell form (also under ONBUILD) may carry heredocs.
fn can_contain_heredoc(node: &Node) -> bool {
    let mut node = node;
    if node.value == "onbuild" {
        if let Some(sub) = node.next.first().and_then(|arg| arg.children.first()) {
            node = sub;
        }
    }
    HEREDOC_INSTRUCTIONS.contains(&node.value.as_str()) && !node.json
}
