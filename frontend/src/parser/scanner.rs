//! The line reader: Go's `bufio.Scanner` with BuildKit's `scanLines` split function, which
//! keeps the line endings, and the scanner's 64 KiB limit on one line.

/// Go's `bufio.MaxScanTokenSize`: the scanner's buffer never grows past this.
pub const MAX_TOKEN_SIZE: usize = 64 * 1024;

/// Yields physical lines, each with its `\n` (or `\r\n`) when there is one.
#[derive(Debug)]
pub struct LineScanner<'a> {
    rest: &'a str,
    too_long: bool,
}

impl<'a> LineScanner<'a> {
    pub fn new(source: &'a str) -> Self {
        LineScanner {
            rest: source,
            too_long: false,
        }
    }

    /// True once a line longer than the scanner's buffer stopped the scan (BuildKit's
    /// `bufio.ErrTooLong`); no more lines come after that.
    pub fn hit_line_too_long(&self) -> bool {
        self.too_long
    }

    /// The next line, or `None` at the end of the input or after a too-long line.
    pub fn next_line(&mut self) -> Option<&'a str> {
        if self.too_long || self.rest.is_empty() {
            return None;
        }
        let (line, fits) = match self.rest.find('\n') {
            Some(i) => {
                let line = &self.rest[..=i];
                (line, line.len() <= MAX_TOKEN_SIZE)
            }
            // The last line: the buffer fills up before the reader reports EOF.
            None => (self.rest, self.rest.len() < MAX_TOKEN_SIZE),
        };
        if !fits {
            self.too_long = true;
            return None;
        }
        self.rest = &self.rest[line.len()..];
        Some(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_line_endings() {
        let mut s = LineScanner::new("a\nb\r\nc");
        assert_eq!(s.next_line(), Some("a\n"));
        assert_eq!(s.next_line(), Some("b\r\n"));
        assert_eq!(s.next_line(), Some("c"));
        assert_eq!(s.next_line(), None);
        assert!(!s.hit_line_too_long());
    }

    #[test]
    fn stops_on_too_long_lines() {
        let ok = format!("{}\n", "a".repeat(MAX_TOKEN_SIZE - 1));
        let mut s = LineScanner::new(&ok);
        assert!(s.next_line().is_some());
        let long = format!("x\n{}\ny\n", "a".repeat(MAX_TOKEN_SIZE));
        let mut s = LineScanner::new(&long);
        assert_eq!(s.next_line(), Some("x\n"));
        assert_eq!(s.next_line(), None);
        assert!(s.hit_line_too_long());
        let last = "a".repeat(MAX_TOKEN_SIZE);
        let mut s = LineScanner::new(&last);
        assert_eq!(s.next_line(), None);
        assert!(s.hit_line_too_long());
    }
}
