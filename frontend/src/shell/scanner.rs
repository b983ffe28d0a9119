//! A character cursor with the two behaviours of Go's `text/scanner` that BuildKit's lexer
//! relies on: `peek`/`next` over Unicode scalar values, and a byte-order mark (U+FEFF) at the
//! very start of the input is skipped.

/// The byte-order mark Go's scanner drops when it is the first character.
const BOM: char = '\u{FEFF}';

/// A cursor over the characters of one word.
#[derive(Debug, Clone)]
pub(crate) struct Scanner {
    chars: Vec<char>,
    pos: usize,
}

impl Scanner {
    pub(crate) fn new(input: &str) -> Self {
        let chars: Vec<char> = input.chars().collect();
        let pos = usize::from(chars.first() == Some(&BOM));
        Self { chars, pos }
    }

    /// The next character without consuming it; `None` at the end.
    pub(crate) fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    /// Consumes and returns the next character; `None` at the end.
    pub(crate) fn next_char(&mut self) -> Option<char> {
        let ch = self.peek()?;
        self.pos += 1;
        Some(ch)
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_characters_and_ends() {
        let mut s = Scanner::new("a한");
        assert_eq!(s.peek(), Some('a'));
        assert_eq!(s.next_char(), Some('a'));
        assert_eq!(s.next_char(), Some('한'));
        assert!(s.at_end());
        assert_eq!(s.next_char(), None);
        assert_eq!(s.peek(), None);
    }

    #[test]
    fn skips_only_a_leading_bom() {
        let mut s = Scanner::new("\u{FEFF}x\u{FEFF}");
        assert_eq!(s.next_char(), Some('x'));
        assert_eq!(s.next_char(), Some(BOM));
        assert!(Scanner::new("\u{FEFF}").at_end());
    }
}
