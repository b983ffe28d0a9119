//! Reading a blob from disk as a stream of bounded chunks (never the whole blob in memory).

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use oci_client::errors::OciDistributionError;
use tokio::io::AsyncReadExt;

/// Yields `file` in pieces of exactly `chunk` bytes (the last may be shorter). oci-client sends
/// one PATCH per piece in chunked mode, so equal pieces keep `Content-Range`s regular.
pub(crate) fn file_chunks(
    file: tokio::fs::File,
    chunk: usize,
) -> impl Stream<Item = Result<Bytes, OciDistributionError>> + Send + 'static {
    let chunk = chunk.max(1);
    futures_util::stream::try_unfold(file, move |mut file| async move {
        let mut buf = BytesMut::zeroed(chunk);
        let mut filled = 0;
        while filled < chunk {
            let n = file.read(&mut buf[filled..]).await?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        if filled == 0 {
            return Ok(None);
        }
        buf.truncate(filled);
        Ok(Some((buf.freeze(), file)))
    })
}

/// Regroups a stream's items into pieces of `size` bytes (the last may be shorter).
pub(crate) fn coalesce<S>(
    inner: S,
    size: usize,
) -> impl Stream<Item = Result<Bytes, OciDistributionError>> + Send + 'static
where
    S: Stream<Item = Result<Bytes, OciDistributionError>> + Send + Unpin + 'static,
{
    let size = size.max(1);
    futures_util::stream::try_unfold(
        (inner, BytesMut::new(), false),
        move |(mut inner, mut buf, done)| async move {
            use futures_util::TryStreamExt;
            if done {
                return Ok(None);
            }
            while buf.len() < size {
                match inner.try_next().await? {
                    Some(piece) => buf.extend_from_slice(&piece),
                    None => {
                        if buf.is_empty() {
                            return Ok(None);
                        }
                        let out = buf.split().freeze();
                        return Ok(Some((out, (inner, buf, true))));
                    }
                }
            }
            let out = buf.split_to(size).freeze();
            Ok(Some((out, (inner, buf, false))))
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::TryStreamExt;

    #[tokio::test]
    async fn chunks_are_exact_and_complete() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b");
        let data: Vec<u8> = (0..10_001u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let f = tokio::fs::File::open(&path).await.unwrap();
        let parts: Vec<Bytes> = file_chunks(f, 4096).try_collect().await.unwrap();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            vec![4096, 4096, 1809]
        );
        assert_eq!(parts.concat(), data);
    }

    #[tokio::test]
    async fn coalesce_regroups_small_frames() {
        let frames: Vec<Result<Bytes, OciDistributionError>> =
            (0..10u8).map(|i| Ok(Bytes::from(vec![i; 3]))).collect();
        let parts: Vec<Bytes> = coalesce(futures_util::stream::iter(frames), 7)
            .try_collect()
            .await
            .unwrap();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            vec![7, 7, 7, 7, 2]
        );
        assert_eq!(parts.concat().len(), 30);
    }
}
