//! Heredoc markers (`<<EOF`, `<<-EOF`, `<<"EOF"`, `3<<EOF`) as BuildKit finds them: the line is
//! split into shell words (quotes and escapes kept), and each word matching
//! `^(\d*)<<(-?)\s*([^<]*)$` names a heredoc.

use super::error::LexError;
use super::heredoc_lex::{process_words, LexOptions};
use super::node::Heredoc;

/// A heredoc word that could not be read; the caller adds the line numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeredocError {
    Lex { word: String, reason: LexError },
    Inconsistent { word: String },
}

/// The heredocs named on an instruction line, in order, with empty contents.
pub fn heredocs_from_line(line: &str) -> Result<Vec<Heredoc>, HeredocError> {
    let options = LexOptions {
        raw_quotes: true,
        raw_escapes: true,
    };
    // BuildKit ignores lexing errors here: such a line simply has no heredocs.
    let words = process_words(line, options).unwrap_or_default();
    let mut docs = Vec::new();
    for word in &words {
        if let Some(doc) = parse_heredoc(word)? {
            docs.push(doc);
        }
    }
    Ok(docs)
}

/// Reads one word as a heredoc marker: `Ok(None)` when it is not one.
pub fn parse_heredoc(src: &str) -> Result<Option<Heredoc>, HeredocError> {
    let Some(marker) = match_marker(src) else {
        return Ok(None);
    };
    if marker.rest.is_empty() {
        return Ok(None);
    }
    let lex_err = |reason| HeredocError::Lex {
        word: marker.rest.to_string(),
        reason,
    };
    let words = process_words(marker.rest, LexOptions::default()).map_err(lex_err)?;
    let [word] = words.as_slice() else {
        return Ok(None);
    };
    let raw = LexOptions {
        raw_quotes: true,
        raw_escapes: false,
    };
    let words_raw = process_words(marker.rest, raw).map_err(lex_err)?;
    let [word_raw] = words_raw.as_slice() else {
        return Err(HeredocError::Inconsistent {
            word: marker.rest.to_string(),
        });
    };
    let quotes = |s: &str| s.chars().filter(|c| *c == '\'' || *c == '"').count();
    Ok(Some(Heredoc {
        name: word.clone(),
        content: String::new(),
        expand: quotes(word) == quotes(word_raw),
        chomp: marker.chomp,
    }))
}

/// A matched marker. The file descriptor digits (`3<<EOF`) are accepted but, as in BuildKit,
/// nothing uses them.
struct Marker<'a> {
    chomp: bool,
    rest: &'a str,
}

/// `^(\d*)<<(-?)\s*([^<]*)$` (RE2: `\d` and `\s` are ASCII).
fn match_marker(src: &str) -> Option<Marker<'_>> {
    let digits = src.len() - src.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let after = src[digits..].strip_prefix("<<")?;
    let (chomp, after) = match after.strip_prefix('-') {
        Some(a) => (true, a),
        None => (false, after),
    };
    let rest = after.trim_start_matches(['\t', '\n', '\u{c}', '\r', ' ']);
    if rest.contains('<') {
        return None;
    }
    Some(Marker { chomp, rest })
}

/// Removes the leading tabs of every line of a `<<-` heredoc body (BuildKit's
/// `ChompHeredocContent`), for the instruction layer.
pub fn chomp_heredoc_content(src: &str) -> String {
    src.split_inclusive('\n')
        .map(|line| line.trim_start_matches('\t'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(src: &str) -> Option<String> {
        parse_heredoc(src).unwrap().map(|h| h.name)
    }

    #[test]
    fn valid_markers() {
        for src in [
            "<<EOF",
            "<<'EOF'",
            r#"<<"EOF""#,
            "<<-EOF",
            "<<-'EOF'",
            r#"<<-"EOF""#,
            r#"<<EO"F""#,
            "<< EOF",
            "<<- EOF",
        ] {
            assert_eq!(name(src).as_deref(), Some("EOF"), "{src}");
        }
        let h = parse_heredoc("3<<-'X'").unwrap().unwrap();
        assert_eq!((h.name.as_str(), h.chomp, h.expand), ("X", true, false));
        let h = parse_heredoc(r"<<eo\'f").unwrap().unwrap();
        assert_eq!((h.name.as_str(), h.expand), ("eo'f", true));
        let h = parse_heredoc(r"<<'e'o\'f").unwrap().unwrap();
        assert_eq!((h.name.as_str(), h.expand), ("eo'f", false));
    }

    #[test]
    fn not_markers_and_invalid_markers() {
        for src in ["", "EOF", "<<", "<<-", "<EOF", "<<<EOF", "<<EOF sh"] {
            assert_eq!(parse_heredoc(src), Ok(None), "{src}");
        }
        for src in ["<<'EOF", "<<\"EOF", "<<EOF'", "<<EOF\""] {
            assert!(parse_heredoc(src).is_err(), "{src}");
        }
    }

    #[test]
    fn markers_on_a_line() {
        let names = |line: &str| -> Vec<String> {
            heredocs_from_line(line)
                .unwrap()
                .into_iter()
                .map(|h| h.name)
                .collect()
        };
        assert_eq!(names("RUN <<EOF"), ["EOF"]);
        assert_eq!(names("RUN <<-EOF"), ["EOF"]);
        assert_eq!(names("RUN << -EOF"), ["-EOF"]);
        assert_eq!(names("RUN <<'EOF'"), ["EOF"]);
        assert_eq!(names("RUN 4<<EOF"), ["EOF"]);
        assert_eq!(names("RUN <<EOF <<EOF2"), ["EOF", "EOF2"]);
        assert_eq!(names("RUN <<  EOF  > foo"), ["EOF"]);
        assert!(names("RUN '<<EOF'").is_empty());
        assert!(names(r#"RUN "<<EOF""#).is_empty());
        // BuildKit's lexer splits `<<-` from a word after a blank: no heredoc.
        assert!(names("RUN <<- EOF").is_empty());
        // An unterminated quote elsewhere on the line hides the heredocs.
        assert!(names("RUN <<EOF 'x").is_empty());
    }

    #[test]
    fn chomps_leading_tabs() {
        assert_eq!(
            chomp_heredoc_content("\thello\n\t\tworld\n x\n"),
            "hello\nworld\n x\n"
        );
    }
}
