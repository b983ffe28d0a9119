//! Build history retention: finished builds (and their tasks) leave the replicated state
//! once they are older than [`HistoryConfig::max_age_ms`] or beyond the newest
//! [`HistoryConfig::max_entries`] finished builds, as BuildKit's `history` config
//! (`maxAge`, `maxEntries`) does for its build records. Without it, every build ever
//! submitted would stay in memory and in each Raft snapshot.
//!
//! [`builds_to_forget`] is the pure decision (the leader runs it with `now`);
//! [`Command::ForgetBuilds`](super::Command::ForgetBuilds) is the change every
//! coordinator applies.

use super::{FarmState, Refusal};
use slipway_farm::BuildId;
use thiserror::Error;

/// How much finished-build history the farm keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryConfig {
    /// A finished build is forgotten this long after it finished (BuildKit: 48 h).
    pub max_age_ms: u64,
    /// At most this many finished builds are kept, the most recently finished ones.
    pub max_entries: usize,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        HistoryConfig {
            max_age_ms: 48 * 3600 * 1000,
            max_entries: 500,
        }
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum HistoryConfigError {
    #[error("build history max age must be at least 1 s (got {max_age_ms} ms)")]
    MaxAgeTooShort { max_age_ms: u64 },
    #[error("build history must keep at least 1 finished build (got {max_entries})")]
    NoEntries { max_entries: usize },
}

impl HistoryConfig {
    pub fn validate(&self) -> Result<(), HistoryConfigError> {
        if self.max_age_ms < 1000 {
            return Err(HistoryConfigError::MaxAgeTooShort {
                max_age_ms: self.max_age_ms,
            });
        }
        if self.max_entries == 0 {
            return Err(HistoryConfigError::NoEntries {
                max_entries: self.max_entries,
            });
        }
        Ok(())
    }
}

/// Finished builds the history config no longer keeps at `now_ms`: those finished more
/// than `max_age_ms` ago, then the oldest-finished beyond `max_entries`. Builds still
/// queued, running or stitching are never chosen.
pub fn builds_to_forget(st: &FarmState, cfg: &HistoryConfig, now_ms: u64) -> Vec<BuildId> {
    let mut finished: Vec<(u64, BuildId)> = st
        .builds
        .values()
        .filter(|b| b.state.is_final())
        .map(|b| (b.finished_ms.unwrap_or(b.submitted_ms), b.id))
        .collect();
    // Newest first; ties broken by id so every node decides the same.
    finished.sort_by(|a, b| b.cmp(a));
    finished
        .into_iter()
        .enumerate()
        .filter(|(rank, (finished_ms, _))| {
            *rank >= cfg.max_entries || now_ms.saturating_sub(*finished_ms) > cfg.max_age_ms
        })
        .map(|(_, (_, id))| id)
        .collect()
}

