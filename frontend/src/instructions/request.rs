//! The per-instruction view of a parse-tree node (BuildKit's `parseRequest`).

use crate::parser::{Heredoc, Node};

use super::bflag::{FlagSpec, Flags};
use super::commands::Location;
use super::error::InstructionError;

pub(crate) struct Request<'a> {
    pub node: &'a Node,
    /// The arguments, ONBUILD's sub-instruction flattened in (BuildKit's `nodeArgs`).
    pub args: Vec<String>,
    pub location: Location,
    /// The source text, trimmed.
    pub code: String,
}

impl<'a> Request<'a> {
    pub fn new(node: &'a Node) -> Self {
        Self {
            node,
            args: node_args(node),
            location: Location {
                start_line: node.start_line,
                end_line: node.end_line,
            },
            code: node.original.trim().to_string(),
        }
    }

    pub fn json(&self) -> bool {
        self.node.json
    }

    pub fn heredocs(&self) -> &[Heredoc] {
        &self.node.heredocs
    }

    /// Checks the node's flags against `specs`.
    pub fn flags(&self, specs: &[FlagSpec]) -> Result<Flags, InstructionError> {
        Flags::parse(&self.node.flags, specs).map_err(|source| InstructionError::Flag {
            location: self.location,
            source,
        })
    }

    /// Exec form: the arguments; shell form: one string of them joined by spaces
    /// (BuildKit's `handleJSONArgs`).
    pub fn json_args(&self, args: &[String]) -> Vec<String> {
        if args.is_empty() {
            Vec::new()
        } else if self.json() {
            args.to_vec()
        } else {
            vec![args.join(" ")]
        }
    }

    pub fn at_least_one(&self, instruction: &'static str) -> InstructionError {
        InstructionError::AtLeastOneArgument {
            location: self.location,
            instruction,
        }
    }

    pub fn exactly_one(&self, instruction: &'static str) -> InstructionError {
        InstructionError::ExactlyOneArgument {
            location: self.location,
            instruction,
        }
    }

    /// The single argument, or "requires exactly one argument".
    pub fn single_arg(&self, instruction: &'static str) -> Result<String, InstructionError> {
        match self.args.as_slice() {
            [one] => Ok(one.clone()),
            _ => Err(self.exactly_one(instruction)),
        }
    }
}

fn node_args(node: &Node) -> Vec<String> {
    let mut out = Vec::new();
    for arg in &node.next {
        match arg.children.as_slice() {
            [] => out.push(arg.value.clone()),
            [sub] => {
                out.push(sub.value.clone());
                out.extend(node_args(sub));
            }
            _ => {}
        }
    }
    out
}
