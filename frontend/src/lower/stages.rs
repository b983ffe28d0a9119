//! The stage table: every stage of the file plus the images/contexts referenced by
//! `COPY --from` / `RUN --mount from=` (BuildKit's "unregistered" states), their base and
//! dependency edges, reachability from the target and the circular-dependency check.

use crate::instructions::{Command, Location, ParsedFile};
use crate::shell::NoEnv;
use slipway_graph::{ImageConfig, Platform};
use std::collections::{BTreeMap, BTreeSet};

use super::ctx::{Ctx, Dispatched};
use super::error::{LowerError, LowerErrorKind};
use super::options::NamedContext;

pub const SCRATCH: &str = "scratch";

/// A command with the entries it reads from (COPY: `[from]`; RUN: one per mount).
#[derive(Debug, Clone)]
pub struct Cmd {
    pub command: Command,
    pub sources: Vec<usize>,
    pub on_build: bool,
}

/// What a base-less entry resolved to, before its commands run.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub root: Option<slipway_graph::Digest>,
    pub image: ImageConfig,
    pub platform: Platform,
    /// Steps already numbered (the FROM of an image).
    pub steps_used: usize,
}

#[derive(Debug, Clone)]
pub struct Entry {
    /// The name shown in progress (`build`, `stage-2`; empty for a single-stage file).
    pub display: String,
    /// `AS name`.
    pub name: Option<String>,
    /// The expanded FROM argument (or the `--from` value for unregistered entries).
    pub base_name: String,
    pub platform: Option<Platform>,
    /// The stage this one is built `FROM`.
    pub base: Option<usize>,
    pub commands: Vec<Cmd>,
    /// Entries this one copies or mounts from, with the command that does it.
    pub deps: Vec<(usize, Location)>,
    /// Replaced by a named context (`--build-context <stage name>=...`).
    pub named_context: Option<NamedContext>,
    pub location: Location,
    /// The FROM line's text.
    pub source_code: String,
    /// Referenced only by `--from` (not a stage of the file).
    pub unregistered: bool,
    pub cmd_total: usize,
    pub onbuild_init: bool,
    pub resolved: Option<Resolved>,
    pub done: Option<Dispatched>,
}

impl Entry {
    fn unregistered(base_name: &str, location: Location) -> Entry {
        Entry {
            display: String::new(),
            name: None,
            base_name: base_name.to_string(),
            platform: None,
            base: None,
            commands: Vec::new(),
            deps: Vec::new(),
            named_context: None,
            location,
            source_code: String::new(),
            unregistered: true,
            cmd_total: 0,
            onbuild_init: false,
            resolved: None,
            done: None,
        }
    }
}

pub struct Table {
    pub entries: Vec<Entry>,
    by_name: BTreeMap<String, usize>,
}

impl Table {
    /// Builds an entry per stage: expands FROM and `--platform` with the global args and
    /// links stages to earlier stages they are built on.
    pub fn build(file: &ParsedFile, ctx: &Ctx) -> Result<Table, LowerError> {
        let mut table = Table {
            entries: Vec::new(),
            by_name: BTreeMap::new(),
        };
        for (i, st) in file.stages.iter().enumerate() {
            let at = |kind| LowerError::at(st.location, kind);
            let expanded = ctx
                .lexer
                .process_word(&st.base_name, &ctx.global_args)
                .map_err(|source| at(LowerErrorKind::Expand { source }))?;
            if expanded.result.is_empty() {
                return Err(at(LowerErrorKind::BlankBaseName {
                    base: st.base_name.clone(),
                }));
            }
            let platform = match &st.platform {
                None => None,
                Some(expr) => Some(expand_platform(ctx, expr).map_err(at)?),
            };
            let mut entry = Entry::unregistered(&expanded.result, st.location);
            entry.unregistered = false;
            entry.name = st.name.clone();
            entry.platform = platform;
            entry.source_code = st.original.clone();
            entry.commands = st
                .commands
                .iter()
                .map(|c| Cmd {
                    command: c.clone(),
                    sources: Vec::new(),
                    on_build: false,
                })
                .collect();
            let named = st
                .name
                .as_deref()
                .and_then(|n| named_context_for_stage(ctx, n));
            if let Some(nc) = named {
                entry.named_context = Some(nc);
                entry.display = st.name.clone().unwrap_or_default();
                entry.commands.clear();
                table.push(entry);
                continue;
            }
            entry.display = st.name.clone().unwrap_or_else(|| format!("stage-{i}"));
            table.push(entry);
            let idx = table.entries.len() - 1;
            let counted = st
                .commands
                .iter()
                .filter(|c| {
                    matches!(
                        c,
                        Command::Add(_) | Command::Copy(_) | Command::Run(_) | Command::Workdir(_)
                    )
                })
                .count();
            let from_image = usize::from(
                table.entries[idx].base_name != SCRATCH && table.entries[idx].base.is_none(),
            );
            table.entries[idx].cmd_total = counted + from_image;
        }
        Ok(table)
    }

