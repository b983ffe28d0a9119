//! BuildKit's per-instruction argument parsers (`line_parsers.go`) and the dispatch from a
//! joined line to an instruction node (`newNodeFromLine`).

use super::error::LineError;
use super::json::{parse_string_array, JsonError};
use super::node::Node;
use super::split_command::split_command;
use super::text::{go_lower, is_space_byte, lossy, split2_re_whitespace, split_re_whitespace};
use super::words::parse_words;

/// Arguments of one instruction: the `next` chain and whether it came from JSON.
#[derive(Debug, Default)]
struct Args {
    next: Vec<Node>,
    json: bool,
}

fn arg(value: &str) -> Node {
    Node {
        value: value.to_string(),
        ..Node::default()
    }
}

fn args_of<'a>(values: impl IntoIterator<Item = &'a str>) -> Args {
    Args {
        next: values.into_iter().map(arg).collect(),
        json: false,
    }
}

/// Builds the node for one joined instruction line (BuildKit's `newNodeFromLine`).
pub fn node_from_line(
    line: &str,
    escape: char,
    prev_comment: Vec<String>,
) -> Result<Node, LineError> {
    let split = split_command(line, escape);
    let keyword = go_lower(&split.cmd);
    let rest = split.args.as_str();
    let args = match keyword.as_str() {
        "add" | "copy" | "volume" => parse_maybe_json_to_list(rest)?,
        "arg" => parse_name_or_name_val(rest, escape),
        "cmd" | "entrypoint" | "run" | "shell" => parse_maybe_json(rest)?,
        "env" => parse_name_val(rest, "ENV", escape)?,
        "label" => parse_name_val(rest, "LABEL", escape)?,
        "expose" | "from" => parse_strings_whitespace_delimited(rest),
        "healthcheck" => parse_health_config(rest)?,
        "maintainer" | "stopsignal" | "user" | "workdir" => parse_string(rest),
        "onbuild" => parse_sub_command(rest, escape)?,
        // Unknown instructions keep one empty argument (`parseIgnore`); the instruction
        // layer rejects them.
        _ => Args {
            next: vec![Node::default()],
            json: false,
        },
    };
    Ok(Node {
        value: keyword,
        next: args.next,
        json: args.json,
        original: line.to_string(),
        flags: split.flags,
        prev_comment,
        ..Node::default()
    })
}

/// ONBUILD: the rest is an instruction of its own, nested as the argument's child.
fn parse_sub_command(rest: &str, escape: char) -> Result<Args, LineError> {
    if rest.is_empty() {
        return Ok(Args::default());
    }
    let child = node_from_line(rest, escape, Vec::new())?;
    Ok(Args {
        next: vec![Node {
            children: vec![child],
            ..Node::default()
        }],
        json: false,
    })
}

/// ENV and LABEL: `name=value ...` triples with `=`, or the legacy `name value` with ``.
fn parse_name_val(rest: &str, key: &'static str, escape: char) -> Result<Args, LineError> {
    let words = parse_words(rest, escape);
    let Some(first) = words.first() else {
        return Ok(Args::default());
    };
    if !first.contains('=') {
        return match split2_re_whitespace(rest) {
            (name, Some(value)) => Ok(args_of([name, value, ""])),
            (_, None) => Err(LineError::MissingValue(key)),
        };
    }
    let mut next = Vec::with_capacity(words.len() * 3);
    for word in &words {
        let Some((name, value)) = word.split_once('=') else {
            return Err(LineError::MissingEquals(word.clone()));
        };
        next.extend([arg(name), arg(value), arg("=")]);
    }
    Ok(Args { next, json: false })
}

/// ARG: the words as they are.
fn parse_name_or_name_val(rest: &str, escape: char) -> Args {
    Args {
        next: parse_words(rest, escape).iter().map(|w| arg(w)).collect(),
        json: false,
    }
}

fn parse_strings_whitespace_delimited(rest: &str) -> Args {
    if rest.is_empty() {
        return Args::default();
    }
    args_of(split_re_whitespace(rest))
}

fn parse_string(rest: &str) -> Args {
    if rest.is_empty() {
        return Args::default();
    }
    args_of([rest])
}

fn parse_json(rest: &str) -> Result<Args, JsonError> {
    let strings = parse_string_array(rest)?;
    Ok(Args {
        next: strings.iter().map(|s| arg(s)).collect(),
        json: true,
    })
}

