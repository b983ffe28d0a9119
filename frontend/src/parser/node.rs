//! The parse tree, shaped like BuildKit's `parser.Node` so that the dump format and the
//! instruction layer can follow BuildKit's code paths one for one.

/// One parsed instruction (a child of the root), or one argument of an instruction.
///
/// BuildKit keeps the arguments as a linked list (`Next`); here they are a `Vec`.
/// For `ONBUILD`, the single argument node has `children == [the sub-instruction]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Node {
    /// Lower-cased instruction keyword (`"from"`) for an instruction node, the text for an
    /// argument. (BuildKit keeps the keyword's case here; `original` has it as written.)
    pub value: String,
    /// The arguments, in order (BuildKit's `Next` chain).
    pub next: Vec<Node>,
    /// Nested instructions (the root's instructions, or ONBUILD's sub-instruction).
    pub children: Vec<Node>,
    /// Heredocs attached to this instruction (RUN, COPY, ADD), in order of appearance.
    pub heredocs: Vec<Heredoc>,
    /// True when the arguments came from a JSON (exec form) array.
    pub json: bool,
    /// The instruction's source text, continuation lines joined (BuildKit's `Original`).
    pub original: String,
    /// Flags such as `--from=build`, in order, as written (a bare `--` is dropped).
    pub flags: Vec<String>,
    /// 1-based first and last source line of this instruction.
    pub start_line: usize,
    pub end_line: usize,
    /// Comment lines directly above the instruction, without the `#`.
    pub prev_comment: Vec<String>,
}

/// A heredoc body attached to an instruction: `<<EOF`, `<<-EOF`, `<<"EOF"`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Heredoc {
    /// The delimiter word, without quotes or the leading `-`.
    pub name: String,
    /// The body, including the final newline, without the terminator line.
    pub content: String,
    /// False when the delimiter was quoted (no expansion inside the body).
    pub expand: bool,
    /// True for `<<-` (leading tabs stripped).
    pub chomp: bool,
}

/// Parser directives found at the top of the file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Directives {
    /// The syntax directive as BuildKit's frontend selection sees it (`DetectSyntax`: a
    /// leading `# syntax=`, also after a `#!` line, or `// syntax=`), value as written.
    pub syntax: Option<String>,
    /// 1-based line of the syntax directive.
    pub syntax_line: Option<usize>,
    /// `# escape=`; `\\` when absent.
    pub escape: Option<char>,
    /// `# check=` as written (BuildKit's `ParseDirective("check")`).
    pub check: Option<String>,
}

/// The result of parsing one Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParseResult {
    /// The root node: its `children` are the instructions in order.
    pub ast: Node,
    pub directives: Directives,
    /// The escape token in force for the whole file.
    pub escape: char,
    /// Non-fatal findings (empty continuation lines, ...), with their line.
    pub warnings: Vec<Warning>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub line: usize,
    pub message: String,
}
