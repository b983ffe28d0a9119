//! The shared cache index through [`FarmState::apply`].

use super::test_support::{wid, worker_spec};
use super::*;

fn layer(seed: &str) -> CacheLayer {
    CacheLayer {
        media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
        digest: Digest::of_bytes(seed.as_bytes()).to_string(),
        size: 3,
        diff_id: Digest::of_bytes(format!("{seed}/tar").as_bytes()).to_string(),
    }
}

fn key(seed: &str) -> String {
    Digest::of_bytes(seed.as_bytes()).hex().to_string()
}

fn record(k: &str, layers: &[&str]) -> CacheRecord {
    CacheRecord {
        key: key(k),
        layers: layers.iter().map(|l| layer(l)).collect(),
    }
}

fn digest(seed: &str) -> Digest {
    Digest::of_bytes(seed.as_bytes())
}

fn farm(workers: &[&str]) -> FarmState {
    let mut st = FarmState::new();
    for w in workers {
        let r = st.apply(Command::RegisterWorker {
            spec: worker_spec(w, &["linux/amd64"], &[], 1),
            at_ms: 1,
        });
        assert_eq!(r, Response::Ok);
    }
    st
}

fn record_cache(st: &mut FarmState, w: &str, records: Vec<CacheRecord>) -> Response {
    st.apply(Command::RecordCache {
        worker: wid(w),
        records,
        at_ms: 2,
    })
}

fn forget(st: &mut FarmState, w: &str, seeds: &[&str]) -> Response {
    st.apply(Command::ForgetBlobs {
        worker: wid(w),
        digests: seeds.iter().map(|s| digest(s)).collect(),
        at_ms: 3,
    })
}

#[test]
fn recording_indexes_keys_and_blob_locations() {
    let mut st = farm(&["a"]);
    let r = record_cache(
        &mut st,
        "a",
        vec![record("base", &["l1"]), record("run", &["l1", "l2"])],
    );
    assert_eq!(r, Response::Ok);
    assert_eq!(st.cache_entry(&key("run")).map(<[_]>::len), Some(2));
    assert_eq!(st.cache_entry(&key("base")), Some(&[layer("l1")][..]));
    assert!(st.cache_entry(&key("other")).is_none());
    let holders: Vec<_> = st
        .blob_locations(&digest("l2"))
        .iter()
        .map(|w| w.spec.id.to_string())
        .collect();
    assert_eq!(holders, ["a"]);
    // The same records again change nothing.
    assert!(matches!(
        record_cache(&mut st, "a", vec![record("run", &["l1", "l2"])]),
        Response::Ignored { .. }
    ));
    assert_eq!(
        st.cache_blobs([key("run").as_str(), key("nope").as_str()]),
        [digest("l1"), digest("l2")].into_iter().collect()
    );
}

#[test]
fn forgetting_the_only_copy_removes_the_entry() {
    let mut st = farm(&["a"]);
    record_cache(
        &mut st,
        "a",
        vec![record("base", &["l1"]), record("run", &["l1", "l2"])],
    );
    assert_eq!(forget(&mut st, "a", &["l2"]), Response::Ok);
    assert!(st.cache_entry(&key("run")).is_none(), "l2 has no copy left");
    assert!(st.cache_entry(&key("base")).is_some(), "l1 is still held");
    assert!(st.blob_locations(&digest("l2")).is_empty());
    assert_eq!(forget(&mut st, "a", &["l1"]), Response::Ok);
    assert_eq!(st.cache_entries().count(), 0);
    assert!(matches!(
        forget(&mut st, "a", &["l1"]),
        Response::Ignored { .. }
    ));
}

#[test]
fn a_second_copy_keeps_the_entry() {
    let mut st = farm(&["a", "b"]);
    record_cache(&mut st, "a", vec![record("run", &["l1", "l2"])]);
    // b fetched l2 (and ran nothing): it reports the same record.
    assert_eq!(
        record_cache(&mut st, "b", vec![record("run", &["l1", "l2"])]),
        Response::Ok
    );
    assert_eq!(forget(&mut st, "a", &["l1", "l2"]), Response::Ok);
    assert_eq!(st.cache_entry(&key("run")).map(<[_]>::len), Some(2));
    let holders: Vec<_> = st
        .blob_locations(&digest("l1"))
        .iter()
        .map(|w| w.spec.id.to_string())
        .collect();
    assert_eq!(holders, ["b"]);
    assert_eq!(forget(&mut st, "b", &["l2"]), Response::Ok);
    assert!(st.cache_entry(&key("run")).is_none());
}

