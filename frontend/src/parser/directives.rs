//! Parser directives (`# syntax=`, `# escape=`, `# check=`): BuildKit's `DirectiveParser`,
//! `DetectSyntax` / `ParseDirective`, and slipway's check that the syntax directive names
//! the built-in Dockerfile frontend.

use std::collections::BTreeSet;

use super::error::ParseError;
use super::node::Directives;

pub const KEY_SYNTAX: &str = "syntax";
pub const KEY_ESCAPE: &str = "escape";
pub const KEY_CHECK: &str = "check";

/// One directive line: lower-cased key and value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    pub name: String,
    pub value: String,
}

/// BuildKit's `DirectiveParser`: directives are only recognised on the leading comment lines;
/// the first line that is not a directive ends the directive section for good.
#[derive(Debug)]
pub struct DirectiveParser {
    prefix: &'static str,
    seen: BTreeSet<String>,
    done: bool,
}

impl Default for DirectiveParser {
    fn default() -> Self {
        DirectiveParser::with_prefix("#")
    }
}

impl DirectiveParser {
    /// A parser for another comment prefix (`//` in `DetectSyntax`).
    pub fn with_prefix(prefix: &'static str) -> Self {
        DirectiveParser {
            prefix,
            seen: BTreeSet::new(),
            done: false,
        }
    }

    /// Looks at one line (newline already removed). `Err(name)` is a repeated directive.
    pub fn parse_line(&mut self, line: &str) -> Result<Option<Directive>, String> {
        if self.done {
            return Ok(None);
        }
        let Some(body) = line.strip_prefix(self.prefix) else {
            self.done = true;
            return Ok(None);
        };
        let Some((key, value)) = match_directive(body.trim_start_matches(char::is_whitespace))
        else {
            self.done = true;
            return Ok(None);
        };
        let name = key.to_ascii_lowercase();
        if !matches!(name.as_str(), KEY_SYNTAX | KEY_ESCAPE | KEY_CHECK) {
            self.done = true;
            return Ok(None);
        }
        if !self.seen.insert(name.clone()) {
            return Err(name);
        }
        Ok(Some(Directive {
            name,
            value: value.to_string(),
        }))
    }
}

/// RE2's `\s`: `[\t\n\f\r ]`.
fn is_re2_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\u{c}' | '\r' | ' ')
}

/// The regexp `^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`, with its backtracking outcome
/// spelled out: an all-blank value keeps its last blank character.
fn match_directive(line: &str) -> Option<(&str, &str)> {
    if !line.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let key_end = line
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(line.len());
    let key = &line[..key_end];
    let after_eq = line[key_end..]
        .trim_start_matches(is_re2_space)
        .strip_prefix('=')?;
    let value = after_eq.trim_start_matches(is_re2_space);
    if value.is_empty() {
        // `.+?` must take one character: the last blank.
        let last = after_eq.chars().next_back()?;
        return Some((key, &after_eq[after_eq.len() - last.len_utf8()..]));
    }
    Some((key, value.trim_end_matches(is_re2_space)))
}

/// BuildKit's `DetectSyntax` (`any_format`: also `//` comments and a JSON object) and
/// `ParseDirective` (only `#`): skips a BOM and a `#!` line, returns the value and its line.
pub fn detect_directive(key: &str, source: &str, any_format: bool) -> Option<(String, usize)> {
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    let (source, first_line) = match source.split_once('\n') {
        Some((first, rest)) if first.starts_with("#!") => (rest, 2),
        None if source.starts_with("#!") => ("", 2),
        _ => (source, 1),
    };
    if let Some(found) = detect_with_prefix(key, source, "#", first_line) {
        return Some(found);
    }
    if !any_format {
        return None;
    }
    if let Some(found) = detect_with_prefix(key, source, "//", first_line) {
        return Some(found);
    }
    let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(source).ok()?;
    match object.get(key) {
        Some(serde_json::Value::String(v)) => Some((v.clone(), first_line)),
        _ => None,
    }
}

fn detect_with_prefix(
    key: &str,
    source: &str,
    prefix: &'static str,
    first_line: usize,
) -> Option<(String, usize)> {
    let mut parser = DirectiveParser::with_prefix(prefix);
    // `bufio.ScanLines`: drop the `\n` and one `\r` before it.
    for (i, line) in source.split_inclusive('\n').enumerate() {
        let line = line.strip_suffix('\n').unwrap_or(line);
        let line = line.strip_suffix('\r').unwrap_or(line);
        match parser.parse_line(line) {
            Ok(Some(d)) if d.name == key => return Some((d.value, first_line + i)),
            Ok(_) if !parser.done => continue,
            _ => return None,
        }
    }
    None
}

impl Directives {
    /// Accepts no syntax directive or one naming the Dockerfile frontend BuildKit ships
    /// (`docker/dockerfile`, `:1`, `:1.x[.y][-labs]`, `:labs`, `:latest`, an optional
    /// `docker.io/` and `@sha256:` digest); refuses any other frontend image.
    pub fn check_syntax(&self) -> Result<(), ParseError> {
        let Some(syntax) = &self.syntax else {
            return Ok(());
        };
        let image = syntax.split(' ').next().unwrap_or_default();
        if is_builtin_frontend(image) {
            return Ok(());
        }
        Err(ParseError::UnsupportedSyntax {
            line: self.syntax_line.unwrap_or(1),
            syntax: syntax.clone(),
        })
    }
}

