//! A bearer-token server for `docker-registry`'s `auth: token` mode: it checks HTTP basic
//! credentials and answers `{"token": <ES256 JWT>}` granting the requested scope, signed by a
//! self-signed certificate (made with the `openssl` CLI) that the registry trusts via `x5c`.

use base64::Engine as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub const SERVICE: &str = "slipway-test-registry";
pub const ISSUER: &str = "slipway-test-issuer";

pub struct TokenServer {
    pub realm: String,
    pub cert_path: PathBuf,
    issued: Arc<AtomicUsize>,
    refused: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

struct Signer {
    key: ring::signature::EcdsaKeyPair,
    cert_der_b64: String,
}

impl TokenServer {
    /// Starts on a free loopback port, accepting only `user:pass`.
    pub async fn start(dir: &Path, user: &str, pass: &str) -> TokenServer {
        let key_pem = dir.join("token-key.pem");
        let cert_path = dir.join("token-cert.pem");
        let key_der = dir.join("token-key.p8");
        run(Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=slipway-token",
            ])
            .arg("-keyout")
            .arg(&key_pem)
            .arg("-out")
            .arg(&cert_path));
        run(Command::new("openssl")
            .args(["pkcs8", "-topk8", "-nocrypt", "-outform", "DER"])
            .arg("-in")
            .arg(&key_pem)
            .arg("-out")
            .arg(&key_der));
        let pkcs8 = std::fs::read(&key_der).expect("read key");
        let rng = ring::rand::SystemRandom::new();
        let key = ring::signature::EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &pkcs8,
            &rng,
        )
        .expect("parse key");
        let pem = std::fs::read_to_string(&cert_path).expect("read cert");
        let cert_der_b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let signer = Arc::new(Signer { key, cert_der_b64 });

        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind token server");
        let realm = format!("http://{}/token", listener.local_addr().expect("addr"));
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
        );
        let issued = Arc::new(AtomicUsize::new(0));
        let refused = Arc::new(AtomicUsize::new(0));
        let (iss, refs) = (issued.clone(), refused.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let (signer, expected, iss, refs) =
                    (signer.clone(), expected.clone(), iss.clone(), refs.clone());
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
                    let authorized = head.lines().any(|l| {
                        l.split_once(':').is_some_and(|(k, v)| {
                            k.eq_ignore_ascii_case("authorization") && v.trim() == expected
                        })
                    });
                    let response = if authorized {
                        iss.fetch_add(1, Ordering::SeqCst);
                        let scope = query_param(&head, "scope").unwrap_or_default();
                        let body =
                            format!(r#"{{"token":"{}","expires_in":300}}"#, signer.token(&scope));
                        format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
                    } else {
                        refs.fetch_add(1, Ordering::SeqCst);
                        "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string()
                    };
                    let _ = conn.write_all(response.as_bytes()).await;
                    let _ = conn.shutdown().await;
                });
            }
        });
        TokenServer {
            realm,
            cert_path,
            issued,
            refused,
            task,
        }
    }

    pub fn issued(&self) -> usize {
        self.issued.load(Ordering::SeqCst)
    }

    pub fn refused(&self) -> usize {
        self.refused.load(Ordering::SeqCst)
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Signer {
    /// A JWT granting `scope` (`repository:NAME:ACTIONS`).
    fn token(&self, scope: &str) -> String {
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let mut parts = scope.splitn(3, ':');
        let (kind, name, actions) = (
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
        );
        let actions: Vec<&str> = actions.split(',').filter(|a| !a.is_empty()).collect();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let header = serde_json::json!({"typ": "JWT", "alg": "ES256", "x5c": [self.cert_der_b64]});
        let claims = serde_json::json!({
            "iss": ISSUER, "sub": "slipway", "aud": SERVICE,
            "exp": now + 300, "nbf": now - 10, "iat": now - 10, "jti": format!("t{now}"),
            "access": [{"type": kind, "name": name, "actions": actions}],
        });
        let signing_input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let rng = ring::rand::SystemRandom::new();
        let sig = self.key.sign(&rng, signing_input.as_bytes()).expect("sign");
        format!("{signing_input}.{}", b64(sig.as_ref()))
    }
}

fn query_param(head: &str, key: &str) -> Option<String> {
    let target = head.lines().next()?.split_whitespace().nth(1)?;
    let query = target.split_once('?')?.1;
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .expect("run openssl (install it with the project setup)");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