#[test]
fn first_record_of_a_key_wins_while_its_blobs_exist() {
    let mut st = farm(&["a", "b"]);
    record_cache(&mut st, "a", vec![record("run", &["x"])]);
    assert_eq!(
        record_cache(&mut st, "b", vec![record("run", &["y"])]),
        Response::Ok
    );
    assert_eq!(st.cache_entry(&key("run")), Some(&[layer("x")][..]));
    forget(&mut st, "a", &["x"]);
    assert!(st.cache_entry(&key("run")).is_none());
    // b's result of the same key takes the empty place on its next report.
    assert_eq!(
        record_cache(&mut st, "b", vec![record("run", &["y"])]),
        Response::Ok
    );
    assert_eq!(st.cache_entry(&key("run")), Some(&[layer("y")][..]));
}

#[test]
fn bad_records_and_unknown_workers_change_nothing() {
    let mut st = farm(&["a"]);
    let mut bad_key = record("run", &["l1"]);
    bad_key.key = "ABC".into();
    assert!(matches!(
        record_cache(&mut st, "a", vec![record("ok", &["l0"]), bad_key]),
        Response::Rejected { .. }
    ));
    let mut bad_digest = record("run", &["l1"]);
    bad_digest.layers[0].digest = "md5:1".into();
    assert!(matches!(
        record_cache(&mut st, "a", vec![bad_digest]),
        Response::Rejected { .. }
    ));
    assert!(matches!(
        record_cache(&mut st, "nobody", vec![record("run", &["l1"])]),
        Response::Rejected { .. }
    ));
    assert!(matches!(
        forget(&mut st, "nobody", &["l1"]),
        Response::Rejected { .. }
    ));
    assert_eq!(st.cache_entries().count(), 0);
    assert!(st.blobs().is_empty());
}

#[test]
fn draining_is_recorded_and_refuses_assignments() {
    let mut st = farm(&["a"]);
    let drain = |d| Command::DrainWorker {
        worker: wid("a"),
        drain: d,
        at_ms: 4,
    };
    assert_eq!(st.apply(drain(true)), Response::Ok);
    assert!(st.worker(&wid("a")).is_some_and(|w| w.draining));
    assert!(matches!(st.apply(drain(true)), Response::Ignored { .. }));
    let build = BuildId::new();
    let task = super::test_support::task_spec(build, super::test_support::platform("linux/amd64"));
    let id = task.id;
    assert_eq!(
        st.apply(Command::SubmitBuild {
            id: build,
            spec: Box::new(super::test_support::build_spec(&["linux/amd64"])),
            tasks: vec![task],
            at_ms: 5,
        }),
        Response::Ok
    );
    let assign = Command::Assign {
        task: id,
        worker: wid("a"),
        placement: Placement::Native,
        at_ms: 6,
    };
    match st.apply(assign.clone()) {
        Response::Rejected { reason } => assert!(reason.contains("draining"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(st.apply(drain(false)), Response::Ok);
    assert_eq!(st.apply(assign), Response::Ok);
}

#[test]
fn the_index_round_trips_through_a_json_snapshot() {
    let mut st = farm(&["a"]);
    record_cache(&mut st, "a", vec![record("run", &["l1", "l2"])]);
    st.apply(Command::DrainWorker {
        worker: wid("a"),
        drain: true,
        at_ms: 4,
    });
    let json = serde_json::to_vec(&st).unwrap();
    let back: FarmState = serde_json::from_slice(&json).unwrap();
    assert_eq!(back, st);
    let cmd = Command::RecordCache {
        worker: wid("a"),
        records: vec![record("run", &["l1"])],
        at_ms: 1,
    };
    let j = serde_json::to_string(&cmd).unwrap();
    assert_eq!(serde_json::from_str::<Command>(&j).unwrap(), cmd);
    // A snapshot written before the index existed still loads.
    let mut old: serde_json::Value = serde_json::to_value(FarmState::new()).unwrap();
    old.as_object_mut().unwrap().remove("cache");
    assert_eq!(
        serde_json::from_value::<FarmState>(old).unwrap(),
        FarmState::new()
    );
}