    /// BuildKit's `addState`: links to an earlier stage of that exact name, registers the name.
    fn push(&mut self, mut entry: Entry) {
        if let Some(&base) = self.by_name.get(&entry.base_name) {
            entry.base = Some(base);
        }
        let idx = self.entries.len();
        if let Some(name) = &entry.name {
            self.by_name.insert(name.to_lowercase(), idx);
        }
        self.entries.push(entry);
    }

    pub fn find(&self, name: &str) -> Option<usize> {
        self.by_name.get(&name.to_lowercase()).copied()
    }

    /// The entry named `name`, or a new unregistered one for an image/context of that name.
    fn find_or_add(&mut self, name: &str, location: Location) -> usize {
        match self.find(name) {
            Some(i) => i,
            None => {
                self.push(Entry::unregistered(name, location));
                self.entries.len() - 1
            }
        }
    }

    /// Works out the sources of `cmd` (BuildKit's `toCommand`), adding unregistered entries.
    pub fn sources_of(
        &mut self,
        cmd: &Command,
        stage_count: usize,
    ) -> Result<Vec<usize>, LowerError> {
        let loc = cmd.location();
        match cmd {
            Command::Copy(c) if !c.from.is_empty() => {
                let lexer = crate::shell::Lexer::new('\\');
                let literal = lexer.process_word(&c.from, &NoEnv).map(|e| e.result).ok();
                if literal.as_deref() != Some(c.from.as_str()) {
                    return Err(LowerError::at(loc, LowerErrorKind::FromVariable));
                }
                let src = match c.from.parse::<i64>() {
                    Ok(n) => usize::try_from(n)
                        .ok()
                        .filter(|i| *i < stage_count)
                        .ok_or_else(|| {
                            LowerError::at(
                                loc,
                                LowerErrorKind::InvalidStageIndex {
                                    index: c.from.clone(),
                                },
                            )
                        })?,
                    Err(_) => self.find_or_add(&c.from, loc),
                };
                Ok(vec![src])
            }
            Command::Run(r) => Ok(r
                .mounts
                .iter()
                .map(|m| {
                    let from = if m.from.is_empty() {
                        SCRATCH
                    } else {
                        m.from.as_str()
                    };
                    self.find_or_add(from, loc)
                })
                .collect()),
            _ => Ok(Vec::new()),
        }
    }

    /// Fills every stage's command sources and dependency edges, then refuses cycles.
    pub fn link(&mut self, stage_count: usize) -> Result<(), LowerError> {
        let n = self.entries.len();
        for e in 0..n {
            let commands = std::mem::take(&mut self.entries[e].commands);
            let mut linked = Vec::with_capacity(commands.len());
            for mut cmd in commands {
                cmd.sources = self.sources_of(&cmd.command, stage_count)?;
                for &s in &cmd.sources {
                    add_dep(&mut self.entries[e].deps, s, cmd.command.location());
                }
                linked.push(cmd);
            }
            self.entries[e].commands = linked;
        }
        self.check_cycles()?;
        if self.entries.len() == 1 {
            if let Some(only) = self.entries.first_mut() {
                only.display.clear();
            }
        }
        Ok(())
    }

