//! Splitting a process's output into lines for progress and error messages.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;

/// Longest piece sent as one chunk when no newline comes.
const MAX_CHUNK: usize = 16 * 1024;
/// Lines kept for the error message of a failed process.
pub(crate) const TAIL_LINES: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputStream {
    Stdout,
    Stderr,
}

/// A line (with its `\n`) or a piece of a long or unterminated one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputChunk {
    pub stream: OutputStream,
    pub data: Vec<u8>,
}

/// The last lines of both streams, in arrival order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tail(Arc<Mutex<VecDeque<String>>>);

impl Tail {
    fn push(&self, data: &[u8]) {
        let line = String::from_utf8_lossy(data)
            .trim_end_matches(['\n', '\r'])
            .to_string();
        if let Ok(mut q) = self.0.lock() {
            if q.len() == TAIL_LINES {
                q.pop_front();
            }
            q.push_back(line);
        }
    }

    pub(crate) fn lines(&self) -> Vec<String> {
        self.0
            .lock()
            .map(|q| q.iter().cloned().collect())
            .unwrap_or_default()
    }
}

/// Reads `reader` to its end, sending chunks to `sink` (a closed sink is ignored: the
/// output is still drained so the process never blocks on a full pipe).
pub(crate) async fn pump(
    mut reader: impl AsyncRead + Unpin,
    stream: OutputStream,
    sink: Option<mpsc::Sender<OutputChunk>>,
    tail: Tail,
) {
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 8192];
    let mut sink = sink;
    loop {
        let n = match reader.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        pending.extend_from_slice(buf.get(..n).unwrap_or_default());
        for chunk in take_chunks(&mut pending) {
            emit(&mut sink, stream, &tail, chunk).await;
        }
    }
    if !pending.is_empty() {
        emit(&mut sink, stream, &tail, std::mem::take(&mut pending)).await;
    }
}

async fn emit(
    sink: &mut Option<mpsc::Sender<OutputChunk>>,
    stream: OutputStream,
    tail: &Tail,
    data: Vec<u8>,
) {
    tail.push(&data);
    if let Some(s) = sink {
        if s.send(OutputChunk { stream, data }).await.is_err() {
            *sink = None;
        }
    }
}

/// Removes complete lines (and over-long pieces) from the front of `pending`.
fn take_chunks(pending: &mut Vec<u8>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        match pending.iter().position(|&b| b == b'\n') {
            Some(i) if i < MAX_CHUNK => out.push(pending.drain(..=i).collect()),
            _ if pending.len() >= MAX_CHUNK => out.push(pending.drain(..MAX_CHUNK).collect()),
            _ => return out,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lines_chunks_and_tail() {
        let mut input = Vec::new();
        for i in 0..15 {
            input.extend_from_slice(format!("line {i}\n").as_bytes());
        }
        input.extend(std::iter::repeat_n(b'x', MAX_CHUNK + 5));
        input.extend_from_slice(b"\nlast");
        let (tx, mut rx) = mpsc::channel(100);
        let tail = Tail::default();
        pump(&input[..], OutputStream::Stderr, Some(tx), tail.clone()).await;
        let mut got = Vec::new();
        while let Ok(c) = rx.try_recv() {
            got.push(c.data);
        }
        assert_eq!(got.len(), 15 + 3);
        assert_eq!(got[0], b"line 0\n");
        assert_eq!(got[15].len(), MAX_CHUNK);
        assert_eq!(got[16], b"xxxxx\n");
        assert_eq!(got[17], b"last");
        let t = tail.lines();
        assert_eq!(t.len(), TAIL_LINES);
        assert_eq!(t.last().map(String::as_str), Some("last"));
        assert_eq!(t.first().map(String::as_str), Some("line 8"));
    }
}
