//! The exec-form (JSON array) reader, with Go's `json.Unmarshal(rest, &[]any{})` outcomes:
//! invalid JSON (and numbers out of float64 range) make the caller fall back to the shell
//! form, a valid array with a non-string element is an error.

/// Why `rest` is not a JSON array of strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonError {
    /// Not JSON, not an array, or not decodable: the shell form applies.
    NotJson,
    /// A valid JSON array with an element that is not a string.
    NotStringArray,
}

/// Go's `maxNestingDepth` in `encoding/json`.
const MAX_DEPTH: usize = 10_000;

/// Parses `rest` (leading whitespace allowed) as a JSON array of strings.
pub fn parse_string_array(rest: &str) -> Result<Vec<String>, JsonError> {
    let rest = rest.trim_start_matches(char::is_whitespace);
    if !rest.starts_with('[') {
        return Err(JsonError::NotJson);
    }
    let mut r = Reader {
        b: rest.as_bytes(),
        pos: 0,
    };
    let mut strings = Vec::new();
    let mut non_string = false;
    let mut out_of_range = false;
    r.skip_ws();
    r.expect(b'[')?;
    r.skip_ws();
    if r.peek() == Some(b']') {
        r.pos += 1;
    } else {
        loop {
            r.skip_ws();
            if r.peek() == Some(b'"') {
                strings.push(r.string()?);
            } else {
                non_string = true;
                if r.value()? {
                    out_of_range = true;
                }
            }
            r.skip_ws();
            match r.next() {
                Some(b',') => continue,
                Some(b']') => break,
                _ => return Err(JsonError::NotJson),
            }
        }
    }
    r.skip_ws();
    if r.pos != r.b.len() {
        return Err(JsonError::NotJson);
    }
    if out_of_range {
        // Go records an UnmarshalTypeError, which is not the "strings only" error.
        return Err(JsonError::NotJson);
    }
    if non_string {
        return Err(JsonError::NotStringArray);
    }
    Ok(strings)
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }

    fn expect(&mut self, c: u8) -> Result<(), JsonError> {
        if self.next() == Some(c) {
            Ok(())
        } else {
            Err(JsonError::NotJson)
        }
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// Skips any JSON value (iteratively, so deep nesting cannot overflow the stack).
    /// Returns whether it held a number outside float64's range.
    fn value(&mut self) -> Result<bool, JsonError> {
        let mut out_of_range = false;
        // Open containers: b']' or b'}'.
        let mut stack: Vec<u8> = Vec::new();
        loop {
            self.skip_ws();
            // One scalar or container opening.
            match self.peek() {
                Some(b'[') => {
                    self.pos += 1;
                    stack.push(b']');
                    if stack.len() + 1 > MAX_DEPTH {
                        return Err(JsonError::NotJson);
                    }
                    self.skip_ws();
                    if self.peek() == Some(b']') {
                        self.pos += 1;
                        stack.pop();
                    } else {
                        continue;
                    }
                }
                Some(b'{') => {
                    self.pos += 1;
                    stack.push(b'}');
                    if stack.len() + 1 > MAX_DEPTH {
                        return Err(JsonError::NotJson);
                    }
                    self.skip_ws();
                    if self.peek() == Some(b'}') {
                        self.pos += 1;
                        stack.pop();
                    } else {
                        self.object_key()?;
                        continue;
                    }
                }
                Some(b'"') => {
                    self.string()?;
                }
                Some(b't') => self.literal(b"true")?,
                Some(b'f') => self.literal(b"false")?,
                Some(b'n') => self.literal(b"null")?,
                Some(b'-' | b'0'..=b'9') => out_of_range |= self.number()?,
                _ => return Err(JsonError::NotJson),
            }
            // After a complete value: close containers or move to the next element.
            loop {
                let Some(&close) = stack.last() else {
                    return Ok(out_of_range);
                };
                self.skip_ws();
                match self.next() {
                    Some(b',') => {
                        if close == b'}' {
                            self.skip_ws();
                            self.object_key()?;
                        }
                        break;
                    }
                    Some(c) if c == close => {
                        stack.pop();
                    }
                    _ => return Err(JsonError::NotJson),
                }
            }
        }
    }

    fn object_key(&mut self) -> Result<(), JsonError> {
        if self.peek() != Some(b'"') {
            return Err(JsonError::NotJson);
        }
        self.string()?;
        self.skip_ws();
        self.expect(b':')
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), JsonError> {
        if self.b[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(JsonError::NotJson)
        }
    }

    /// A JSON number; returns whether Go's `ParseFloat` would report it out of range.
    fn number(&mut self) -> Result<bool, JsonError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.next() {
            Some(b'0') => {}
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(JsonError::NotJson),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(JsonError::NotJson);
            }
            self.digits();
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(JsonError::NotJson);
            }
            self.digits();
        }
        let text = std::str::from_utf8(&self.b[start..self.pos]).map_err(|_| JsonError::NotJson)?;
        Ok(text.parse::<f64>().map_or(true, |f| f.is_infinite()))
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
    }

    /// A JSON string (at `"`), decoded as Go does: bad surrogates become U+FFFD.
    fn string(&mut self) -> Result<String, JsonError> {
        self.expect(b'"')?;
        let mut out = String::new();
        loop {
            let start = self.pos;
            while let Some(c) = self.peek() {
                if c == b'"' || c == b'\\' || c < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            let chunk =
                std::str::from_utf8(&self.b[start..self.pos]).map_err(|_| JsonError::NotJson)?;
            out.push_str(chunk);
            match self.next() {
                Some(b'"') => return Ok(out),
                Some(b'\\') => self.escape(&mut out)?,
                _ => return Err(JsonError::NotJson),
            }
        }
    }

    fn escape(&mut self, out: &mut String) -> Result<(), JsonError> {
        let c = self.next().ok_or(JsonError::NotJson)?;
        let simple = match c {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let first = self.hex4().ok_or(JsonError::NotJson)?;
                out.push(self.unicode_escape(first));
                return Ok(());
            }
            _ => return Err(JsonError::NotJson),
        };
        out.push(simple);
        Ok(())
    }

    fn unicode_escape(&mut self, first: u32) -> char {
        if !(0xd800..0xe000).contains(&first) {
            return char::from_u32(first).unwrap_or('\u{fffd}');
        }
        // A surrogate: combine with a following `\uXXXX` when they form a valid pair.
        if first < 0xdc00 && self.b[self.pos..].starts_with(b"\\u") {
            let save = self.pos;
            self.pos += 2;
            if let Some(second) = self.hex4() {
                if (0xdc00..0xe000).contains(&second) {
                    let c = 0x10000 + ((first - 0xd800) << 10) + (second - 0xdc00);
                    return char::from_u32(c).unwrap_or('\u{fffd}');
                }
            }
            self.pos = save;
        }
        '\u{fffd}'
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.b.get(self.pos..self.pos + 4)?;
        let text = std::str::from_utf8(digits).ok()?;
        if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        self.pos += 4;
        u32::from_str_radix(text, 16).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Vec<String> {
        parse_string_array(s).unwrap()
    }

    #[test]
    fn reads_string_arrays() {
        assert!(ok("[]").is_empty());
        assert!(ok(" [ ] ").is_empty());
        assert_eq!(ok(r#"["a","b"]"#), ["a", "b"]);
        assert_eq!(ok("[\t\"a\",\t\"b\"\t]"), ["a", "b"]);
        assert_eq!(
            ok(r#"["\" \\ \/ \b \f \n \r \t \u0000"]"#),
            ["\" \\ / \u{8} \u{c} \n \r \t \0"]
        );
        assert_eq!(
            ok(r#"["\ud83d\ude00", "\ud800x", "\udc00"]"#),
            ["😀", "\u{fffd}x", "\u{fffd}"]
        );
    }

    #[test]
    fn invalid_json_falls_back() {
        for s in [
            "['a']",
            r#"["a""#,
            r#"["a]"#,
            r#"["a",]"#,
            r#"["a"] x"#,
            r#"["a", {]"#,
            "[01]",
            "[1.]",
            "[tru]",
            "[\"a\tb\"]",
            "[1e400]",
            r#"["a", 1e400, [1]]"#,
            "x",
        ] {
            assert_eq!(parse_string_array(s), Err(JsonError::NotJson), "{s}");
        }
    }

    #[test]
    fn non_strings_are_errors() {
        for s in [
            r#"["a", 1]"#,
            r#"[ "echo", [ "nested json" ] ]"#,
            r#"[{"a": [1, {"b": null}]}, true]"#,
            "[null]",
            "[-0.5e-3]",
        ] {
            assert_eq!(parse_string_array(s), Err(JsonError::NotStringArray), "{s}");
        }
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let deep = format!("[{}{}]", "[".repeat(20_000), "]".repeat(20_000));
        assert_eq!(parse_string_array(&deep), Err(JsonError::NotJson));
        let ok_deep = format!("[{}{}]", "[".repeat(100), "]".repeat(100));
        assert_eq!(parse_string_array(&ok_deep), Err(JsonError::NotStringArray));
    }
}