    fn check_cycles(&self) -> Result<(), LowerError> {
        let mut visited = BTreeSet::new();
        for start in 0..self.entries.len() {
            let mut path = BTreeSet::new();
            if let Some(locs) = self.visit(start, &mut visited, &mut path, Vec::new()) {
                return Err(LowerError {
                    locations: locs,
                    kind: Box::new(LowerErrorKind::CircularDependency {
                        stage: self.entries[start].display.clone(),
                    }),
                });
            }
        }
        Ok(())
    }

    fn visit(
        &self,
        s: usize,
        visited: &mut BTreeSet<usize>,
        path: &mut BTreeSet<usize>,
        cur: Vec<Location>,
    ) -> Option<Vec<Location>> {
        if !visited.insert(s) {
            return None;
        }
        path.insert(s);
        for (dep, loc) in &self.entries[s].deps {
            let mut next = cur.clone();
            next.push(*loc);
            if path.contains(dep) {
                return Some(next);
            }
            if let Some(found) = self.visit(*dep, visited, path, next) {
                return Some(found);
            }
        }
        path.remove(&s);
        None
    }

    /// Every entry `target` needs: its base chain and dependencies, transitively.
    pub fn reachable(&self, target: usize) -> BTreeSet<usize> {
        let mut out = BTreeSet::new();
        let mut stack = vec![target];
        while let Some(s) = stack.pop() {
            if !out.insert(s) {
                continue;
            }
            if let Some(e) = self.entries.get(s) {
                stack.extend(e.base);
                stack.extend(e.deps.iter().map(|(d, _)| *d));
            }
        }
        out
    }

    /// The target entry: `--target` by name, else the last stage.
    pub fn target(&self, target: &str, stage_count: usize) -> Result<usize, LowerError> {
        if target.is_empty() {
            return Ok(stage_count.saturating_sub(1));
        }
        self.find(target).ok_or_else(|| {
            let names: Vec<&str> = self
                .entries
                .iter()
                .filter_map(|e| e.name.as_deref())
                .collect();
            LowerError::nowhere(LowerErrorKind::TargetNotFound {
                target: target.to_string(),
                suggestion: closest(target, &names),
            })
        })
    }
}

pub fn add_dep(deps: &mut Vec<(usize, Location)>, s: usize, loc: Location) {
    match deps.iter_mut().find(|(d, _)| *d == s) {
        Some(slot) => slot.1 = loc,
        None => deps.push((s, loc)),
    }
}

fn expand_platform(ctx: &Ctx, expr: &str) -> Result<Platform, LowerErrorKind> {
    let m = ctx
        .lexer
        .process_word(expr, &ctx.global_args)
        .map_err(|source| LowerErrorKind::PlatformArgs {
            result: String::new(),
            source,
        })?;
    if m.result.is_empty() {
        return Err(LowerErrorKind::EmptyPlatform {
            expression: expr.to_string(),
        });
    }
    m.result
        .parse::<Platform>()
        .map_err(|source| LowerErrorKind::BadPlatform {
            expression: expr.to_string(),
            source,
        })
}

/// A named context that replaces the stage `name` (not for `scratch`/`context`).
fn named_context_for_stage(ctx: &Ctx, name: &str) -> Option<NamedContext> {
    if name.eq_ignore_ascii_case(SCRATCH) || name.eq_ignore_ascii_case("context") {
        return None;
    }
    ctx.opts.named_contexts.get(name).cloned()
}

/// The closest name within edit distance 2 (for "did you mean").
fn closest(word: &str, names: &[&str]) -> Option<String> {
    let lower = word.to_lowercase();
    names
        .iter()
        .map(|n| (levenshtein(&lower, &n.to_lowercase()), *n))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n.to_string())
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            let v = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
            cur.push(v);
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or(0)
}