/// CMD, ENTRYPOINT, RUN, SHELL: a JSON array, else the whole text as one argument.
fn parse_maybe_json(rest: &str) -> Result<Args, LineError> {
    if rest.is_empty() {
        return Ok(Args::default());
    }
    match parse_json(rest) {
        Ok(args) => Ok(args),
        Err(JsonError::NotStringArray) => Err(LineError::JsonNotStringArray),
        Err(JsonError::NotJson) => Ok(args_of([rest])),
    }
}

/// ADD, COPY, VOLUME: a JSON array, else whitespace-separated words.
fn parse_maybe_json_to_list(rest: &str) -> Result<Args, LineError> {
    match parse_json(rest) {
        Ok(args) => Ok(args),
        Err(JsonError::NotStringArray) => Err(LineError::JsonNotStringArray),
        Err(JsonError::NotJson) => Ok(parse_strings_whitespace_delimited(rest)),
    }
}

/// HEALTHCHECK: the type word (`CMD`, `NONE`), then the command as in `parse_maybe_json`.
/// The type ends at the first space byte, as BuildKit scans bytes here.
fn parse_health_config(rest: &str) -> Result<Args, LineError> {
    let b = rest.as_bytes();
    let sep = b.iter().position(|&c| is_space_byte(c)).unwrap_or(b.len());
    if sep == 0 {
        return Ok(Args::default());
    }
    let next = b[sep..]
        .iter()
        .position(|&c| !is_space_byte(c))
        .map_or(b.len(), |i| sep + i);
    let typ = lossy(&b[..sep]);
    let cmd_text = lossy(&b[next..]);
    let cmd = parse_maybe_json(&cmd_text)?;
    let mut nodes = Vec::with_capacity(1 + cmd.next.len());
    nodes.push(arg(&typ));
    nodes.extend(cmd.next);
    Ok(Args {
        next: nodes,
        json: cmd.json,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(line: &str) -> Vec<String> {
        let node = node_from_line(line, '\\', Vec::new()).unwrap();
        node.next.iter().map(|n| n.value.clone()).collect()
    }

    #[test]
    fn env_forms() {
        assert_eq!(values("ENV a b c"), ["a", "b c", ""]);
        assert_eq!(
            values("ENV a=b c=\"d e\""),
            ["a", "b", "=", "c", "\"d e\"", "="]
        );
        assert_eq!(values("LABEL a= b="), ["a", "", "=", "b", "", "="]);
        assert!(values("ENV").is_empty());
        assert_eq!(
            node_from_line("ENV a", '\\', Vec::new()),
            Err(LineError::MissingValue("ENV"))
        );
        assert_eq!(
            node_from_line("LABEL a=b c", '\\', Vec::new()),
            Err(LineError::MissingEquals("c".into()))
        );
    }

    #[test]
    fn json_and_shell_forms() {
        let n = node_from_line(r#"CMD ["a", "b"]"#, '\\', Vec::new()).unwrap();
        assert!(n.json);
        assert_eq!(values(r#"CMD ["a", "b"]"#), ["a", "b"]);
        assert_eq!(values("CMD ['a']"), ["['a']"]);
        assert_eq!(values("COPY a  b"), ["a", "b"]);
        assert_eq!(
            node_from_line(r#"RUN ["a", ["b"]]"#, '\\', Vec::new()),
            Err(LineError::JsonNotStringArray)
        );
    }

    #[test]
    fn healthcheck_and_onbuild() {
        assert_eq!(values("HEALTHCHECK   CMD   a b"), ["CMD", "a b"]);
        assert!(values("HEALTHCHECK").is_empty());
        let n = node_from_line("ONBUILD RUN [\"x\"]", '\\', Vec::new()).unwrap();
        assert_eq!(n.value, "onbuild");
        assert_eq!(n.next[0].children[0].value, "run");
        assert!(n.next[0].children[0].json);
        assert!(!n.json);
    }

    #[test]
    fn unknown_instruction_keeps_an_empty_argument() {
        let n = node_from_line("FOO bar", '\\', Vec::new()).unwrap();
        assert_eq!(n.value, "foo");
        assert_eq!(n.next, vec![Node::default()]);
    }
}
