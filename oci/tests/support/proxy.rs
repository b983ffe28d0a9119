//! A tiny TCP-level proxy in front of the test registry that answers `503` to the first
//! `failures` connections (closing them), then pipes bytes to the registry.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub struct FlakyProxy {
    pub addr: String,
    failed: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl FlakyProxy {
    /// Proxies to `upstream` (`host:port`), failing the first `failures` connections with 503.
    pub async fn start(upstream: &str, failures: usize) -> FlakyProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr").to_string();
        let failed = Arc::new(AtomicUsize::new(0));
        let upstream = upstream.to_string();
        let counter = failed.clone();
        let task = tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let counter = counter.clone();
                tokio::spawn(async move {
                    let fail = counter
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                            (n < failures).then_some(n + 1)
                        })
                        .is_ok();
                    if fail {
                        answer_503(conn).await;
                    } else {
                        pipe(conn, &upstream).await;
                    }
                });
            }
        });
        FlakyProxy { addr, failed, task }
    }

    /// How many connections were answered with 503.
    pub fn failures_served(&self) -> usize {
        self.failed.load(Ordering::SeqCst)
    }
}

impl Drop for FlakyProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer_503(mut conn: TcpStream) {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
        match conn.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let _ = conn
        .write_all(
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )
        .await;
    let _ = conn.shutdown().await;
}

async fn pipe(mut conn: TcpStream, upstream: &str) {
    if let Ok(mut up) = TcpStream::connect(upstream).await {
        let _ = tokio::io::copy_bidirectional(&mut conn, &mut up).await;
    }
}
