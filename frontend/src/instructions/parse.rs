//! From parse tree to typed instructions (BuildKit's `instructions/parse.go`): the
//! per-instruction dispatch, FROM, ONBUILD, and the file-level grouping into stages.

use crate::parser::{Node, ParseResult};

use super::commands::{Command, Instruction, Location, ParsedFile, Stage};
use super::error::InstructionError;
use super::request::Request;
use super::suggest::suggest;
use super::{parse_copy, parse_exec, parse_simple};

/// Every instruction keyword, upper-case (BuildKit's `command.Commands`).
pub const INSTRUCTIONS: [&str; 18] = [
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// Types a whole parsed Dockerfile: ARGs before the first FROM become meta args, every
/// FROM starts a stage, other instructions join the current stage.
pub fn parse_dockerfile(result: &ParseResult) -> Result<ParsedFile, InstructionError> {
    let mut file = ParsedFile::default();
    for node in &result.ast.children {
        match parse_instruction(node)? {
            Instruction::Stage(stage) => file.stages.push(stage),
            Instruction::Command(Command::Arg(arg)) if file.stages.is_empty() => {
                file.meta_args.push(arg)
            }
            Instruction::Command(cmd) => match file.stages.last_mut() {
                Some(stage) => stage.commands.push(cmd),
                None => {
                    return Err(InstructionError::NoBuildStage {
                        location: cmd.location(),
                    })
                }
            },
        }
    }
    Ok(file)
}

/// Types one instruction node (a child of the parse tree's root).
pub fn parse_instruction(node: &Node) -> Result<Instruction, InstructionError> {
    let req = Request::new(node);
    let cmd = match node.value.to_lowercase().as_str() {
        "from" => return parse_from(&req).map(Instruction::Stage),
        "env" => Command::Env(parse_simple::env(&req)?),
        "maintainer" => Command::Maintainer(parse_simple::maintainer(&req)?),
        "label" => Command::Label(parse_simple::label(&req)?),
        "add" => Command::Add(parse_copy::add(&req)?),
        "copy" => Command::Copy(parse_copy::copy(&req)?),
        "onbuild" => Command::Onbuild(parse_simple::onbuild(&req)?),
        "workdir" => Command::Workdir(parse_simple::workdir(&req)?),
        "run" => Command::Run(parse_exec::run(&req)?),
        "cmd" => Command::Cmd(parse_exec::cmd(&req)?),
        "healthcheck" => Command::Healthcheck(parse_exec::healthcheck(&req)?),
        "entrypoint" => Command::Entrypoint(parse_exec::entrypoint(&req)?),
        "expose" => Command::Expose(parse_simple::expose(&req)?),
        "user" => Command::User(parse_simple::user(&req)?),
        "volume" => Command::Volume(parse_simple::volume(&req)?),
        "stopsignal" => Command::Stopsignal(parse_simple::stopsignal(&req)?),
        "arg" => Command::Arg(parse_simple::arg(&req)?),
        "shell" => Command::Shell(parse_exec::shell(&req)?),
        _ => {
            let instruction = written_keyword(node);
            return Err(InstructionError::UnknownInstruction {
                location: req.location,
                suggestion: suggest(&instruction, &INSTRUCTIONS, false),
                instruction,
            });
        }
    };
    Ok(Instruction::Command(cmd))
}

/// Types one ONBUILD trigger node (a single instruction that must not be FROM), its errors
/// placed at `location` (BuildKit reports triggers at the stage's FROM).
pub fn parse_trigger_node(node: &Node, location: Location) -> Result<Command, InstructionError> {
    let mut node = node.clone();
    node.start_line = location.start_line;
    node.end_line = location.end_line;
    match parse_instruction(&node)? {
        Instruction::Command(cmd) => Ok(cmd),
        Instruction::Stage(_) => Err(InstructionError::TriggerNotCommand { location }),
    }
}

/// Types the parse of one ONBUILD trigger text (an image config's `OnBuild` entry).
pub fn parse_trigger_result(
    result: &ParseResult,
    location: Location,
) -> Result<Command, InstructionError> {
    match result.ast.children.as_slice() {
        [node] => parse_trigger_node(node, location),
        other => Err(InstructionError::TriggerNotSingle {
            location,
            count: other.len(),
        }),
    }
}

/// Parses and types one ONBUILD trigger text (an image config's `OnBuild` entry, or an
/// [`OnbuildCommand::expression`](super::OnbuildCommand)); errors are placed at `location`,
/// the stage's FROM, as BuildKit does.
pub fn parse_onbuild_trigger(expr: &str, location: Location) -> Result<Command, InstructionError> {
    let result = crate::parser::parse(expr)
        .map_err(|source| InstructionError::TriggerParse { location, source })?;
    parse_trigger_result(&result, location)
}

/// The instruction keyword as written (case kept), from the source text.
fn written_keyword(node: &Node) -> String {
    node.original
        .split_whitespace()
        .next()
        .filter(|w| w.eq_ignore_ascii_case(&node.value))
        .unwrap_or(&node.value)
        .to_string()
}

fn is_valid_stage_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
}

fn parse_from(req: &Request) -> Result<Stage, InstructionError> {
    let name = match req.args.as_slice() {
        [_, as_kw, name] if as_kw.eq_ignore_ascii_case("as") => {
            let lower = name.to_lowercase();
            if !is_valid_stage_name(&lower) {
                return Err(InstructionError::InvalidStageName {
                    location: req.location,
                    name: super::gocompat::go_quote(name),
                });
            }
            Some(lower)
        }
        [_] => None,
        _ => {
            return Err(InstructionError::FromArguments {
                location: req.location,
            })
        }
    };
    let flags = req.flags(&[super::bflag::FlagSpec::string("platform")])?;
    let comments = req.node.prev_comment.clone();
    let doc_comment = name
        .as_deref()
        .map(|n| parse_simple::doc_comment(&comments, n))
        .unwrap_or_default();
    Ok(Stage {
        name,
        base_name: req.args.first().cloned().unwrap_or_default(),
        platform: flags.string("platform").map(str::to_string),
        commands: Vec::new(),
        location: req.location,
        original: req.code.clone(),
        doc_comment,
        comments,
    })
}
