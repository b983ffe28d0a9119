//! Shared helpers of the solver's integration tests (root, real runc and overlayfs): a
//! test registry with a busybox base image, a worker that counts container runs, graph
//! builders and layer inspection.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use slipway_graph::{
    CopyAction, Digest, ExecOp, ExecOutput, FileAction, FileOp, Graph, GraphOutput, ImageConfig,
    ImageSource, Input, LocalContext, Mount, NetworkMode, Op, Platform, SecurityMode, SourceOp,
    Vertex,
};
use slipway_oci::image::{write_image, ImageInput, ImageOptions};
use slipway_oci::layer::{write_dir_layer, LayerOptions};
use slipway_oci::registry::{
    self, LocalBlob, PushOptions, PushPlan, RawManifest, RegistryClient, RegistryConfig,
};
use slipway_oci::ContentStore;
use slipway_progress::{ProgressEvent, VertexStatus};
use slipway_worker::executor::{
    BoxFuture, Executor, ExitStatus, ProcessIo, Result as ExecResult, RunSpec, Runc, RuncConfig,
};
use slipway_worker::{SolveRequest, Worker, WorkerConfig};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

#[allow(unused_imports)]
pub use super::common::{mounts_under, require_root, require_tool, rootfs};

/// A `docker-registry` on a free loopback port, killed on drop.
pub struct TestRegistry {
    child: Child,
    _dir: tempfile::TempDir,
    pub addr: String,
}

