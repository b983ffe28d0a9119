//! BuildKit's `Node.Dump()`: the s-expression form the conformance `result` files use.

use super::node::Node;
use super::quote::{go_quote_list, push_go_quoted};
use super::text::go_lower;

/// Dumps `node` as BuildKit's `Node.Dump()` does; for the root, one `(instruction ...)` line
/// per instruction (the conformance files add a final newline).
pub fn dump(node: &Node) -> String {
    let mut out = go_lower(&node.value);
    if !node.flags.is_empty() {
        out.push(' ');
        out.push_str(&go_quote_list(&node.flags));
    }
    for child in &node.children {
        out.push('(');
        out.push_str(&dump(child));
        out.push_str(")\n");
    }
    for arg in &node.next {
        out.push(' ');
        if arg.children.is_empty() {
            push_go_quoted(&mut out, &arg.value);
        } else {
            out.push_str(&dump(arg));
        }
    }
    let trimmed = out.trim();
    if trimmed.len() == out.len() {
        out
    } else {
        trimmed.to_string()
    }
}

impl Node {
    /// See [`dump`].
    pub fn dump(&self) -> String {
        dump(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arg(v: &str) -> Node {
        Node {
            value: v.into(),
            ..Node::default()
        }
    }

    #[test]
    fn dumps_instructions_flags_and_nesting() {
        let copy = Node {
            value: "copy".into(),
            flags: vec!["--from=a".into()],
            next: vec![arg("x"), arg("y z")],
            ..Node::default()
        };
        assert_eq!(dump(&copy), r#"copy ["--from=a"] "x" "y z""#);
        let onbuild = Node {
            value: "onbuild".into(),
            next: vec![Node {
                children: vec![copy.clone()],
                ..Node::default()
            }],
            ..Node::default()
        };
        assert_eq!(dump(&onbuild), r#"onbuild (copy ["--from=a"] "x" "y z")"#);
        let root = Node {
            children: vec![copy, onbuild, arg("healthcheck")],
            ..Node::default()
        };
        assert_eq!(
            dump(&root),
            "(copy [\"--from=a\"] \"x\" \"y z\")\n(onbuild (copy [\"--from=a\"] \"x\" \"y z\"))\n(healthcheck)"
        );
    }
}
