//! COPY and ADD: flags, sources (paths and heredoc contents) and destination.

use std::collections::HashMap;

use super::bflag::FlagSpec;
use super::commands::{AddCommand, CopyCommand, SourceContent, SourcesAndDest};
use super::error::InstructionError;
use super::heredoc::{chomp_heredoc_content, parse_heredoc_word};
use super::request::Request;

const COPY_FLAGS: [FlagSpec; 6] = [
    FlagSpec::string("chown"),
    FlagSpec::string("from"),
    FlagSpec::string("chmod"),
    FlagSpec::bool("link"),
    FlagSpec::strings("exclude"),
    FlagSpec::bool("parents"),
];

const ADD_FLAGS: [FlagSpec; 7] = [
    FlagSpec::string("chown"),
    FlagSpec::string("chmod"),
    FlagSpec::bool("link"),
    FlagSpec::bool("keep-git-dir"),
    FlagSpec::string("checksum"),
    FlagSpec::bool("unpack"),
    FlagSpec::strings("exclude"),
];

fn sources_and_dest(
    req: &Request,
    instruction: &'static str,
) -> Result<SourcesAndDest, InstructionError> {
    let Some((dest, srcs)) = req.args.split_last() else {
        return Err(InstructionError::NoDestination {
            location: req.location,
            instruction,
        });
    };
    if parse_heredoc_word(dest).is_some() {
        return Err(InstructionError::BadHeredoc {
            location: req.location,
            instruction,
            what: "a destination",
        });
    }
    let bodies: HashMap<&str, &str> = req
        .heredocs()
        .iter()
        .map(|h| (h.name.as_str(), h.content.as_str()))
        .collect();
    let mut source_paths = Vec::new();
    let mut source_contents = Vec::new();
    for src in srcs {
        match parse_heredoc_word(src) {
            Some(word) => {
                let body = bodies.get(word.name.as_str()).copied().unwrap_or("");
                let data = if word.chomp {
                    chomp_heredoc_content(body)
                } else {
                    body.to_string()
                };
                source_contents.push(SourceContent {
                    path: word.name,
                    data,
                    expand: word.expand,
                });
            }
            None => source_paths.push(src.clone()),
        }
    }
    Ok(SourcesAndDest {
        dest_path: dest.clone(),
        source_paths,
        source_contents,
    })
}

fn require_destination(req: &Request, instruction: &'static str) -> Result<(), InstructionError> {
    if req.args.len() < 2 {
        return Err(InstructionError::NoDestination {
            location: req.location,
            instruction,
        });
    }
    Ok(())
}

pub(crate) fn copy(req: &Request) -> Result<CopyCommand, InstructionError> {
    require_destination(req, "COPY")?;
    let flags = req.flags(&COPY_FLAGS)?;
    Ok(CopyCommand {
        location: req.location,
        original: req.code.clone(),
        sources_and_dest: sources_and_dest(req, "COPY")?,
        from: flags.string("from").unwrap_or_default().to_string(),
        chown: flags.string("chown").unwrap_or_default().to_string(),
        chmod: flags.string("chmod").unwrap_or_default().to_string(),
        link: flags.bool("link").unwrap_or(false),
        parents: flags.bool("parents").unwrap_or(false),
        excludes: flags.strings("exclude"),
    })
}

pub(crate) fn add(req: &Request) -> Result<AddCommand, InstructionError> {
    require_destination(req, "ADD")?;
    let flags = req.flags(&ADD_FLAGS)?;
    Ok(AddCommand {
        location: req.location,
        original: req.code.clone(),
        sources_and_dest: sources_and_dest(req, "ADD")?,
        chown: flags.string("chown").unwrap_or_default().to_string(),
        chmod: flags.string("chmod").unwrap_or_default().to_string(),
        link: flags.bool("link").unwrap_or(false),
        excludes: flags.strings("exclude"),
        keep_git_dir: flags.bool("keep-git-dir"),
        checksum: flags.string("checksum").unwrap_or_default().to_string(),
        unpack: flags.bool("unpack"),
    })
}