impl FarmState {
    /// Removes finished builds and their tasks. Each id must name a finished build whose
    /// tasks are all final; the others are left alone (a build may have been forgotten
    /// already by an earlier entry). Refused only when nothing was removed.
    pub(super) fn forget_builds(&mut self, builds: &[BuildId]) -> Result<(), Refusal> {
        let mut removed = 0usize;
        let mut skipped = Vec::new();
        for id in builds {
            let Some(b) = self.builds.get(id) else {
                skipped.push(format!("build {id} is not in the history"));
                continue;
            };
            if !b.state.is_final() {
                skipped.push(format!("build {id} is {}", b.state.name()));
                continue;
            }
            let live_task = b.tasks.iter().find(|t| {
                self.tasks
                    .get(*t)
                    .is_some_and(|t| !t.state.is_final() || self.pending.contains(&t.spec.id))
            });
            if let Some(t) = live_task {
                skipped.push(format!("build {id} still has task {t} in progress"));
                continue;
            }
            let Some(b) = self.builds.remove(id) else {
                continue;
            };
            for t in &b.tasks {
                self.tasks.remove(t);
                for w in self.workers.values_mut() {
                    w.held.remove(t);
                }
            }
            removed += 1;
        }
        if removed == 0 {
            return Err(Refusal::Ignored(if skipped.is_empty() {
                "no builds to forget".to_string()
            } else {
                skipped.join("; ")
            }));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::farm::state::test_support::{build_spec, platform, task_spec, worker_spec};
    use crate::farm::state::{Command, Response};
    use slipway_farm::{BuildState, Placement, TaskId, WorkerId};

    fn cfg(max_age_ms: u64, max_entries: usize) -> HistoryConfig {
        HistoryConfig {
            max_age_ms,
            max_entries,
        }
    }

    fn ok(st: &mut FarmState, cmd: Command) {
        let r = st.apply(cmd.clone());
        assert_eq!(r, Response::Ok, "{cmd:?}");
    }

    /// A build of `n` linux/amd64 tasks submitted at `at_ms`.
    fn submit(st: &mut FarmState, n: usize, at_ms: u64) -> (BuildId, Vec<TaskId>) {
        let id = BuildId::new();
        let tasks: Vec<_> = (0..n)
            .map(|_| task_spec(id, platform("linux/amd64")))
            .collect();
        let ids = tasks.iter().map(|t| t.id).collect();
        ok(
            st,
            Command::SubmitBuild {
                id,
                spec: Box::new(build_spec(&["linux/amd64"])),
                tasks,
                at_ms,
            },
        );
        (id, ids)
    }

    fn register(st: &mut FarmState) -> WorkerId {
        let spec = worker_spec("w1", &["linux/amd64"], &[], 4);
        let id = spec.id.clone();
        ok(st, Command::RegisterWorker { spec, at_ms: 1 });
        id
    }

    #[test]
    fn defaults_are_valid_and_nonsense_is_refused() {
        assert!(HistoryConfig::default().validate().is_ok());
        assert_eq!(
            cfg(10, 5).validate(),
            Err(HistoryConfigError::MaxAgeTooShort { max_age_ms: 10 })
        );
        assert_eq!(
            cfg(10_000, 0).validate(),
            Err(HistoryConfigError::NoEntries { max_entries: 0 })
        );
    }

    #[test]
    fn old_and_surplus_finished_builds_are_forgotten_running_ones_never() {
        let mut st = FarmState::new();
        let w = register(&mut st);
        // Three finished builds (at 100, 200, 300 ms) and one still running.
        let mut finished = Vec::new();
        for at in [100, 200, 300] {
            let (b, _) = submit(&mut st, 1, at);
            ok(
                &mut st,
                Command::CancelBuild {
                    build: b,
                    at_ms: at,
                },
            );
            finished.push(b);
        }
        let (running, tasks) = submit(&mut st, 1, 400);
        ok(
            &mut st,
            Command::Assign {
                task: tasks[0],
                worker: w.clone(),
                placement: Placement::Native,
                at_ms: 401,
            },
        );

        // Young enough and few enough: nothing goes.
        assert!(builds_to_forget(&st, &cfg(10_000, 10), 1000).is_empty());
        // Two entries kept: the oldest finished one goes.
        assert_eq!(
            builds_to_forget(&st, &cfg(10_000, 2), 1000),
            vec![finished[0]]
        );
        // Older than 750 ms at 1000: the ones finished at 100 and 200.
        let mut old = builds_to_forget(&st, &cfg(750, 10), 1000);
        old.sort();
        let mut want = vec![finished[0], finished[1]];
        want.sort();
        assert_eq!(old, want);
        // Much later, every finished build goes and the running one stays.
        let all = builds_to_forget(&st, &cfg(1000, 1), 1_000_000);
        assert_eq!(all.len(), 3);
        assert!(!all.contains(&running));

        ok(
            &mut st,
            Command::ForgetBuilds {
                builds: all.clone(),
                at_ms: 1_000_000,
            },
        );
        assert_eq!(st.builds().count(), 1);
        assert_eq!(
            st.build(&running).map(|b| &b.state),
            Some(&BuildState::Running)
        );
        assert_eq!(
            st.tasks().count(),
            1,
            "the forgotten builds' tasks are gone"
        );
        assert_eq!(st.running_count(&w), 1);
        // Again: nothing left to forget is a harmless duplicate.
        assert!(matches!(
            st.apply(Command::ForgetBuilds {
                builds: all,
                at_ms: 1_000_001
            }),
            Response::Ignored { .. }
        ));
    }

    #[test]
    fn a_build_in_progress_is_not_forgotten_even_when_named() {
        let mut st = FarmState::new();
        let (b, _) = submit(&mut st, 2, 10);
        match st.apply(Command::ForgetBuilds {
            builds: vec![b],
            at_ms: 20,
        }) {
            Response::Ignored { reason } => assert!(reason.contains("queued"), "{reason}"),
            other => panic!("unexpected {other:?}"),
        }
        assert!(st.build(&b).is_some());
        assert_eq!(st.tasks().count(), 2);
    }
}
