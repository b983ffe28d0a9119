//! Shared lowering context for one target platform: the graph being built, the options,
//! the global args, and helpers to add vertices.

use crate::instructions::Location;
use crate::shell::Lexer;
use slipway_graph::{
    Digest, Graph, ImageConfig, Input, InputIndex, LocalContext, Op, Platform, SourceLocation,
    SourceOp, Vertex,
};
use std::collections::BTreeMap;

use super::env::EnvList;
use super::options::LowerOptions;

/// The equivalent of BuildKit's `llb.State` for a stage being lowered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsState {
    /// The root filesystem vertex; `None` is an empty filesystem (scratch).
    pub root: Option<Digest>,
    pub env: EnvList,
    pub cwd: String,
    pub user: String,
    pub platform: Platform,
}

impl FsState {
    pub fn scratch(platform: Platform) -> FsState {
        FsState {
            root: None,
            env: EnvList::new(),
            cwd: "/".into(),
            user: String::new(),
            platform,
        }
    }
}

/// A finished stage (or resolved image/context) that others can build on or copy from.
#[derive(Debug, Clone)]
pub struct Dispatched {
    pub state: FsState,
    pub image: ImageConfig,
    /// ARGs declared in the stage (and its base stages), for `RUN |n K=V ...` history.
    pub build_args: Vec<(String, Option<String>)>,
    pub workdir_set: bool,
}

pub struct Ctx<'a> {
    pub graph: &'a mut Graph,
    pub opts: &'a LowerOptions,
    pub lexer: Lexer,
    pub global_args: EnvList,
    pub target_platform: Platform,
    pub show_platform: bool,
    pub epoch: Option<i64>,
    /// The main build context vertex, once needed.
    context: Option<Digest>,
}

/// Collects a vertex's inputs, each distinct vertex once.
#[derive(Debug, Default)]
pub struct Inputs {
    pub list: Vec<Input>,
}

impl Inputs {
    pub fn index(&mut self, d: &Digest) -> InputIndex {
        let pos = self
            .list
            .iter()
            .position(|i| &i.vertex == d)
            .unwrap_or_else(|| {
                self.list.push(Input::of(d.clone()));
                self.list.len() - 1
            });
        InputIndex::try_from(pos).unwrap_or(InputIndex::MAX)
    }

    pub fn opt(&mut self, d: Option<&Digest>) -> Option<InputIndex> {
        d.map(|d| self.index(d))
    }
}

/// Name, location and description of a vertex.
#[derive(Debug, Default)]
pub struct VertexMeta {
    pub name: String,
    pub location: Option<Location>,
    /// `com.docker.dockerfile.v1.command`.
    pub command: Option<String>,
}

impl<'a> Ctx<'a> {
    pub fn new(
        graph: &'a mut Graph,
        opts: &'a LowerOptions,
        lexer: Lexer,
        global_args: EnvList,
        target_platform: Platform,
        epoch: Option<i64>,
    ) -> Ctx<'a> {
        Ctx {
            graph,
            opts,
            lexer,
            global_args,
            target_platform,
            show_platform: opts.platforms.len() > 1,
            epoch,
            context: None,
        }
    }

    pub fn add(&mut self, op: Op, inputs: Inputs, platform: &Platform, meta: VertexMeta) -> Digest {
        let mut v = Vertex::new(op, inputs.list, platform.clone()).with_name(meta.name);
        v.location = meta.location.map(|l| SourceLocation {
            file: self.opts.dockerfile_name.clone(),
            start_line: l.start_line,
            end_line: l.end_line,
        });
        if let Some(c) = meta.command {
            v.description = BTreeMap::from([("com.docker.dockerfile.v1.command".to_string(), c)]);
        }
        self.graph.add(v)
    }

    /// The main build context (`context`), served by the client; platform-neutral, so it
    /// carries the build platform and is one vertex for every target platform.
    pub fn build_context(&mut self) -> Digest {
        if let Some(d) = &self.context {
            return d.clone();
        }
        let op = Op::Source(SourceOp::Local(LocalContext {
            name: "context".into(),
            include_patterns: Vec::new(),
            exclude_patterns: self.opts.context_excludes.clone(),
        }));
        let build = self.opts.build_platform.clone();
        let meta = VertexMeta {
            name: "[internal] load build context".into(),
            ..Default::default()
        };
        let d = self.add(op, Inputs::default(), &build, meta);
        self.context = Some(d.clone());
        d
    }

    /// A named local context (`--build-context name=dir`).
    pub fn local_context(&mut self, name: &str) -> Digest {
        let op = Op::Source(SourceOp::Local(LocalContext {
            name: name.into(),
            ..Default::default()
        }));
        let build = self.opts.build_platform.clone();
        let meta = VertexMeta {
            name: format!("[context {name}] load from client"),
            ..Default::default()
        };
        self.add(op, Inputs::default(), &build, meta)
    }
}
