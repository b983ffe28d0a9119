//! Resolving what base-less entries start from (scratch, an image via the resolver, a
//! named context) and initialising ONBUILD triggers (BuildKit's `resolveStages`).

use crate::instructions::{parse_trigger_result, Command};
use crate::parser;
use slipway_graph::{Digest, ImageConfig, ImageSource, Op, Platform, SourceOp};
use std::collections::BTreeSet;

use super::ctx::{Ctx, Dispatched, FsState, Inputs, VertexMeta};
use super::error::{LowerError, LowerErrorKind};
use super::names::StepCounter;
use super::options::NamedContext;
use super::reference::normalize_reference;
use super::resolver::ImageMetaResolver;
use super::stages::{add_dep, Cmd, Resolved, Table, SCRATCH};

/// BuildKit's `emptyImage`: what `FROM scratch` starts with.
pub fn empty_image(platform: &Platform) -> ImageConfig {
    let mut img = ImageConfig {
        working_dir: "/".into(),
        ..Default::default()
    };
    if platform.os != "windows" {
        img.env.push(format!("PATH={}", default_path()));
    }
    img
}

pub fn default_path() -> &'static str {
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
}

/// Resolves reachable entries and runs ONBUILD initialisation until no new dependency
/// appears; returns the final reachable set.
pub fn resolve_stages(
    ctx: &mut Ctx,
    table: &mut Table,
    target: usize,
    stage_count: usize,
    resolver: &dyn ImageMetaResolver,
) -> Result<BTreeSet<usize>, LowerError> {
    loop {
        let reachable = table.reachable(target);
        for &i in &reachable {
            let e = &table.entries[i];
            if e.base.is_none() && e.resolved.is_none() && e.done.is_none() {
                resolve_entry(ctx, table, i, resolver)?;
            }
        }
        let mut new_deps = false;
        for &i in &reachable {
            new_deps |= init_onbuild(table, i, stage_count)?;
        }
        if !new_deps {
            return Ok(reachable);
        }
    }
}

fn init_onbuild(table: &mut Table, i: usize, stage_count: usize) -> Result<bool, LowerError> {
    let mut triggers: Vec<String> = Vec::new();
    if let Some(r) = table.entries[i].resolved.as_mut() {
        triggers.append(&mut r.image.on_build);
    }
    if let Some(base) = table.entries[i].base {
        if !table.entries[i].onbuild_init {
            triggers.extend(
                table.entries[base]
                    .commands
                    .iter()
                    .filter_map(|c| match &c.command {
                        Command::Onbuild(o) => Some(o.expression.clone()),
                        _ => None,
                    }),
            );
            table.entries[i].onbuild_init = true;
        }
    }
    if triggers.is_empty() {
        return Ok(false);
    }
    let location = table.entries[i].location;
    let mut cmds = Vec::with_capacity(triggers.len());
    let mut new_deps = false;
    for trigger in &triggers {
        let parsed = parser::parse(trigger)
            .map_err(|source| LowerError::at(location, LowerErrorKind::OnbuildParse { source }))?;
        let command = parse_trigger_result(&parsed, location).map_err(|source| {
            LowerError::at(location, LowerErrorKind::OnbuildInstruction { source })
        })?;
        let sources = table.sources_of(&command, stage_count)?;
        new_deps |= !sources.is_empty();
        for &s in &sources {
            add_dep(&mut table.entries[i].deps, s, location);
        }
        cmds.push(Cmd {
            command,
            sources,
            on_build: true,
        });
    }
    let e = &mut table.entries[i];
    e.cmd_total += cmds.len();
    cmds.append(&mut e.commands);
    e.commands = cmds;
    Ok(new_deps)
}

