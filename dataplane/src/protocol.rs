//! The control lines of the wire protocol (see the crate docs): one JSON object per line.

use crate::error::RemoteErrorKind;
use serde::{Deserialize, Serialize};
use slipway_oci::Digest;
use std::io;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Longest control line accepted.
pub(crate) const MAX_LINE: u64 = 64 * 1024;
/// Most digests in one `missing` request (a digest is 71 bytes plus quotes and comma, so a
/// full batch stays well under [`MAX_LINE`]).
pub const MAX_BATCH: usize = 512;

/// A request, the first line of a stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(crate) enum Request {
    Has {
        digest: Digest,
    },
    Get {
        digest: Digest,
        offset: u64,
    },
    Put {
        digest: Digest,
        size: u64,
        /// Whether the server feeds the stored digest to its
        /// [`received`](crate::BlobServer::received) subscribers (default true).
        #[serde(default = "yes", skip_serializing_if = "is_true")]
        announce: bool,
    },
    /// Which of `digests` the server lacks (at most [`MAX_BATCH`]).
    Missing {
        digests: Vec<Digest>,
    },
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// An answer line from the server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub(crate) enum Response {
    Present {
        size: u64,
    },
    Absent,
    Sending {
        size: u64,
        offset: u64,
    },
    Ready,
    Stored {
        size: u64,
    },
    /// The digests of a `missing` request the server lacks, in request order.
    Missing {
        digests: Vec<Digest>,
    },
    Error {
        kind: RemoteErrorKind,
        message: String,
    },
}

impl Response {
    pub(crate) fn error(kind: RemoteErrorKind, message: impl Into<String>) -> Response {
        Response::Error {
            kind,
            message: message.into(),
        }
    }
}

/// Writes `value` as one JSON line.
pub(crate) async fn write_line<W, T>(w: &mut W, value: &T) -> io::Result<()>
where
    W: AsyncWrite + Unpin,
    T: Serialize,
{
    let mut line = serde_json::to_vec(value).map_err(io::Error::other)?;
    line.push(b'\n');
    w.write_all(&line).await
}

/// Reads one JSON line. `Ok(None)` at a clean end of stream before any byte.
pub(crate) async fn read_line<R, T>(r: &mut R) -> io::Result<Option<T>>
where
    R: AsyncBufRead + Unpin,
    T: for<'de> Deserialize<'de>,
{
    let mut line = Vec::new();
    let n = r.take(MAX_LINE).read_until(b'\n', &mut line).await?;
    if n == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        let why = if n as u64 >= MAX_LINE {
            format!("control line longer than {MAX_LINE} bytes")
        } else {
            "stream ended inside a control line".to_string()
        };
        return Err(io::Error::new(io::ErrorKind::InvalidData, why));
    }
    serde_json::from_slice(&line)
        .map(Some)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("bad control line: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lines_round_trip_and_match_the_documented_shape() {
        let d = Digest::of(b"x");
        let mut buf = Vec::new();
        write_line(
            &mut buf,
            &Request::Get {
                digest: d,
                offset: 7,
            },
        )
        .await
        .unwrap();
        assert_eq!(
            String::from_utf8(buf.clone()).unwrap(),
            format!("{{\"op\":\"get\",\"digest\":\"{d}\",\"offset\":7}}\n")
        );
        write_line(&mut buf, &Response::error(RemoteErrorKind::NotFound, "no"))
            .await
            .unwrap();
        let mut r = tokio::io::BufReader::new(buf.as_slice());
        let req: Request = read_line(&mut r).await.unwrap().unwrap();
        assert_eq!(
            req,
            Request::Get {
                digest: d,
                offset: 7
            }
        );
        let resp: Response = read_line(&mut r).await.unwrap().unwrap();
        assert_eq!(
            resp,
            Response::Error {
                kind: RemoteErrorKind::NotFound,
                message: "no".into()
            }
        );
        assert_eq!(read_line::<_, Response>(&mut r).await.unwrap(), None);
    }

    #[tokio::test]
    async fn put_announces_by_default_and_batches_fit_a_line() {
        let d = Digest::of(b"x");
        let mut buf = Vec::new();
        write_line(
            &mut buf,
            &Request::Put {
                digest: d,
                size: 1,
                announce: true,
            },
        )
        .await
        .unwrap();
        let line = String::from_utf8(buf).unwrap();
        assert_eq!(
            line,
            format!("{{\"op\":\"put\",\"digest\":\"{d}\",\"size\":1}}\n")
        );
        let quiet =
            format!("{{\"op\":\"put\",\"digest\":\"{d}\",\"size\":1,\"announce\":false}}\n");
        let mut r = tokio::io::BufReader::new(quiet.as_bytes());
        let req: Request = read_line(&mut r).await.unwrap().unwrap();
        assert!(matches!(
            req,
            Request::Put {
                announce: false,
                ..
            }
        ));

        let full = Request::Missing {
            digests: (0..MAX_BATCH as u32)
                .map(|i| Digest::of(&i.to_le_bytes()))
                .collect(),
        };
        let mut buf = Vec::new();
        write_line(&mut buf, &full).await.unwrap();
        assert!((buf.len() as u64) < MAX_LINE, "{} bytes", buf.len());
        let mut r = tokio::io::BufReader::new(buf.as_slice());
        assert_eq!(read_line::<_, Request>(&mut r).await.unwrap(), Some(full));
    }

    #[tokio::test]
    async fn bad_lines_are_errors() {
        for input in [
            &b"{\"op\":\"has\"}\n"[..],
            b"{\"op\":\"has\",\"digest\":\"sha256:zz\"}\n",
            b"{\"op\":\"has\"",
        ] {
            let mut r = tokio::io::BufReader::new(input);
            let got = read_line::<_, Request>(&mut r).await;
            assert!(got.is_err(), "{:?}", String::from_utf8_lossy(input));
        }
        let long = vec![b'a'; (MAX_LINE + 10) as usize];
        let mut r = tokio::io::BufReader::new(long.as_slice());
        assert!(read_line::<_, Request>(&mut r).await.is_err());
    }
}
