//! Cuts a lowered build into tasks: one image task per graph output (one per platform),
//! holding the vertices that output needs, and one stage task per cut point
//! ([`cuts::cut_points`]: a stage shared by several images, or one on another platform than
//! the vertices using it). A task that needs a cut point depends on its stage task; its
//! graph still holds the stage's vertices (they give the cache keys), and its solve takes
//! the stage's result from the stage task's cache records (sent with the assignment)
//! instead of running it again.

mod cuts;

use crate::MAIN_CONTEXT;
use serde::{Deserialize, Serialize};
use slipway_farm::cache::{CacheExportTarget, CacheMode};
use slipway_farm::{BuildId, BuildSpec, ContextRef, NamedContext, TaskId, TaskKind, TaskSpec};
use slipway_graph::{Digest, Graph, GraphError, GraphOutput, ImageConfig, Op, SourceOp};
use std::collections::{BTreeMap, BTreeSet};

/// Why a build cannot be cut into tasks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum PlanError {
    #[error("build {build}: the graph has no outputs")]
    NoOutputs { build: BuildId },
    #[error("build {build}: platform {platform} is an output twice")]
    DuplicatePlatform { build: BuildId, platform: String },
    #[error("build {build}: invalid graph: {message}")]
    InvalidGraph { build: BuildId, message: String },
}

/// The tasks of a build: a stage task per cut point (dependencies first), then one image
/// task per output of `graph`, in output order, named after its platform. A task's graph
/// holds its output's root and ancestors; `affinity` lists the digests whose presence on a
/// worker helps the task (source vertices, resolved base images, the context tar when the
/// task reads the context). The build's `--network` mode is applied first.
pub fn plan(build: BuildId, spec: &BuildSpec, graph: Graph) -> Result<Vec<TaskSpec>, PlanError> {
    let invalid = |e: GraphError| PlanError::InvalidGraph {
        build,
        message: e.to_string(),
    };
    graph.validate().map_err(invalid)?;
    // `--network`: every RUN that does not choose its own mode gets the build's.
    let graph = crate::graph_edit::apply_network(graph, spec.network).map_err(invalid)?;
    if graph.outputs.is_empty() {
        return Err(PlanError::NoOutputs { build });
    }
    let mut platforms = BTreeSet::new();
    for output in &graph.outputs {
        if !platforms.insert(&output.platform) {
            return Err(PlanError::DuplicatePlatform {
                build,
                platform: output.platform.to_string(),
            });
        }
    }
    let planner = Planner {
        build,
        spec,
        graph: &graph,
    };
    let mut tasks = Vec::with_capacity(graph.outputs.len());
    let mut stages: BTreeMap<Digest, TaskId> = BTreeMap::new();
    for cut in cuts::cut_points(&graph).map_err(invalid)? {
        let vertex = &graph.vertices[&cut];
        let output = GraphOutput {
            platform: vertex.platform.clone(),
            target: String::new(),
            root: Some(cut.clone()),
            image: ImageConfig::default(),
        };
        let name = if vertex.name.is_empty() {
            format!("stage {cut}")
        } else {
            format!("stage {}", vertex.name)
        };
        let task = planner
            .task(TaskKind::Stage, name, output, &stages)
            .map_err(invalid)?;
        stages.insert(cut, task.id);
        tasks.push(task);
    }
    for output in &graph.outputs {
        let name = output.platform.to_string();
        let task = planner
            .task(TaskKind::Image, name, output.clone(), &stages)
            .map_err(invalid)?;
        tasks.push(task);
    }
    Ok(tasks)
}

struct Planner<'a> {
    build: BuildId,
    spec: &'a BuildSpec,
    graph: &'a Graph,
}

impl Planner<'_> {
    /// The task producing `output`: its root and ancestors, depending on the stage tasks
    /// (`stages`, by cut vertex) among them.
    fn task(
        &self,
        kind: TaskKind,
        name: String,
        output: GraphOutput,
        stages: &BTreeMap<Digest, TaskId>,
    ) -> Result<TaskSpec, GraphError> {
        let (graph, spec) = (self.graph, self.spec);
        let mut keep = BTreeSet::new();
        if let Some(root) = &output.root {
            keep = graph.ancestors(root)?;
            keep.insert(root.clone());
        }
        let depends_on = keep
            .iter()
            .filter(|d| Some(*d) != output.root.as_ref())
            .filter_map(|d| stages.get(d).copied())
            .collect();
        let vertices: BTreeMap<_, _> = keep
            .iter()
            .filter_map(|d| graph.vertices.get(d).map(|v| (d.clone(), v.clone())))
            .collect();
        let task_graph = Graph {
            vertices,
            outputs: vec![output],
        };
        let (mut affinity, locals) = inputs_of(&task_graph);
        let context = if locals.contains(MAIN_CONTEXT) {
            spec.context.clone()
        } else {
            None
        };
        // The local `--build-context` directories this task's graph reads.
        let named_contexts: BTreeMap<String, ContextRef> = spec
            .named_contexts
            .iter()
            .filter(|(name, _)| locals.contains(name.as_str()))
            .filter_map(|(name, c)| match c {
                NamedContext::Local(c) => Some((name.clone(), c.clone())),
                NamedContext::Image(_) => None,
            })
            .collect();
        if let Some(c) = &context {
            affinity.push(c.digest.clone());
        }
        affinity.extend(named_contexts.values().map(|c| c.digest.clone()));
        let (push, cache_to) = match kind {
            TaskKind::Image => (spec.pushes.clone(), spec.cache_to.clone()),
            // A stage is no image of the build: nothing to push, and its results belong
            // only in the caches that keep every result (`mode=max`).
            TaskKind::Stage => (
                Vec::new(),
                spec.cache_to
                    .iter()
                    .filter(|e| e.mode == CacheMode::Max && e.target != CacheExportTarget::Inline)
                    .cloned()
                    .collect(),
            ),
        };
        Ok(TaskSpec {
            id: TaskId::new(),
            build: self.build,
            name,
            platform: task_graph.outputs[0].platform.clone(),
            kind,
            graph: task_graph,
            depends_on,
            context,
            pushes: push,
            no_cache: spec.no_cache,
            pull: spec.pull,
            source_date_epoch: spec.source_date_epoch,
            affinity,
            cache_from: spec.cache_from.clone(),
            cache_to,
            named_contexts,
            allow: spec.allow.clone(),
            docker_media_types: spec.docker_media_types,
        })
    }
}

/// The digests of the graph's source vertices (plus resolved image manifests) and the
/// names of the local contexts it reads.
fn inputs_of(graph: &Graph) -> (Vec<Digest>, BTreeSet<String>) {
    let mut digests = BTreeSet::new();
    let mut locals = BTreeSet::new();
    for (digest, vertex) in &graph.vertices {
        let Op::Source(source) = &vertex.op else {
            continue;
        };
        digests.insert(digest.clone());
        match source {
            SourceOp::Image(image) => {
                if let Some(resolved) = &image.resolved {
                    digests.insert(resolved.clone());
                }
            }
            SourceOp::Local(local) => {
                locals.insert(local.name.clone());
            }
            SourceOp::Http(_) | SourceOp::Git(_) => {}
        }
    }
    (digests.into_iter().collect(), locals)
}

#[cfg(test)]
mod tests;
