//! A single-line CSV value splitter with Go's `encoding/csv` rules (as `go-csvvalue`, used by
//! BuildKit for `--mount` and `--device`): `,` separates, `"` quotes, `""` is a quote inside a
//! quoted field, a bare quote in an unquoted field is an error.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsvError {
    #[error("EOF")]
    Empty,
    #[error("parse error on line 1, column {column}: bare \" in non-quoted-field")]
    BareQuote { column: usize },
    #[error("parse error on line 1, column {column}: extraneous or missing \" in quoted-field")]
    Quote { column: usize },
}

/// Splits `line` into fields. `column` in errors is 1-based, in bytes, as Go reports it.
pub(crate) fn fields(line: &str) -> Result<Vec<String>, CsvError> {
    let line = line
        .strip_suffix("\r\n")
        .or_else(|| line.strip_suffix('\n'))
        .unwrap_or(line);
    if line.is_empty() {
        return Err(CsvError::Empty);
    }
    let mut out = Vec::new();
    let mut rest = line;
    let mut pos = 0usize;
    loop {
        if !rest.starts_with('"') {
            let (field, next) = match rest.find(',') {
                Some(i) => (&rest[..i], Some(i)),
                None => (rest, None),
            };
            if let Some(j) = field.find('"') {
                return Err(CsvError::BareQuote {
                    column: pos + j + 1,
                });
            }
            out.push(field.to_string());
            match next {
                Some(i) => {
                    rest = &rest[i + 1..];
                    pos += i + 1;
                    continue;
                }
                None => return Ok(out),
            }
        }
        // Quoted field.
        rest = &rest[1..];
        pos += 1;
        let mut field = String::new();
        loop {
            let Some(i) = rest.find('"') else {
                return Err(CsvError::Quote { column: pos + 1 });
            };
            field.push_str(&rest[..i]);
            rest = &rest[i + 1..];
            pos += i + 1;
            if rest.starts_with('"') {
                field.push('"');
                rest = &rest[1..];
                pos += 1;
            } else if rest.starts_with(',') {
                out.push(field);
                rest = &rest[1..];
                pos += 1;
                break;
            } else if rest.is_empty() {
                out.push(field);
                return Ok(out);
            } else {
                return Err(CsvError::Quote { column: pos });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(s: &str) -> Vec<String> {
        fields(s).unwrap()
    }

    #[test]
    fn splits() {
        assert_eq!(f("a,b,c"), ["a", "b", "c"]);
        assert_eq!(f("a,,"), ["a", "", ""]);
        assert_eq!(f(r#""a,b",c"#), ["a,b", "c"]);
        assert_eq!(f(r#""a""b""#), [r#"a"b"#]);
        assert_eq!(f("type=cache,target=/x\n"), ["type=cache", "target=/x"]);
        assert_eq!(f(r#""x",y"#), ["x", "y"]);
    }

    #[test]
    fn errors() {
        assert_eq!(fields("").unwrap_err(), CsvError::Empty);
        assert_eq!(
            fields(r#"a"b"#).unwrap_err().to_string(),
            "parse error on line 1, column 2: bare \" in non-quoted-field"
        );
        assert_eq!(
            fields(r#""abc"#).unwrap_err().to_string(),
            "parse error on line 1, column 2: extraneous or missing \" in quoted-field"
        );
        assert_eq!(
            fields(r#""ab"c"#).unwrap_err().to_string(),
            "parse error on line 1, column 4: extraneous or missing \" in quoted-field"
        );
    }
}
