//! Placement that prefers workers holding a build's inputs from earlier builds: the cache
//! keys of a task are computed by the worker (they cover file contents the coordinators
//! never see), so the leader cannot look the task's keys up in the shared index at
//! submission. What it can see cheaply is the graph: a task whose output root vertex and
//! platform equal those of an earlier succeeded task is (most often) the same build
//! again, and the earlier result's layers are in the index. Their digests join the task's
//! affinity, so the scheduler prefers the workers holding them (and the others fetch them
//! from those workers through the farm cache).

use crate::farm::state::FarmState;
use slipway_farm::{TaskSpec, TaskState};
use slipway_graph::{Digest, Platform};
use std::collections::HashMap;

/// At most this many digests are added to one task's affinity.
pub const MAX_ADDED: usize = 32;

/// A task's platform and output root vertex.
type RootKey = (Platform, Digest);
/// The newest matching result so far: (its last change, its layer digests).
type Newest = Option<(u64, Vec<Digest>)>;

fn root_of(t: &TaskSpec) -> Option<RootKey> {
    let root = t.graph.outputs.first()?.root.clone()?;
    Some((t.platform.clone(), root))
}

/// Adds to each task's affinity the layers of the newest succeeded task with the same
/// platform and output root (one pass over the state's tasks).
pub fn add_previous_results(st: &FarmState, tasks: &mut [TaskSpec]) {
    let mut wanted: HashMap<RootKey, Newest> = tasks
        .iter()
        .filter_map(root_of)
        .map(|k| (k, None))
        .collect();
    if wanted.is_empty() {
        return;
    }
    for record in st.tasks() {
        let TaskState::Succeeded { result, .. } = &record.state else {
            continue;
        };
        let Some(slot) = root_of(&record.spec).and_then(|k| wanted.get_mut(&k)) else {
            continue;
        };
        if slot.as_ref().is_none_or(|(at, _)| record.updated_ms >= *at) {
            let layers = result.layers.iter().map(|l| l.digest.clone()).collect();
            *slot = Some((record.updated_ms, layers));
        }
    }
    for t in tasks.iter_mut() {
        let Some(Some((_, layers))) = root_of(t).and_then(|k| wanted.get(&k)) else {
            continue;
        };
        for d in layers.iter().take(MAX_ADDED) {
            if !t.affinity.contains(d) {
                t.affinity.push(d.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::farm::state::test_support::{build_spec, result_for, task_spec, worker_spec};
    use crate::farm::state::Command;
    use slipway_farm::{BlobDescriptor, BuildId, Placement};
    use slipway_graph::GraphOutput;

    fn with_root(mut t: TaskSpec, root: &str) -> TaskSpec {
        t.graph.outputs.push(GraphOutput {
            platform: t.platform.clone(),
            target: String::new(),
            root: Some(Digest::of_bytes(root.as_bytes())),
            image: Default::default(),
        });
        t
    }

    #[test]
    fn the_same_graph_again_prefers_the_earlier_results_layers() {
        let amd = Platform::linux("amd64", "");
        let mut st = FarmState::new();
        let w = worker_spec("a", &["linux/amd64"], &[], 1);
        assert!(st
            .apply(Command::RegisterWorker { spec: w, at_ms: 1 })
            .is_ok());
        let build = BuildId::new();
        let first = with_root(task_spec(build, amd.clone()), "root");
        let id = first.id;
        assert!(st
            .apply(Command::SubmitBuild {
                id: build,
                spec: Box::new(build_spec(&["linux/amd64"])),
                tasks: vec![first],
                at_ms: 2,
            })
            .is_ok());
        let assign = Command::Assign {
            task: id,
            worker: "a".parse().unwrap(),
            placement: Placement::Native,
            at_ms: 3,
        };
        assert!(st.apply(assign).is_ok());
        let layer = Digest::of_bytes(b"layer");
        let mut result = result_for(&amd);
        result.layers = vec![BlobDescriptor {
            media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
            digest: layer.clone(),
            size: 1,
        }];
        assert!(st
            .apply(Command::TaskSucceeded {
                task: id,
                worker: "a".parse().unwrap(),
                result,
                at_ms: 4,
            })
            .is_ok());

        let later = BuildId::new();
        let mut tasks = vec![
            with_root(task_spec(later, amd.clone()), "root"),
            with_root(task_spec(later, amd.clone()), "other root"),
            with_root(task_spec(later, Platform::linux("arm64", "")), "root"),
        ];
        add_previous_results(&st, &mut tasks);
        assert_eq!(tasks[0].affinity, vec![layer.clone()]);
        assert!(tasks[1].affinity.is_empty(), "another graph");
        assert!(tasks[2].affinity.is_empty(), "another platform");
        // Not added twice.
        add_previous_results(&st, &mut tasks);
        assert_eq!(tasks[0].affinity, vec![layer]);
    }
}