fn resolve_entry(
    ctx: &mut Ctx,
    table: &mut Table,
    i: usize,
    resolver: &dyn ImageMetaResolver,
) -> Result<(), LowerError> {
    let e = &table.entries[i];
    let at = |kind| LowerError::at(e.location, kind);
    let site = Site {
        location: e.location,
        source_code: e.source_code.clone(),
    };
    if let Some(nc) = e.named_context.clone() {
        // A stage replaced by a named context: done at once, its commands never run.
        let platform = e
            .platform
            .clone()
            .unwrap_or_else(|| ctx.target_platform.clone());
        let (root, image) =
            load_named(ctx, &nc, &platform, &e.base_name, resolver, &site).map_err(at)?;
        table.entries[i].done = Some(done_from(root, image, platform));
        return Ok(());
    }
    if e.base_name == SCRATCH {
        let platform = ctx.target_platform.clone();
        let image = empty_image(&platform);
        return finish(
            table,
            i,
            Resolved {
                root: None,
                image,
                platform,
                steps_used: 0,
            },
        );
    }
    let reference = normalize_reference(&e.base_name).map_err(|source| {
        at(LowerErrorKind::InvalidReference {
            name: e.base_name.clone(),
            source,
        })
    })?;
    let platform = e
        .platform
        .clone()
        .unwrap_or_else(|| ctx.target_platform.clone());
    let named = ctx
        .opts
        .named_contexts
        .get(&e.base_name)
        .or_else(|| ctx.opts.named_contexts.get(&reference.familiar()))
        .cloned();
    if let Some(nc) = named {
        let (root, image) =
            load_named(ctx, &nc, &platform, &e.base_name, resolver, &site).map_err(at)?;
        let image = image.unwrap_or_else(|| empty_image(&platform));
        return finish(
            table,
            i,
            Resolved {
                root,
                image,
                platform,
                steps_used: 0,
            },
        );
    }
    let mut counter = StepCounter {
        stage: e.display.clone(),
        index: 0,
        total: e.cmd_total,
        show_platform: ctx.show_platform,
    };
    let name = e.base_name.clone();
    let (root, image) = image_source(
        ctx,
        &reference.to_tagged_string(),
        &platform,
        resolver,
        &mut counter,
        &site,
        &name,
    )
    .map_err(at)?;
    finish(
        table,
        i,
        Resolved {
            root,
            image,
            platform,
            steps_used: counter.index,
        },
    )
}

/// Where a FROM (or `--from`) is written, for vertex metadata.
struct Site {
    location: crate::instructions::Location,
    source_code: String,
}

/// Unregistered entries (copy/mount sources) are done once resolved; stages dispatch later.
fn finish(table: &mut Table, i: usize, r: Resolved) -> Result<(), LowerError> {
    let e = &mut table.entries[i];
    if e.unregistered {
        e.done = Some(done_from(
            r.root.clone(),
            Some(r.image.clone()),
            r.platform.clone(),
        ));
    }
    e.resolved = Some(r);
    Ok(())
}

fn done_from(root: Option<Digest>, image: Option<ImageConfig>, platform: Platform) -> Dispatched {
    let image = image.unwrap_or_default();
    let mut state = FsState::scratch(platform);
    state.root = root;
    for kv in &image.env {
        let (k, v) = super::env::parse_key_value(kv);
        state.env.set(k, v);
    }
    if !image.working_dir.is_empty() {
        state.cwd = image.working_dir.clone();
    }
    state.user = image.user.clone();
    Dispatched {
        state,
        image,
        build_args: Vec::new(),
        workdir_set: false,
    }
}

/// Loads a named context: an image (resolved for its config) or a client directory.
fn load_named(
    ctx: &mut Ctx,
    nc: &NamedContext,
    platform: &Platform,
    shown_as: &str,
    resolver: &dyn ImageMetaResolver,
    site: &Site,
) -> Result<(Option<Digest>, Option<ImageConfig>), LowerErrorKind> {
    match nc {
        NamedContext::Local(name) => Ok((Some(ctx.local_context(name)), None)),
        NamedContext::Image(reference) => {
            let r = normalize_reference(reference).map_err(|source| {
                LowerErrorKind::InvalidReference {
                    name: reference.clone(),
                    source,
                }
            })?;
            let mut counter = StepCounter::default();
            let (root, img) = image_source(
                ctx,
                &r.to_tagged_string(),
                platform,
                resolver,
                &mut counter,
                site,
                shown_as,
            )?;
            Ok((root, Some(img)))
        }
    }
}

/// Resolves `tagged` and adds its image source vertex (none for a layerless image).
fn image_source(
    ctx: &mut Ctx,
    tagged: &str,
    platform: &Platform,
    resolver: &dyn ImageMetaResolver,
    counter: &mut StepCounter,
    site: &Site,
    orig_name: &str,
) -> Result<(Option<Digest>, ImageConfig), LowerErrorKind> {
    let meta = resolver
        .resolve(tagged, platform)
        .map_err(|source| LowerErrorKind::Resolve {
            name: orig_name.to_string(),
            source,
        })?;
    if meta.empty_rootfs {
        return Ok((None, meta.config));
    }
    let shown = match &meta.digest {
        Some(d) => format!("{tagged}@{d}"),
        None => tagged.to_string(),
    };
    let op = Op::Source(SourceOp::Image(ImageSource {
        reference: tagged.to_string(),
        resolved: meta.digest.clone(),
    }));
    let name = counter.name(&format!("FROM {shown}"), platform, None, false);
    let vmeta = VertexMeta {
        name,
        location: Some(site.location),
        command: (!site.source_code.is_empty()).then(|| site.source_code.clone()),
    };
    let d = ctx.add(op, Inputs::default(), platform, vmeta);
    Ok((Some(d), meta.config))
}
