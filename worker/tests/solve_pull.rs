//! Base image resolution in real solves (root only): a resolved tag is reused until the
//! request asks to pull again; digest-pinned references skip resolution.

mod common;
mod solve_support;

use slipway_graph::{Graph, ImageSource, Op, SourceOp, Vertex};
use slipway_progress::VertexStatus;
use solve_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tags_are_reresolved_only_with_pull() {
    let reg = TestRegistry::start();
    let tmp = tempfile::tempdir().unwrap();
    let v1 = tmp.path().join("v1");
    std::fs::create_dir(&v1).unwrap();
    std::fs::write(v1.join("version"), "1").unwrap();
    let reference = push_dir(&reg, "app:tag", &v1, "amd64").await;
    let w = worker(tmp.path(), "pull");
    let p = host();
    let build = |pull: bool, reference: &str| {
        let mut g = Graph::new();
        let from = image(&mut g, reference, &p);
        output(&mut g, &from, &p);
        let mut req = request(g);
        req.pull = pull;
        req
    };
    let version = |img: &slipway_worker::SolvedImage| {
        let files = layer_files(w.worker.store(), &img.layers[0]);
        String::from_utf8(files.get("version").cloned().unwrap_or_default()).unwrap()
    };
    let (r, events) = solve(&w.worker, build(false, &reference)).await;
    let first = r.unwrap().images.remove(0);
    assert_eq!(version(&first), "1");
    let name = format!("FROM {reference}");
    assert!(matches!(
        statuses(&events, &name).as_slice(),
        [VertexStatus::Started, VertexStatus::Done { .. }]
    ));

    let client = slipway_oci::registry::RegistryClient::new(Default::default(), Default::default());
    let v1_digest = client
        .resolve(&slipway_oci::registry::parse_reference(&reference).unwrap())
        .await
        .unwrap();

    // The tag moves.
    let v2 = tmp.path().join("v2");
    std::fs::create_dir(&v2).unwrap();
    std::fs::write(v2.join("version"), "2").unwrap();
    push_dir(&reg, "app:tag", &v2, "amd64").await;

    let (r, events) = solve(&w.worker, build(false, &reference)).await;
    assert_eq!(
        version(&r.unwrap().images[0]),
        "1",
        "without pull the resolved tag is kept"
    );
    assert_eq!(statuses(&events, &name), vec![VertexStatus::Cached]);

    let (r, _) = solve(&w.worker, build(true, &reference)).await;
    assert_eq!(version(&r.unwrap().images[0]), "2", "pull re-resolves");

    // A digest-pinned source gets exactly that manifest, whatever the tag says.
    let mut g = Graph::new();
    let from = g.add(
        Vertex::new(
            Op::Source(SourceOp::Image(ImageSource {
                reference: reference.clone(),
                resolved: Some(v1_digest.parse().unwrap()),
            })),
            vec![],
            p.clone(),
        )
        .with_name("FROM pinned"),
    );
    output(&mut g, &from, &p);
    let mut req = request(g);
    req.pull = true;
    let (r, _) = solve(&w.worker, req).await;
    assert_eq!(version(&r.unwrap().images[0]), "1");
}
