//! Path patterns with Docker's exact rules (the semantics of moby/patternmatcher).
//!
//! A pattern is cleaned like Go's `filepath.Clean`, may start with `!` (an exception that
//! re-includes), and is matched against slash-separated paths relative to a root:
//! `*` and `?` never cross `/`, `**` spans any number of directories, `[...]` is a
//! character class, `\` escapes the next character. A pattern that matches a directory
//! also matches everything below it (the parent-walking rules).

use crate::error::PatternError;
use crate::pathclean::clean;
use regex::Regex;

/// How a single pattern is evaluated (mirrors patternmatcher's match types, whose
/// shortcuts are *not* always equivalent to the regular expression: `**file` matches
/// `xfile`).
#[derive(Debug, Clone)]
enum MatchKind {
    Exact,
    /// The pattern minus its trailing `**`.
    Prefix(String),
    /// The pattern minus its leading `**`.
    Suffix(String),
    Regex(Regex),
}

/// One cleaned pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    cleaned: String,
    exclusion: bool,
    kind: MatchKind,
}

impl Pattern {
    /// The cleaned pattern text, without the leading `!`.
    pub fn as_str(&self) -> &str {
        &self.cleaned
    }

    /// True for a `!` exception.
    pub fn is_exclusion(&self) -> bool {
        self.exclusion
    }

    /// True when the pattern has no wildcard, class or escape (matches one literal path).
    pub fn is_literal(&self) -> bool {
        matches!(self.kind, MatchKind::Exact)
    }

    /// Whether `path` (slash-separated, relative) matches this pattern itself (no parents).
    pub fn matches_exact(&self, path: &str) -> bool {
        match &self.kind {
            MatchKind::Exact => path == self.cleaned,
            MatchKind::Prefix(prefix) => path.starts_with(prefix.as_str()),
            MatchKind::Suffix(suffix) => {
                path.ends_with(suffix.as_str())
                    || suffix.strip_prefix('/').is_some_and(|rest| path == rest)
            }
            MatchKind::Regex(re) => re.is_match(path),
        }
    }

    fn parse(raw: &str) -> Result<Option<Pattern>, PatternError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Ok(None);
        }
        let cleaned = clean(trimmed);
        let (exclusion, body) = match cleaned.strip_prefix('!') {
            Some("") => {
                return Err(PatternError::IllegalExclusion {
                    pattern: raw.to_string(),
                })
            }
            Some(rest) => (true, rest.to_string()),
            None => (false, cleaned),
        };
        validate_glob(&body).map_err(|reason| PatternError::Malformed {
            pattern: raw.to_string(),
            reason,
        })?;
        let kind = compile(&body).map_err(|reason| PatternError::Malformed {
            pattern: raw.to_string(),
            reason,
        })?;
        Ok(Some(Pattern {
            cleaned: body,
            exclusion,
            kind,
        }))
    }
}

/// The per-pattern results for a directory, handed to its children so that a pattern
/// matching a parent directory also matches everything below it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchInfo {
    parent_matched: Vec<bool>,
}

/// An ordered list of patterns; later patterns override earlier ones.
#[derive(Debug, Clone, Default)]
pub struct PatternMatcher {
    patterns: Vec<Pattern>,
}

impl PatternMatcher {
    /// Parses patterns; blank ones are skipped, `!` alone or a malformed glob is an error.
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<PatternMatcher, PatternError> {
        let mut out = Vec::with_capacity(patterns.len());
        for p in patterns {
            if let Some(pat) = Pattern::parse(p.as_ref())? {
                out.push(pat);
            }
        }
        Ok(PatternMatcher { patterns: out })
    }

    /// The active patterns, in order.
    pub fn patterns(&self) -> &[Pattern] {
        &self.patterns
    }

    /// True when there are no patterns at all.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// True if any pattern is a `!` exception.
    pub fn has_exclusions(&self) -> bool {
        self.patterns.iter().any(|p| p.exclusion)
    }

    /// Whether `path` matches without considering parents.
    pub fn matches_exact(&self, path: &str) -> bool {
        let mut matched = false;
        for p in &self.patterns {
            if p.exclusion != matched {
                continue;
            }
            if p.matches_exact(path) {
                matched = !p.exclusion;
            }
        }
        matched
    }

    /// Whether `path` matches, where a pattern matching any parent directory counts as a
    /// match (patternmatcher's `MatchesOrParentMatches`).
    pub fn matches_or_parent_matches(&self, path: &str) -> bool {
        self.matches_using_parent_results(path, &MatchInfo::default())
            .0
    }

