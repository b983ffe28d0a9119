//! A fixed event sequence and its expected renderings (golden tests).

use crate::event::{LogStream, ProgressEvent, VertexEvent, VertexStatus};
use slipway_graph::{Digest, Platform};

pub(crate) fn digest(name: &str) -> Digest {
    Digest::of_bytes(name.as_bytes())
}

fn vertex(name: &str, label: &str, status: VertexStatus, ts: i64) -> ProgressEvent {
    ProgressEvent::Vertex(VertexEvent {
        vertex: digest(name),
        name: label.to_string(),
        platform: Platform::linux("arm64", ""),
        worker: None,
        status,
        timestamp_ms: ts,
    })
}

fn log(name: &str, ts: i64, data: &str) -> ProgressEvent {
    ProgressEvent::Log {
        vertex: digest(name),
        stream: LogStream::Stdout,
        timestamp_ms: ts,
        data: data.as_bytes().to_vec(),
    }
}

const T0: i64 = 1_714_564_800_000;

pub(crate) fn sample_events() -> Vec<ProgressEvent> {
    vec![
        vertex(
            "base",
            "[linux/arm64 build 1/3] FROM docker.io/library/busybox",
            VertexStatus::Cached,
            T0,
        ),
        vertex(
            "make",
            "[linux/arm64 build 2/3] RUN make",
            VertexStatus::Started,
            T0 + 10,
        ),
        log("make", T0 + 542, "hello\nwor"),
        log("make", T0 + 600, "ld\n"),
        vertex(
            "copy",
            "[linux/arm64 build 3/3] COPY a b",
            VertexStatus::Started,
            T0 + 700,
        ),
        vertex(
            "make",
            "[linux/arm64 build 2/3] RUN make",
            VertexStatus::Done { duration_ms: 1234 },
            T0 + 1244,
        ),
        vertex(
            "copy",
            "[linux/arm64 build 3/3] COPY a b",
            VertexStatus::Error {
                message: "process \"/bin/sh -c false\" did not complete successfully: exit code: 1"
                    .into(),
            },
            T0 + 1300,
        ),
        vertex(
            "late",
            "[linux/arm64 build 4/3] RUN sleep 9",
            VertexStatus::Started,
            T0 + 1400,
        ),
        log("late", T0 + 2400, "partial"),
        vertex(
            "late",
            "[linux/arm64 build 4/3] RUN sleep 9",
            VertexStatus::Cancelled,
            T0 + 2500,
        ),
    ]
}

pub(crate) const SAMPLE_PLAIN: &str = "\
#1 [linux/arm64 build 1/3] FROM docker.io/library/busybox
#1 CACHED

#2 [linux/arm64 build 2/3] RUN make
#2 0.532 hello
#2 0.590 world

#3 [linux/arm64 build 3/3] COPY a b

#2 DONE 1.2s

#3 ERROR: process \"/bin/sh -c false\" did not complete successfully: exit code: 1

#4 [linux/arm64 build 4/3] RUN sleep 9
#4 1.000 partial
#4 CANCELED
";
