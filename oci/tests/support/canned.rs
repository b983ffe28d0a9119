//! A fake registry answering from a fixed table (path suffix → status, headers, body), for
//! tests of hostile or broken answers that a real registry would never give.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Clone)]
pub struct Canned {
    pub path_suffix: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

pub struct CannedRegistry {
    pub addr: String,
    task: tokio::task::JoinHandle<()>,
}

impl CannedRegistry {
    /// Serves `/v2/` with 200 and each path ending in a `path_suffix` with its answer; 404 else.
    pub async fn start(answers: Vec<Canned>) -> CannedRegistry {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let task = tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let answers = answers.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match conn.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&head).into_owned();
                    let mut first = head.split_whitespace();
                    let method = first.next().unwrap_or("").to_string();
                    let path = first
                        .next()
                        .unwrap_or("")
                        .split('?')
                        .next()
                        .unwrap_or("")
                        .to_string();
                    let answer = if path == "/v2/" {
                        Canned {
                            path_suffix: String::new(),
                            status: 200,
                            headers: vec![],
                            body: b"{}".to_vec(),
                        }
                    } else {
                        answers
                            .iter()
                            .find(|a| path.ends_with(&a.path_suffix))
                            .cloned()
                            .unwrap_or(Canned {
                                path_suffix: String::new(),
                                status: 404,
                                headers: vec![],
                                body: br#"{"errors":[{"code":"NOT_FOUND","message":"no"}]}"#
                                    .to_vec(),
                            })
                    };
                    let mut out = format!(
                        "HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                        answer.status,
                        answer.body.len()
                    );
                    for (k, v) in &answer.headers {
                        out.push_str(&format!("{k}: {v}\r\n"));
                    }
                    out.push_str("\r\n");
                    let mut bytes = out.into_bytes();
                    if method != "HEAD" {
                        bytes.extend_from_slice(&answer.body);
                    }
                    let _ = conn.write_all(&bytes).await;
                    let _ = conn.shutdown().await;
                });
            }
        });
        CannedRegistry { addr, task }
    }
}

impl Drop for CannedRegistry {
    fn drop(&mut self) {
        self.task.abort();
    }
}
