//! Layer compression: detection by magic bytes, decompressing readers, compressing writers.

use super::pgzip::ParallelGzip;
use std::io::{self, BufReader, Read, Write};

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Compression {
    None,
    #[default]
    Gzip,
    Zstd,
}

/// Compression settings for producing a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompressionOptions {
    pub kind: Compression,
    /// gzip 0..=9 (default 6 as Go's and pigz's), zstd 1..=22 (default 3). `None` = the default.
    pub level: Option<i32>,
    /// Compression threads; 0 = one per available CPU.
    pub threads: usize,
}

impl Default for CompressionOptions {
    fn default() -> Self {
        CompressionOptions {
            kind: Compression::Gzip,
            level: None,
            threads: 0,
        }
    }
}

impl CompressionOptions {
    pub fn gzip() -> Self {
        CompressionOptions {
            kind: Compression::Gzip,
            ..Default::default()
        }
    }

    pub fn zstd() -> Self {
        CompressionOptions {
            kind: Compression::Zstd,
            ..Default::default()
        }
    }

    pub fn uncompressed() -> Self {
        CompressionOptions {
            kind: Compression::None,
            ..Default::default()
        }
    }

    fn threads(&self) -> usize {
        if self.threads > 0 {
            self.threads
        } else {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        }
    }
}

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];

/// Detects the compression of a stream from its first bytes.
pub fn detect(head: &[u8]) -> Compression {
    if head.starts_with(GZIP_MAGIC) {
        Compression::Gzip
    } else if head.starts_with(ZSTD_MAGIC) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// Wraps `reader` in the decompressor its magic bytes call for.
pub fn decompress<'a, R: Read + 'a>(mut reader: R) -> io::Result<Box<dyn Read + 'a>> {
    let mut head = [0u8; 4];
    let mut n = 0;
    while n < head.len() {
        match reader.read(head.get_mut(n..).unwrap_or_default()) {
            Ok(0) => break,
            Ok(got) => n += got,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let head = head.get(..n).unwrap_or_default().to_vec();
    let kind = detect(&head);
    let buffered = BufReader::with_capacity(256 * 1024, io::Cursor::new(head).chain(reader));
    Ok(match kind {
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(buffered)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(buffered)?),
        Compression::None => Box::new(buffered),
    })
}

/// A compressing writer of any supported kind.
pub enum Compressor<W: Write + Send + 'static> {
    None(W),
    Gzip(ParallelGzip<W>),
    Zstd(zstd::stream::write::Encoder<'static, W>),
}

impl<W: Write + Send + 'static> Compressor<W> {
    pub fn new(inner: W, opts: &CompressionOptions) -> io::Result<Self> {
        Ok(match opts.kind {
            Compression::None => Compressor::None(inner),
            Compression::Gzip => {
                let level = opts.level.unwrap_or(6).clamp(0, 9) as u32;
                Compressor::Gzip(ParallelGzip::new(inner, level, opts.threads()))
            }
            Compression::Zstd => {
                let level = opts.level.unwrap_or(3).clamp(1, 22);
                let mut enc = zstd::stream::write::Encoder::new(inner, level)?;
                let threads = opts.threads();
                if threads > 1 {
                    enc.multithread(threads as u32)?;
                }
                Compressor::Zstd(enc)
            }
        })
    }

    /// Ends the stream and returns the inner writer.
    pub fn finish(self) -> io::Result<W> {
        match self {
            Compressor::None(mut w) => {
                w.flush()?;
                Ok(w)
            }
            Compressor::Gzip(g) => g.finish(),
            Compressor::Zstd(z) => z.finish(),
        }
    }
}

impl<W: Write + Send + 'static> Write for Compressor<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Compressor::None(w) => w.write(buf),
            Compressor::Gzip(g) => g.write(buf),
            Compressor::Zstd(z) => z.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Compressor::None(w) => w.flush(),
            Compressor::Gzip(g) => g.flush(),
            Compressor::Zstd(z) => z.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(opts: CompressionOptions) {
        let data: Vec<u8> = (0..300_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let mut c = Compressor::new(Vec::new(), &opts).unwrap();
        c.write_all(&data).unwrap();
        let blob = c.finish().unwrap();
        assert_eq!(detect(&blob), opts.kind);
        let mut out = Vec::new();
        decompress(&blob[..])
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn all_kinds_round_trip() {
        round_trip(CompressionOptions::gzip());
        round_trip(CompressionOptions::zstd());
        round_trip(CompressionOptions::uncompressed());
        round_trip(CompressionOptions {
            threads: 1,
            ..CompressionOptions::zstd()
        });
    }

    struct OneByte<'a>(&'a [u8]);

    impl Read for OneByte<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match (self.0.split_first(), buf.first_mut()) {
                (Some((b, rest)), Some(slot)) => {
                    *slot = *b;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    #[test]
    fn detection_survives_short_reads() {
        let mut c = Compressor::new(Vec::new(), &CompressionOptions::zstd()).unwrap();
        c.write_all(b"layer bytes").unwrap();
        let blob = c.finish().unwrap();
        let mut out = Vec::new();
        decompress(OneByte(&blob))
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, b"layer bytes");
    }
}
