//! Lowering: a parsed Dockerfile → one [`Graph`] for all requested platforms, with
//! BuildKit's semantics (`frontend/dockerfile/dockerfile2llb`): global and stage ARGs,
//! automatic platform args, stage references, `--target` pruning, ONBUILD triggers of base
//! images, RUN mounts and heredocs, COPY/ADD flags, the image config and its history.
//!
//! Each target platform is lowered on its own into the same graph; vertices that come out
//! identical (e.g. a `FROM --platform=$BUILDPLATFORM` stage not using `TARGET*` args) have
//! the same digest and are stored once.
//!
//! Not supported yet (each fails with a clear error): `ADD` from git, `RUN --device`,
//! windows targets, `SOURCE_DATE_EPOCH` values other than unix seconds.

mod args;
mod base;
mod chown;
mod config;
mod copy;
mod ctx;
mod dispatch;
mod env;
mod error;
pub mod git_ref;
mod names;
mod options;
mod paths;
mod reference;
mod resolver;
mod run;
mod stages;

pub use error::{LowerError, LowerErrorKind};
pub use options::{LowerOptions, NamedContext, OptionsError};
pub use reference::{normalize_reference, ImageRef, ReferenceError};
pub use resolver::{ImageMeta, ImageMetaResolver, NoBaseConfig, ResolveError, StaticResolver};

use crate::error::FrontendError;
use crate::instructions::{parse_dockerfile, ParsedFile};
use crate::parser::{self, ParseResult};
use crate::shell::Lexer;
use slipway_graph::{Graph, GraphOutput, Platform};

/// Parses and lowers `source`.
pub fn lower(
    source: &str,
    opts: &LowerOptions,
    resolver: &dyn ImageMetaResolver,
) -> Result<Graph, FrontendError> {
    let file = opts.dockerfile_name.clone();
    if source.is_empty() {
        let source = LowerError::nowhere(LowerErrorKind::EmptyDockerfile);
        return Err(FrontendError::Lower {
            dockerfile: file,
            source,
        });
    }
    let parsed = parser::parse(source).map_err(|source| FrontendError::Parse {
        dockerfile: file.clone(),
        source,
    })?;
    lower_parsed(&parsed, opts, resolver)
}

/// Lowers an already parsed Dockerfile.
pub fn lower_parsed(
    parsed: &ParseResult,
    opts: &LowerOptions,
    resolver: &dyn ImageMetaResolver,
) -> Result<Graph, FrontendError> {
    let file = opts.dockerfile_name.clone();
    let typed = parse_dockerfile(parsed).map_err(|source| FrontendError::Instruction {
        dockerfile: file.clone(),
        source,
    })?;
    lower_file(&typed, parsed.escape, opts, resolver).map_err(|source| FrontendError::Lower {
        dockerfile: file,
        source,
    })
}

/// Lowers typed instructions (`escape` is the file's escape token).
pub fn lower_file(
    file: &ParsedFile,
    escape: char,
    opts: &LowerOptions,
    resolver: &dyn ImageMetaResolver,
) -> Result<Graph, LowerError> {
    opts.validate()
        .map_err(|source| LowerError::nowhere(LowerErrorKind::Options { source }))?;
    if file.stages.is_empty() {
        return Err(LowerError::nowhere(LowerErrorKind::NoStages));
    }
    let mut opts = opts.clone();
    if let Some(epoch) = opts.source_date_epoch {
        opts.build_args
            .entry("SOURCE_DATE_EPOCH".into())
            .or_insert_with(|| epoch.to_string());
    }
    let mut graph = Graph::new();
    for platform in opts.target_platforms() {
        lower_platform(&mut graph, file, escape, &opts, resolver, platform)?;
    }
    Ok(graph)
}

fn lower_platform(
    graph: &mut Graph,
    file: &ParsedFile,
    escape: char,
    opts: &LowerOptions,
    resolver: &dyn ImageMetaResolver,
    platform: Platform,
) -> Result<(), LowerError> {
    let lexer = Lexer::new(escape);
    let target_name = if opts.target.is_empty() {
        file.stages
            .last()
            .and_then(|s| s.name.clone())
            .unwrap_or_default()
    } else {
        opts.target.clone()
    };
    let global = args::default_args(
        &opts.build_platform,
        &platform,
        &target_name,
        &opts.build_args,
    );
    let mut global = args::apply_meta_args(global, &lexer, &file.meta_args, &opts.build_args)?;
    let epoch = source_date_epoch(opts, &mut global)?;
    let mut ctx = ctx::Ctx::new(graph, opts, lexer, global, platform.clone(), epoch);

    let stage_count = file.stages.len();
    let mut table = stages::Table::build(file, &ctx)?;
    let target = table.target(&opts.target, stage_count)?;
    table.link(stage_count)?;
    let reachable = base::resolve_stages(&mut ctx, &mut table, target, stage_count, resolver)?;
    for i in 0..table.entries.len() {
        if reachable.contains(&i) && table.entries[i].done.is_none() {
            dispatch::dispatch_entry(&mut ctx, &mut table, i)?;
        }
    }
    let entry = &table.entries[target];
    let done = entry.done.as_ref().ok_or_else(|| {
        LowerError::at(
            entry.location,
            LowerErrorKind::StageOrder {
                base: entry.display.clone(),
            },
        )
    })?;
    graph.outputs.push(GraphOutput {
        platform,
        target: entry.name.clone().unwrap_or_default(),
        root: done.state.root.clone(),
        image: done.image.clone(),
    });
    Ok(())
}

/// `SOURCE_DATE_EPOCH` from the build args or a global ARG; unix seconds only.
fn source_date_epoch(
    opts: &LowerOptions,
    global: &mut env::EnvList,
) -> Result<Option<i64>, LowerError> {
    let value = match opts.build_args.get("SOURCE_DATE_EPOCH") {
        Some(v) => v.clone(),
        None => match global.get("SOURCE_DATE_EPOCH") {
            Some(v) if !v.is_empty() => v.to_string(),
            _ => return Ok(None),
        },
    };
    if value.is_empty() {
        return Ok(None);
    }
    // Seconds of years 0 to 9999: what an image's `created` time (RFC 3339) can hold.
    let epoch = value
        .parse::<i64>()
        .ok()
        .filter(|e| (-62_167_219_200..=253_402_300_799).contains(e))
        .ok_or_else(|| {
            LowerError::nowhere(LowerErrorKind::SourceDateEpoch {
                value: value.clone(),
            })
        })?;
    if global.contains("SOURCE_DATE_EPOCH") {
        global.set("SOURCE_DATE_EPOCH", &epoch.to_string());
    }
    Ok(Some(epoch))
}
