//! The instructions that carry plain words: ENV, LABEL, ARG, MAINTAINER, WORKDIR, USER,
//! EXPOSE, VOLUME, STOPSIGNAL, ONBUILD.

use super::commands::{
    ArgCommand, ArgPair, EnvCommand, ExposeCommand, KeyValuePair, LabelCommand, MaintainerCommand,
    OnbuildCommand, StopsignalCommand, UserCommand, VolumeCommand, WorkdirCommand,
};
use super::error::InstructionError;
use super::request::Request;

/// The text after `<name> ` in the first comment line starting so (BuildKit's getDocComment).
pub(crate) fn doc_comment(comments: &[String], name: &str) -> String {
    if name.is_empty() {
        return String::new();
    }
    let prefix = format!("{name} ");
    comments
        .iter()
        .find_map(|line| line.strip_prefix(&prefix))
        .unwrap_or_default()
        .to_string()
}

/// The parser's `key value sep` triples as pairs (BuildKit's parseKvps).
fn kvps(req: &Request, instruction: &'static str) -> Result<Vec<KeyValuePair>, InstructionError> {
    if req.args.is_empty() {
        return Err(req.at_least_one(instruction));
    }
    if !req.args.len().is_multiple_of(3) {
        return Err(InstructionError::TooManyArguments {
            location: req.location,
            instruction,
        });
    }
    req.args
        .chunks_exact(3)
        .map(|c| match c {
            [key, value, delim] if !key.is_empty() => Ok(KeyValuePair {
                key: key.clone(),
                value: value.clone(),
                no_delim: delim.is_empty(),
            }),
            _ => Err(InstructionError::BlankNames {
                location: req.location,
                instruction,
            }),
        })
        .collect()
}

pub(crate) fn env(req: &Request) -> Result<EnvCommand, InstructionError> {
    req.flags(&[])?;
    Ok(EnvCommand {
        env: kvps(req, "ENV")?,
        location: req.location,
        original: req.code.clone(),
    })
}

pub(crate) fn label(req: &Request) -> Result<LabelCommand, InstructionError> {
    req.flags(&[])?;
    Ok(LabelCommand {
        labels: kvps(req, "LABEL")?,
        location: req.location,
        original: req.code.clone(),
    })
}

pub(crate) fn maintainer(req: &Request) -> Result<MaintainerCommand, InstructionError> {
    let maintainer = req.single_arg("MAINTAINER")?;
    req.flags(&[])?;
    Ok(MaintainerCommand {
        maintainer,
        location: req.location,
        original: req.code.clone(),
    })
}

pub(crate) fn workdir(req: &Request) -> Result<WorkdirCommand, InstructionError> {
    let path = req.single_arg("WORKDIR")?;
    req.flags(&[])?;
    Ok(WorkdirCommand {
        path,
        location: req.location,
        original: req.code.clone(),
    })
}

pub(crate) fn user(req: &Request) -> Result<UserCommand, InstructionError> {
    let user = req.single_arg("USER")?;
    req.flags(&[])?;
    Ok(UserCommand {
        user,
        location: req.location,
        original: req.code.clone(),
    })
}

/// STOPSIGNAL: BuildKit does not check its flags.
pub(crate) fn stopsignal(req: &Request) -> Result<StopsignalCommand, InstructionError> {
    let signal = req.single_arg("STOPSIGNAL")?;
    Ok(StopsignalCommand {
        signal,
        location: req.location,
        original: req.code.clone(),
    })
}

pub(crate) fn expose(req: &Request) -> Result<ExposeCommand, InstructionError> {
    if req.args.is_empty() {
        return Err(req.at_least_one("EXPOSE"));
    }
    req.flags(&[])?;
    let mut ports = req.args.clone();
    ports.sort();
    Ok(ExposeCommand {
        ports,
        location: req.location,
        original: req.code.clone(),
    })
}

pub(crate) fn volume(req: &Request) -> Result<VolumeCommand, InstructionError> {
    if req.args.is_empty() {
        return Err(req.at_least_one("VOLUME"));
    }
    req.flags(&[])?;
    let volumes = req
        .args
        .iter()
        .map(|v| {
            let v = v.trim();
            if v.is_empty() {
                Err(InstructionError::EmptyVolume {
                    location: req.location,
                })
            } else {
                Ok(v.to_string())
            }
        })
        .collect::<Result<_, _>>()?;
    Ok(VolumeCommand {
        volumes,
        location: req.location,
        original: req.code.clone(),
    })
}

/// ARG: `name` or `name=default`, several per line. BuildKit does not check its flags.
pub(crate) fn arg(req: &Request) -> Result<ArgCommand, InstructionError> {
    if req.args.is_empty() {
        return Err(req.at_least_one("ARG"));
    }
    let comments = &req.node.prev_comment;
    let args = req
        .args
        .iter()
        .map(|a| {
            let (key, value) = match a.split_once('=') {
                Some(("", _)) => {
                    return Err(InstructionError::BlankNames {
                        location: req.location,
                        instruction: "ARG",
                    })
                }
                Some((k, v)) => (k.to_string(), Some(v.to_string())),
                None => (a.clone(), None),
            };
            Ok(ArgPair {
                doc_comment: doc_comment(comments, &key),
                key,
                value,
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(ArgCommand {
        args,
        location: req.location,
        original: req.code.clone(),
    })
}

/// Removes a leading `ONBUILD` keyword and the blanks around it (case-insensitive).
fn strip_onbuild_keyword(original: &str) -> &str {
    let s = original.trim_start();
    match s.get(..7) {
        Some(kw) if kw.eq_ignore_ascii_case("onbuild") => s[7..].trim_start(),
        _ => original,
    }
}

pub(crate) fn onbuild(req: &Request) -> Result<OnbuildCommand, InstructionError> {
    let Some(first) = req.args.first() else {
        return Err(req.at_least_one("ONBUILD"));
    };
    req.flags(&[])?;
    let trigger = first.trim().to_uppercase();
    match trigger.as_str() {
        "ONBUILD" => {
            return Err(InstructionError::OnbuildChaining {
                location: req.location,
            })
        }
        "MAINTAINER" | "FROM" => {
            return Err(InstructionError::OnbuildForbidden {
                location: req.location,
                trigger,
            })
        }
        _ => {}
    }
    let mut expression = strip_onbuild_keyword(&req.node.original).to_string();
    for heredoc in req.heredocs() {
        expression.push('\n');
        expression.push_str(&heredoc.content);
        expression.push_str(&heredoc.name);
    }
    Ok(OnbuildCommand {
        expression,
        location: req.location,
        original: req.code.clone(),
    })
}