    /// Whether `path` matches, given the results of its parent directory (use
    /// `MatchInfo::default()` at the top level or when unknown). Returns the info to pass
    /// to the children of `path`.
    pub fn matches_using_parent_results(
        &self,
        path: &str,
        parent: &MatchInfo,
    ) -> (bool, MatchInfo) {
        let have_parent =
            parent.parent_matched.len() == self.patterns.len() && !self.patterns.is_empty();
        let mut matched = false;
        let mut info = MatchInfo {
            parent_matched: vec![false; self.patterns.len()],
        };
        for (i, p) in self.patterns.iter().enumerate() {
            let mut hit = have_parent && parent.parent_matched.get(i).copied().unwrap_or(false);
            if !hit {
                if p.exclusion != matched {
                    continue;
                }
                hit = p.matches_exact(path);
                if !hit && !have_parent {
                    hit = parent_dirs(path).any(|dir| p.matches_exact(dir));
                }
            }
            if let Some(slot) = info.parent_matched.get_mut(i) {
                *slot = hit;
            }
            if hit {
                matched = !p.exclusion;
            }
        }
        (matched, info)
    }
}

/// `a`, `a/b` for `a/b/c` (every proper ancestor, shortest first).
fn parent_dirs(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/')
        .map(move |(i, _)| &path[..i])
        .filter(|p| !p.is_empty())
}

/// Go's `filepath.Match` syntax check: classes must close and be non-empty, range ends
/// must be present, a trailing `\` is an error.
fn validate_glob(p: &str) -> Result<(), String> {
    let mut chars = p.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.next().is_none() => {
                return Err("trailing backslash".to_string());
            }
            '[' => {
                if chars.peek() == Some(&'^') {
                    chars.next();
                }
                let mut first = true;
                loop {
                    if !first && chars.peek() == Some(&']') {
                        chars.next();
                        break;
                    }
                    first = false;
                    class_char(&mut chars)?;
                    if chars.peek() == Some(&'-') {
                        chars.next();
                        class_char(&mut chars)?;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn class_char(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<char, String> {
    match chars.next() {
        None => Err("unterminated character class".to_string()),
        Some('-') | Some(']') => Err("bad character class".to_string()),
        Some('\\') => chars
            .next()
            .ok_or_else(|| "unterminated escape in character class".to_string()),
        Some(c) => Ok(c),
    }
}

/// Regex metacharacters that are literal in a glob.
fn should_escape(c: char) -> bool {
    ".+()|{}$".contains(c)
}

fn compile(pattern: &str) -> Result<MatchKind, String> {
    #[derive(PartialEq)]
    enum Detected {
        Exact,
        Prefix,
        Suffix,
        Regex,
    }
    let mut re = String::from("^");
    let mut detected = Detected::Exact;
    let mut chars = pattern.chars().peekable();
    let mut i = 0usize;
    while let Some(ch) = chars.next() {
        match ch {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                if chars.peek() == Some(&'/') {
                    chars.next();
                }
                if chars.peek().is_none() {
                    if detected == Detected::Exact {
                        detected = Detected::Prefix;
                    } else {
                        re.push_str(".*");
                        detected = Detected::Regex;
                    }
                } else {
                    re.push_str("(.*/)?");
                    detected = Detected::Regex;
                }
                if i == 0 {
                    detected = Detected::Suffix;
                }
            }
            '*' => {
                re.push_str("[^/]*");
                detected = Detected::Regex;
            }
            '?' => {
                re.push_str("[^/]");
                detected = Detected::Regex;
            }
            c if should_escape(c) => {
                re.push('\\');
                re.push(c);
            }
            '\\' => match chars.next() {
                Some(next) => {
                    re.push('\\');
                    re.push(next);
                    detected = Detected::Regex;
                }
                None => re.push_str("\\\\"),
            },
            '[' | ']' => {
                re.push(ch);
                detected = Detected::Regex;
            }
            c => re.push(c),
        }
        i += 1;
    }
    Ok(match detected {
        Detected::Exact => MatchKind::Exact,
        Detected::Prefix => MatchKind::Prefix(
            pattern
                .get(..pattern.len().saturating_sub(2))
                .unwrap_or("")
                .to_string(),
        ),
        Detected::Suffix => MatchKind::Suffix(pattern.get(2..).unwrap_or("").to_string()),
        Detected::Regex => {
            re.push('$');
            MatchKind::Regex(Regex::new(&re).map_err(|e| e.to_string())?)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_dirs_lists_ancestors() {
        assert_eq!(parent_dirs("a/b/c").collect::<Vec<_>>(), vec!["a", "a/b"]);
        assert_eq!(parent_dirs("a").count(), 0);
    }

    #[test]
    fn bang_alone_is_an_error() {
        assert!(matches!(
            PatternMatcher::new(&["!"]),
            Err(PatternError::IllegalExclusion { .. })
        ));
    }

    #[test]
    fn literal_detection() {
        let m = PatternMatcher::new(&["a(b)c/def", "a*"]).unwrap();
        assert!(m.patterns()[0].is_literal());
        assert!(!m.patterns()[1].is_literal());
    }
}
