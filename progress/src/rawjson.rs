//! `--progress=rawjson`: one JSON object per event, in the shape of BuildKit's control API
//! `StatusResponse` (`vertexes`, `statuses`, `logs`, `warnings`; empty fields omitted as
//! Go's `omitempty` does; log data base64; times RFC 3339 with nanoseconds).

use crate::event::{LogStream, ProgressEvent, VertexEvent, VertexStatus};
use crate::time::rfc3339_nano;
use base64::Engine as _;
use serde::Serialize;
use slipway_graph::Digest;
use std::collections::HashMap;
use std::io::{self, Write};

#[derive(Serialize, Default)]
struct StatusResponse {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    vertexes: Vec<Vertex>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    statuses: Vec<serde_json::Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    logs: Vec<Log>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<Warning>,
}

#[derive(Serialize)]
struct Vertex {
    digest: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    inputs: Vec<String>,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    started: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    completed: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    cached: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    error: String,
}

#[derive(Serialize)]
struct Log {
    vertex: String,
    /// 1 = stdout, 2 = stderr (file descriptor numbers, as BuildKit).
    stream: u8,
    data: String,
    timestamp: String,
}

#[derive(Serialize)]
struct Warning {
    #[serde(skip_serializing_if = "String::is_empty")]
    vertex: String,
    level: u8,
    short: String,
}

/// Writes one `StatusResponse` JSON object per line to `out`.
pub struct RawJsonRenderer<W: Write> {
    out: W,
    /// Start time of each vertex, repeated in its later updates as BuildKit does.
    started: HashMap<Digest, i64>,
    /// Each vertex's inputs, from the `Graph` event.
    inputs: HashMap<Digest, Vec<String>>,
}

impl<W: Write> RawJsonRenderer<W> {
    pub fn new(out: W) -> Self {
        RawJsonRenderer {
            out,
            started: HashMap::new(),
            inputs: HashMap::new(),
        }
    }

    pub fn event(&mut self, event: &ProgressEvent) -> io::Result<()> {
        if let ProgressEvent::Graph { vertices } = event {
            for v in vertices {
                let inputs = v.inputs.iter().map(|d| d.to_string()).collect();
                self.inputs.insert(v.vertex.clone(), inputs);
            }
            return Ok(());
        }
        let response = match event {
            ProgressEvent::Graph { .. } => return Ok(()),
            ProgressEvent::Vertex(v) => StatusResponse {
                vertexes: vec![self.vertex(v)],
                ..StatusResponse::default()
            },
            ProgressEvent::Log {
                vertex,
                stream,
                timestamp_ms,
                data,
            } => StatusResponse {
                logs: vec![Log {
                    vertex: vertex.to_string(),
                    stream: match stream {
                        LogStream::Stdout => 1,
                        LogStream::Stderr => 2,
                    },
                    data: base64::engine::general_purpose::STANDARD.encode(data),
                    timestamp: rfc3339_nano(*timestamp_ms),
                }],
                ..StatusResponse::default()
            },
            ProgressEvent::Warning { vertex, message } => StatusResponse {
                warnings: vec![Warning {
                    vertex: vertex.as_ref().map(|v| v.to_string()).unwrap_or_default(),
                    level: 1,
                    short: base64::engine::general_purpose::STANDARD.encode(message),
                }],
                ..StatusResponse::default()
            },
        };
        serde_json::to_writer(&mut self.out, &response).map_err(io::Error::other)?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }

    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }

    fn vertex(&mut self, v: &VertexEvent) -> Vertex {
        let ts = v.timestamp_ms;
        let started = *self.started.entry(v.vertex.clone()).or_insert(ts);
        let (completed, cached, error) = match &v.status {
            VertexStatus::Started => (None, false, String::new()),
            VertexStatus::Cached => (Some(ts), true, String::new()),
            VertexStatus::Done { .. } => (Some(ts), false, String::new()),
            VertexStatus::Error { message } => (Some(ts), false, message.clone()),
            VertexStatus::Cancelled => (Some(ts), false, "context canceled".to_string()),
        };
        Vertex {
            digest: v.vertex.to_string(),
            inputs: self.inputs.get(&v.vertex).cloned().unwrap_or_default(),
            name: v.name.clone(),
            started: Some(rfc3339_nano(started)),
            completed: completed.map(rfc3339_nano),
            cached,
            error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::sample_events;

    #[test]
    fn golden_rawjson_output() {
        let mut r = RawJsonRenderer::new(Vec::new());
        for e in sample_events().iter().take(4) {
            r.event(e).unwrap();
        }
        let out = String::from_utf8(r.finish().unwrap()).unwrap();
        let base = crate::testdata::digest("base");
        let make = crate::testdata::digest("make");
        let expected = format!(
            concat!(
                "{{\"vertexes\":[{{\"digest\":\"{base}\",\"name\":\"[linux/arm64 build 1/3] FROM docker.io/library/busybox\",",
                "\"started\":\"2024-05-01T12:00:00Z\",\"completed\":\"2024-05-01T12:00:00Z\",\"cached\":true}}]}}\n",
                "{{\"vertexes\":[{{\"digest\":\"{make}\",\"name\":\"[linux/arm64 build 2/3] RUN make\",",
                "\"started\":\"2024-05-01T12:00:00.01Z\"}}]}}\n",
                "{{\"logs\":[{{\"vertex\":\"{make}\",\"stream\":1,\"data\":\"aGVsbG8Kd29y\",\"timestamp\":\"2024-05-01T12:00:00.542Z\"}}]}}\n",
                "{{\"logs\":[{{\"vertex\":\"{make}\",\"stream\":1,\"data\":\"bGQK\",\"timestamp\":\"2024-05-01T12:00:00.6Z\"}}]}}\n",
            ),
            base = base,
            make = make
        );
        assert_eq!(out, expected);
    }

    #[test]
    fn later_updates_keep_the_start_time_and_errors() {
        let mut r = RawJsonRenderer::new(Vec::new());
        for e in sample_events() {
            r.event(&e).unwrap();
        }
        let out = String::from_utf8(r.finish().unwrap()).unwrap();
        let lines: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 10);
        let done = &lines[5]["vertexes"][0];
        assert_eq!(done["started"], "2024-05-01T12:00:00.01Z");
        assert_eq!(done["completed"], "2024-05-01T12:00:01.244Z");
        let err = &lines[6]["vertexes"][0];
        assert!(err["error"].as_str().unwrap().contains("exit code: 1"));
        assert_eq!(lines[9]["vertexes"][0]["error"], "context canceled");
    }

    #[test]
    fn graph_event_fills_inputs() {
        use crate::event::VertexInputs;
        let make = crate::testdata::digest("make");
        let base = crate::testdata::digest("base");
        let mut r = RawJsonRenderer::new(Vec::new());
        r.event(&ProgressEvent::Graph {
            vertices: vec![VertexInputs {
                vertex: make.clone(),
                inputs: vec![base.clone()],
            }],
        })
        .unwrap();
        for e in sample_events().iter().take(2) {
            r.event(e).unwrap();
        }
        let out = String::from_utf8(r.finish().unwrap()).unwrap();
        let lines: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2, "the graph event prints nothing");
        assert!(lines[0]["vertexes"][0].get("inputs").is_none());
        assert_eq!(lines[1]["vertexes"][0]["inputs"][0], base.to_string());
    }
}