impl TestRegistry {
    pub fn start() -> TestRegistry {
        require_tool("docker-registry");
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let addr = format!("127.0.0.1:{port}");
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(&addr).is_err() {
            assert!(Instant::now() < deadline, "docker-registry did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        TestRegistry {
            child,
            _dir: dir,
            addr,
        }
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Pushes the busybox rootfs for `arch` (amd64, arm64) as `<registry>/base-<arch>:latest`
/// and returns the reference.
pub async fn push_base(registry: &TestRegistry, arch: &str) -> String {
    let root = rootfs(arch);
    push_dir(registry, &format!("base-{arch}:latest"), &root, arch).await
}

/// Pushes the directory `root` as a one-layer image `<registry>/<name_tag>` for `arch`.
pub async fn push_dir(registry: &TestRegistry, name_tag: &str, root: &Path, arch: &str) -> String {
    push_dir_and_tars(registry, name_tag, root, &[], arch).await
}

/// Pushes `root` as the first layer and each of `tars` (uncompressed layer tars) on top.
pub async fn push_dir_and_tars(
    registry: &TestRegistry,
    name_tag: &str,
    root: &Path,
    tars: &[Vec<u8>],
    arch: &str,
) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let store = ContentStore::open(tmp.path()).unwrap();
    let platform = Platform::linux(arch, "");
    let writer = store.writer().unwrap();
    let (writer, info) = write_dir_layer(root, writer, &LayerOptions::default()).unwrap();
    writer.commit(Some(&info.digest)).unwrap();
    let mut layers = vec![slipway_oci::image::ImageLayer {
        descriptor: info.descriptor(),
        diff_id: info.diff_id,
    }];
    let mut blobs = Vec::new();
    for tar in tars {
        let d = store.put_bytes(tar).unwrap();
        let media = slipway_oci::media::OCI_LAYER;
        layers.push(slipway_oci::image::ImageLayer {
            descriptor: oci_spec::image::Descriptor::new(
                media.into(),
                tar.len() as u64,
                d.to_oci(),
            ),
            diff_id: d,
        });
        blobs.push((media, d, tar.len() as u64));
    }
    let image = write_image(
        &store,
        &ImageInput {
            platform: platform.clone(),
            config: None,
            author: None,
            layers,
            history: vec![],
        },
        &ImageOptions::default(),
    )
    .unwrap();
    let manifest = store.read_blob(&image.manifest_digest).unwrap();
    let reference = format!("{}/{name_tag}", registry.addr);
    let repo = registry::parse_reference(&reference).unwrap();
    let blob = |media: &str, digest: &slipway_oci::Digest, size: u64| LocalBlob {
        descriptor: registry::Descriptor::new(media, &digest.to_string(), size),
        path: store.blob_path(digest),
    };
    let mut all = vec![
        blob(
            slipway_oci::media::OCI_CONFIG,
            &image.config_digest,
            image.config.size(),
        ),
        blob(&info.media_type, &info.digest, info.size),
    ];
    all.extend(blobs.iter().map(|(m, d, n)| blob(m, d, *n)));
    let plan = PushPlan {
        blobs: all,
        children: vec![],
        root: RawManifest::new(slipway_oci::media::OCI_MANIFEST, manifest),
    };
    let client = RegistryClient::new(RegistryConfig::default(), Default::default());
    client
        .push(
            &repo,
            &plan,
            &PushOptions {
                tags: vec![repo.tag().unwrap_or("latest").to_string()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    reference
}

/// Runc that counts the containers it starts.
pub struct Counting {
    pub inner: Runc,
    pub runs: Arc<AtomicUsize>,
}

impl Executor for Counting {
    fn run<'a>(
        &'a self,
        spec: RunSpec,
        io: ProcessIo,
        cancel: CancellationToken,
    ) -> BoxFuture<'a, ExecResult<ExitStatus>> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        self.inner.run(spec, io, cancel)
    }
}

pub struct TestWorker {
    pub worker: Worker,
    pub runs: Arc<AtomicUsize>,
    pub runc: Runc,
    pub cgroup: String,
}

/// A worker in `dir` (data dir `dir/data`, runc state `dir/runc`).
pub fn worker(dir: &Path, name: &str) -> TestWorker {
    worker_with(dir, name, |_| {})
}

/// As [`worker`], adjusting the config first.
pub fn worker_with(dir: &Path, name: &str, adjust: impl FnOnce(&mut WorkerConfig)) -> TestWorker {
    require_root();
    require_tool("runc");
    let cgroup = format!("/slipway-test-solve-{name}-{}", std::process::id());
    let runc = Runc::new(
        dir.join("runc"),
        RuncConfig {
            cgroup_parent: cgroup.clone(),
            ..Default::default()
        },
    )
    .unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let exec = Counting {
        inner: runc.clone(),
        runs: runs.clone(),
    };
    let mut config = WorkerConfig {
        data_dir: dir.join("data"),
        max_parallel: 4,
        ..Default::default()
    };
    adjust(&mut config);
    let worker = Worker::with_executor(config, Arc::new(exec)).unwrap();
    TestWorker {
        worker,
        runs,
        runc,
        cgroup,
    }
}

/// Runs a solve, collecting every progress event.
pub async fn solve(
    w: &Worker,
    req: SolveRequest,
) -> (
    Result<slipway_worker::SolveResult, slipway_worker::SolveError>,
    Vec<ProgressEvent>,
) {
    solve_with(w, req, CancellationToken::new()).await
}

pub async fn solve_with(
    w: &Worker,
    req: SolveRequest,
    cancel: CancellationToken,
) -> (
    Result<slipway_worker::SolveResult, slipway_worker::SolveError>,
    Vec<ProgressEvent>,
) {
    let (tx, mut rx) = mpsc::channel(1024);
    let collector = tokio::spawn(async move {
        let mut out = Vec::new();
        while let Some(e) = rx.recv().await {
            out.push(e);
        }
        out
    });
    let r = w.solve(req, tx, cancel).await;
    let events = collector.await.unwrap();
    (r, events)
}

/// The statuses reported for vertices named `name`.
pub fn statuses(events: &[ProgressEvent], name: &str) -> Vec<VertexStatus> {
    events
        .iter()
        .filter_map(|e| match e {
            ProgressEvent::Vertex(v) if v.name == name => Some(v.status.clone()),
            _ => None,
        })
        .collect()
}

/// The timestamp of `name`'s first event with a status matching `pred`.
pub fn time_of(events: &[ProgressEvent], name: &str, pred: impl Fn(&VertexStatus) -> bool) -> i64 {
    events
        .iter()
        .find_map(|e| match e {
            ProgressEvent::Vertex(v) if v.name == name && pred(&v.status) => Some(v.timestamp_ms),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no matching event for {name}: {events:#?}"))
}

/// All log output of vertex `vertex`.
pub fn logs(events: &[ProgressEvent], vertex: &Digest) -> String {
    let mut s = String::new();
    for e in events {
        if let ProgressEvent::Log {
            vertex: v, data, ..
        } = e
        {
            if v == vertex {
                s.push_str(&String::from_utf8_lossy(data));
            }
        }
    }
    s
}

pub fn host() -> Platform {
    Platform::host()
}

pub fn image(g: &mut Graph, reference: &str, p: &Platform) -> Digest {
    g.add(
        Vertex::new(
            Op::Source(SourceOp::Image(ImageSource {
                reference: reference.into(),
                resolved: None,
            })),
            vec![],
            p.clone(),
        )
        .with_name(format!("FROM {reference}")),
    )
}

pub fn exec_op(cmd: &str) -> ExecOp {
    ExecOp {
        args: vec!["/bin/sh".into(), "-c".into(), cmd.into()],
        env: vec!["PATH=/bin".into()],
        cwd: "/".into(),
        user: String::new(),
        network: NetworkMode::None,
        security: SecurityMode::Sandbox,
        rootfs: Some(0),
        output: ExecOutput::Rootfs,
        mounts: vec![],
        secret_env: vec![],
    }
}

/// `RUN cmd` on `on`, with `mounts` (their inputs after the rootfs: `extra`).
pub fn run_with(
    g: &mut Graph,
    on: &Digest,
    cmd: &str,
    mounts: Vec<Mount>,
    extra: Vec<Digest>,
    p: &Platform,
) -> Digest {
    let mut op = exec_op(cmd);
    op.mounts = mounts;
    let mut inputs = vec![Input::of(on.clone())];
    inputs.extend(extra.into_iter().map(Input::of));
    g.add(Vertex::new(Op::Exec(op), inputs, p.clone()).with_name(format!("RUN {cmd}")))
}

pub fn run(g: &mut Graph, on: &Digest, cmd: &str, p: &Platform) -> Digest {
    run_with(g, on, cmd, vec![], vec![], p)
}

pub fn local(g: &mut Graph, name: &str, p: &Platform) -> Digest {
    g.add(
        Vertex::new(
            Op::Source(SourceOp::Local(LocalContext {
                name: name.into(),
                ..Default::default()
            })),
            vec![],
            p.clone(),
        )
        .with_name(format!("load {name}")),
    )
}

/// `COPY src dest` from `from` onto `base`.
pub fn copy(
    g: &mut Graph,
    base: &Digest,
    from: &Digest,
    src: &str,
    dest: &str,
    p: &Platform,
) -> Digest {
    let mut c = CopyAction::new(Some(1), src, dest);
    c.create_dest_path = true;
    c.allow_wildcard = true;
    g.add(
        Vertex::new(
            Op::File(FileOp {
                base: Some(0),
                actions: vec![FileAction::Copy(c)],
            }),
            vec![Input::of(base.clone()), Input::of(from.clone())],
            p.clone(),
        )
        .with_name(format!("COPY {src} {dest}")),
    )
}

pub fn output(g: &mut Graph, root: &Digest, p: &Platform) {
    g.outputs.push(GraphOutput {
        platform: p.clone(),
        target: String::new(),
        root: Some(root.clone()),
        image: ImageConfig::default(),
    });
}

pub fn request(g: Graph) -> SolveRequest {
    SolveRequest {
        graph: g,
        ..Default::default()
    }
}

pub fn with_local(mut req: SolveRequest, name: &str, dir: &Path) -> SolveRequest {
    req.locals.insert(
        name.into(),
        slipway_worker::LocalSource {
            dir: dir.to_path_buf(),
            excludes: vec![],
        },
    );
    req
}

/// path → contents (files) of a layer blob in the store.
pub fn layer_files(
    store: &ContentStore,
    layer: &oci_spec::image::Descriptor,
) -> BTreeMap<String, Vec<u8>> {
    let d = slipway_oci::Digest::try_from(layer.digest()).unwrap();
    let blob = store.open_blob(&d).unwrap();
    let reader = slipway_oci::layer::decompress(blob).unwrap();
    let mut archive = tar::Archive::new(reader);
    let mut out = BTreeMap::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().display().to_string();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        out.insert(path, data);
    }
    out
}

/// Every file under `dir` whose bytes contain `needle`.
pub fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(|e| e.ok())
    {
        if entry.file_type().is_file() {
            if let Ok(bytes) = std::fs::read(entry.path()) {
                if bytes.windows(needle.len()).any(|w| w == needle) {
                    out.push(entry.path().to_path_buf());
                }
            }
        }
    }
    out
}

/// Every blob of the store, decompressed when it is a layer, containing `needle`.
pub fn blobs_containing(store: &ContentStore, needle: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    for d in store.list().unwrap() {
        let raw = store.read_blob(&d).unwrap();
        let mut plain = Vec::new();
        let _ =
            slipway_oci::layer::decompress(&raw[..]).and_then(|mut r| r.read_to_end(&mut plain));
        for bytes in [&raw, &plain] {
            if bytes.windows(needle.len()).any(|w| w == needle) {
                out.push(d.to_string());
                break;
            }
        }
    }
    out
}

/// An uncompressed layer tar of `(path, contents)` regular files (`contents` empty for
/// whiteout markers).
pub fn layer_tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in files {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        h.set_uid(0);
        h.set_gid(0);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        b.append_data(&mut h, path, *data).unwrap();
    }
    b.into_inner().unwrap()
}
