//! BuildKit's `splitCommand` and `extractBuilderFlags`: the keyword, the `--flag` words
//! before the arguments, and the arguments.

use super::text::{is_space_byte, lossy, split2_re_whitespace};

/// A line cut into its keyword (as written), flags and trimmed arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitCommand {
    pub cmd: String,
    pub flags: Vec<String>,
    pub args: String,
}

/// Cuts `line` into keyword, flags and arguments.
pub fn split_command(line: &str, escape: char) -> SplitCommand {
    let (cmd, rest) = split2_re_whitespace(line.trim());
    let (args, flags) = match rest {
        Some(rest) => extract_builder_flags(rest, escape),
        None => (String::new(), Vec::new()),
    };
    SplitCommand {
        cmd: cmd.to_string(),
        flags,
        args: args.trim().to_string(),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Spaces,
    Word,
    Quote(u8),
}

/// Takes the leading words that start with `--` (a bare `--` ends them and is dropped);
/// returns the remaining text and the flags.
///
/// As in BuildKit this scans bytes: each byte of a flag becomes one character (non-ASCII
/// text in flags comes out as Latin-1), and the bytes 0x85/0xA0 count as spaces.
pub fn extract_builder_flags(line: &str, escape: char) -> (String, Vec<String>) {
    let b = line.as_bytes();
    let esc = u8::try_from(escape).unwrap_or(b'\\');
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut word = String::new();
    let mut blank_ok = false;
    let mut pos = 0;
    while pos < b.len() {
        let mut ch = b[pos];
        if phase == Phase::Spaces {
            if is_space_byte(ch) {
                pos += 1;
                continue;
            }
            if ch != b'-' || b.get(pos + 1) != Some(&b'-') {
                return (lossy(&b[pos..]), words);
            }
            phase = Phase::Word;
        }
        match phase {
            Phase::Spaces => {}
            Phase::Word => {
                if is_space_byte(ch) {
                    phase = Phase::Spaces;
                    if word == "--" {
                        return (lossy(&b[pos..]), words);
                    }
                    if blank_ok || !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                    }
                    word.clear();
                    blank_ok = false;
                    pos += 1;
                    continue;
                }
                if ch == b'\'' || ch == b'"' {
                    phase = Phase::Quote(ch);
                    blank_ok = true;
                    pos += 1;
                    continue;
                }
                if ch == esc {
                    if pos + 1 == b.len() {
                        pos += 1;
                        continue;
                    }
                    pos += 1;
                    ch = b[pos];
                }
                word.push(char::from(ch));
            }
            Phase::Quote(quote) => {
                if ch == quote {
                    phase = Phase::Word;
                    pos += 1;
                    continue;
                }
                if ch == esc {
                    if pos + 1 == b.len() {
                        phase = Phase::Word;
                        pos += 1;
                        continue;
                    }
                    pos += 1;
                    ch = b[pos];
                }
                word.push(char::from(ch));
            }
        }
        pos += 1;
    }
    if phase != Phase::Spaces && word != "--" && (blank_ok || !word.is_empty()) {
        words.push(word);
    }
    (String::new(), words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(line: &str) -> (String, Vec<String>, String) {
        let s = split_command(line, '\\');
        (s.cmd, s.flags, s.args)
    }

    #[test]
    fn keyword_flags_and_args() {
        assert_eq!(
            split("  RUN   echo hi  "),
            ("RUN".into(), vec![], "echo hi".into())
        );
        assert_eq!(
            split("COPY --from=a --chown=1:1 x y"),
            (
                "COPY".into(),
                vec!["--from=a".into(), "--chown=1:1".into()],
                "x y".into()
            )
        );
        assert_eq!(
            split("COPY -- --x y"),
            ("COPY".into(), vec![], "--x y".into())
        );
        assert_eq!(
            split("COPY --a -- --x"),
            ("COPY".into(), vec!["--a".into()], "--x".into())
        );
        assert_eq!(
            split("COPY --a"),
            ("COPY".into(), vec!["--a".into()], "".into())
        );
        assert_eq!(split("COPY --"), ("COPY".into(), vec![], "".into()));
        assert_eq!(split("FROM"), ("FROM".into(), vec![], "".into()));
        assert_eq!(split("RUN -x"), ("RUN".into(), vec![], "-x".into()));
    }

    #[test]
    fn quotes_and_escapes_in_flags() {
        let (_, flags, args) = split(r#"RUN --mount="type=cache, target=/x" --a=\"b echo"#);
        assert_eq!(flags, vec!["--mount=type=cache, target=/x", "--a=\"b"]);
        assert_eq!(args, "echo");
        let (_, flags, _) = split("RUN --a=''");
        assert_eq!(flags, vec!["--a="]);
        let s = split_command("RUN --a=`\"b c", '`');
        assert_eq!(s.flags, vec!["--a=\"b"]);
        assert_eq!(s.args, "c");
    }

    #[test]
    fn non_ascii_flags_are_byte_wise_like_buildkit() {
        let (_, flags, args) = split("COPY --chown=josé a b");
        assert_eq!(flags, vec!["--chown=jos\u{c3}\u{a9}"]);
        assert_eq!(args, "a b");
    }
}