/// Whether an image reference names BuildKit's own Dockerfile frontend.
pub fn is_builtin_frontend(image: &str) -> bool {
    let (name_tag, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    if let Some(d) = digest {
        let valid = d
            .strip_prefix("sha256:")
            .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()));
        if !valid {
            return false;
        }
    }
    let name_tag = ["docker.io/", "index.docker.io/"]
        .iter()
        .find_map(|p| name_tag.strip_prefix(p))
        .unwrap_or(name_tag);
    let (name, tag) = match name_tag.split_once(':') {
        Some((n, t)) => (n, Some(t)),
        None => (name_tag, None),
    };
    name == "docker/dockerfile" && tag.is_none_or(is_builtin_tag)
}

fn is_builtin_tag(tag: &str) -> bool {
    if tag == "labs" || tag == "latest" {
        return true;
    }
    let version = tag.strip_suffix("-labs").unwrap_or(tag);
    let mut parts = version.split('.');
    parts.next() == Some("1")
        && parts.clone().count() <= 2
        && parts.all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_one(line: &str) -> Result<Option<Directive>, String> {
        DirectiveParser::default().parse_line(line)
    }

    #[test]
    fn recognises_directives_case_insensitively() {
        let d = parse_one("# Syntax = docker/dockerfile:1  ")
            .unwrap()
            .unwrap();
        assert_eq!(
            (d.name.as_str(), d.value.as_str()),
            ("syntax", "docker/dockerfile:1")
        );
        let d = parse_one("#escape=`").unwrap().unwrap();
        assert_eq!(d.value, "`");
        let d = parse_one("# check=skip=all;error=true").unwrap().unwrap();
        assert_eq!(d.value, "skip=all;error=true");
        assert_eq!(parse_one("# escape= ").unwrap().unwrap().value, " ");
        assert_eq!(parse_one("# escape=").unwrap(), None);
        assert_eq!(parse_one("# unknown=x").unwrap(), None);
        assert_eq!(parse_one("FROM x").unwrap(), None);
    }

    #[test]
    fn first_non_directive_ends_the_section() {
        let mut p = DirectiveParser::default();
        assert!(p.parse_line("# a comment").unwrap().is_none());
        assert!(p.parse_line("# escape=`").unwrap().is_none());
        let mut p = DirectiveParser::default();
        assert!(p.parse_line("").unwrap().is_none());
        assert!(p.parse_line("# escape=`").unwrap().is_none());
    }

    #[test]
    fn repeated_directive_is_an_error() {
        let mut p = DirectiveParser::default();
        assert!(p.parse_line("# syntax=a").unwrap().is_some());
        assert_eq!(p.parse_line("# SYNTAX=b"), Err("syntax".to_string()));
    }

    #[test]
    fn detects_syntax_in_other_formats() {
        let src = "#!/usr/bin/env buildctl\n# syntax=foo/bar\nFROM x\n";
        assert_eq!(
            detect_directive("syntax", src, true),
            Some(("foo/bar".into(), 2))
        );
        let src = "// syntax = foo/bar:1 --opt\nFROM x\n";
        assert_eq!(
            detect_directive("syntax", src, true),
            Some(("foo/bar:1 --opt".into(), 1))
        );
        assert_eq!(detect_directive("syntax", src, false), None);
        assert_eq!(
            detect_directive("syntax", r#"{"syntax": "a/b"}"#, true),
            Some(("a/b".into(), 1))
        );
        assert_eq!(
            detect_directive("syntax", "FROM x\n# syntax=a\n", true),
            None
        );
    }

    #[test]
    fn accepts_only_the_dockerfile_frontend() {
        for ok in [
            "docker/dockerfile",
            "docker/dockerfile:1",
            "docker/dockerfile:1.7",
            "docker/dockerfile:1.7.1",
            "docker/dockerfile:1-labs",
            "docker/dockerfile:1.7-labs",
            "docker/dockerfile:labs",
            "docker.io/docker/dockerfile:1",
            "docker/dockerfile:1@sha256:ac85f380a63b13dfcefa89046420e1781752bab202122f8f50032edf31be0021",
        ] {
            assert!(is_builtin_frontend(ok), "{ok}");
        }
        for bad in [
            "tonistiigi/dockerfile",
            "docker/dockerfile:2",
            "docker/dockerfile:experimental",
            "docker/dockerfile-upstream:master",
            "myregistry/docker/dockerfile:1",
            "docker/dockerfile:1@sha256:zz",
            "docker/dockerfile:1.",
        ] {
            assert!(!is_builtin_frontend(bad), "{bad}");
        }
        let d = Directives {
            syntax: Some("example.com/frontend:v1".into()),
            syntax_line: Some(1),
            ..Directives::default()
        };
        let e = d.check_syntax().unwrap_err();
        assert!(e
            .to_string()
            .contains("slipway only runs its built-in Dockerfile frontend"));
        assert_eq!(e.line(), 1);
        assert!(Directives::default().check_syntax().is_ok());
    }
}
