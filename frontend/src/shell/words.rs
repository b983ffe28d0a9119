//! Word splitting as BuildKit's `wordsStruct` does it, after expansion: unquoted whitespace
//! separates words, quoted text and escaped characters never do.
//!
//! The text of the word being built lives in a buffer owned by the whole expansion, not by
//! one level of it, because BuildKit shares one buffer across nested `${...}` levels: a
//! nested `${VAR:-word}` (or a `${VAR/a/b}`) clears it. So `ProcessWords("ab${X:-c}d")`
//! yields `["cd"]` in BuildKit (since v0.15, commit f0563a5c0); slipway does the same so a
//! build splits its words exactly as BuildKit would.

use super::chars::is_space;

/// The finished words of one level of expansion.
#[derive(Debug, Default)]
pub(crate) struct Words {
    words: Vec<String>,
    in_word: bool,
}

impl Words {
    /// An unquoted character: whitespace ends the current word.
    pub(crate) fn add_char(&mut self, buf: &mut String, ch: char) {
        if is_space(ch) {
            if self.in_word && !buf.is_empty() {
                self.words.push(std::mem::take(buf));
                self.in_word = false;
            }
        } else {
            self.add_raw_char(buf, ch);
        }
    }

    /// A quoted or escaped character: always part of the word.
    pub(crate) fn add_raw_char(&mut self, buf: &mut String, ch: char) {
        buf.push(ch);
        self.in_word = true;
    }

    /// The unquoted result of a `$` expansion.
    pub(crate) fn add_string(&mut self, buf: &mut String, s: &str) {
        for ch in s.chars() {
            self.add_char(buf, ch);
        }
    }

    /// Quoted text: always part of the word (even when empty, `""` starts a word).
    pub(crate) fn add_raw_string(&mut self, buf: &mut String, s: &str) {
        buf.push_str(s);
        self.in_word = true;
    }

    /// The words, with the one being built if it is not empty.
    pub(crate) fn finish(mut self, buf: &mut String) -> Vec<String> {
        if !buf.is_empty() {
            self.words.push(std::mem::take(buf));
        }
        self.words
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_unquoted_whitespace_only() {
        let mut buf = String::new();
        let mut w = Words::default();
        w.add_string(&mut buf, "  ab c ");
        w.add_raw_string(&mut buf, " d ");
        w.add_char(&mut buf, '\u{3000}');
        w.add_raw_char(&mut buf, ' ');
        assert_eq!(w.finish(&mut buf), vec!["ab", "c", " d ", " "]);
        assert!(buf.is_empty());
    }

    #[test]
    fn empty_quotes_make_no_word() {
        let mut buf = String::new();
        let mut w = Words::default();
        w.add_raw_string(&mut buf, "");
        assert!(w.finish(&mut buf).is_empty());
    }
}
