//! Deterministic layer tars: entries in the order given (producers sort them), ustar headers with
//! PAX records for long names, big ids and xattrs, numeric uid/gid only (no user/group names),
//! no atime/ctime, mtimes in whole seconds clamped to SOURCE_DATE_EPOCH when one is given.
//! The diffID (uncompressed) and the blob digest + size (compressed) come out of the same pass.

use super::compression::{Compression, CompressionOptions, Compressor};
use super::entry::{EntryKind, FsEntry};
use super::LayerError;
use crate::digest::{Digest, Digester, HashingWriter};
use crate::media::MediaTypes;
use std::collections::HashMap;
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// How to produce a layer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayerOptions {
    pub compression: CompressionOptions,
    /// Clamp every mtime to this (seconds since the epoch), as BuildKit's rewrite-timestamp.
    pub source_date_epoch: Option<i64>,
    pub media_types: MediaTypes,
}

/// The result of producing a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerInfo {
    /// Digest of the uncompressed tar (goes into the config's rootfs.diff_ids).
    pub diff_id: Digest,
    pub uncompressed_size: u64,
    /// Digest and size of the blob as written (compressed).
    pub digest: Digest,
    pub size: u64,
    pub media_type: String,
}

impl LayerInfo {
    pub fn descriptor(&self) -> oci_spec::image::Descriptor {
        oci_spec::image::Descriptor::new(
            self.media_type.as_str().into(),
            self.size,
            self.digest.to_oci(),
        )
    }
}

type Chain<W> = HashingWriter<BufWriter<Compressor<BlobHash<W>>>>;

/// Hashes the blob as written, unless it is the uncompressed tar itself, whose digest is the
/// diffID already computed in front of the compressor (hashing it twice would cost a second
/// sha256 pass over the whole layer).
struct BlobHash<W> {
    inner: W,
    digester: Option<Digester>,
    written: u64,
}

impl<W: Write> Write for BlobHash<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        if let Some(d) = self.digester.as_mut() {
            d.update(buf.get(..n).unwrap_or_default());
        }
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes `entries` as a layer into `out`; returns `out` and the layer's digests.
pub fn write_layer<W, I>(
    entries: I,
    out: W,
    opts: &LayerOptions,
) -> Result<(W, LayerInfo), LayerError>
where
    W: Write + Send + 'static,
    I: IntoIterator<Item = FsEntry>,
{
    let media_type = opts.media_types.layer(opts.compression.kind)?.to_string();
    let io = |op: &'static str| {
        move |source| LayerError::Io {
            path: PathBuf::new(),
            op,
            source,
        }
    };
    let blob = BlobHash {
        inner: out,
        digester: (opts.compression.kind != Compression::None).then(Digester::new),
        written: 0,
    };
    let compressor = Compressor::new(blob, &opts.compression).map_err(io("start compressor"))?;
    let chain: Chain<W> = HashingWriter::new(BufWriter::with_capacity(256 * 1024, compressor));
    let mut tw = TarWriter {
        builder: tar::Builder::new(chain),
        epoch: opts.source_date_epoch,
        links: HashMap::new(),
        buf: Vec::new(),
    };
    for e in entries {
        tw.append(e)?;
    }
    let chain = tw.builder.into_inner().map_err(io("finish tar"))?;
    let (buffered, diff_id, uncompressed_size) = chain.finish();
    let compressor = buffered.into_inner().map_err(|e| LayerError::Io {
        path: PathBuf::new(),
        op: "flush",
        source: e.into_error(),
    })?;
    let blob = compressor.finish().map_err(io("finish compression"))?;
    let size = blob.written;
    let digest = match blob.digester {
        Some(d) => d.finish().0,
        None => diff_id,
    };
    let out = blob.inner;
    Ok((
        out,
        LayerInfo {
            diff_id,
            uncompressed_size,
            digest,
            size,
            media_type,
        },
    ))
}

struct TarWriter<W: Write> {
    builder: tar::Builder<W>,
    epoch: Option<i64>,
    /// First path written for each multiply-linked inode.
    links: HashMap<(u64, u64), Vec<u8>>,
    /// Reused read buffer for file contents.
    buf: Vec<u8>,
}

impl<W: Write> TarWriter<W> {
    fn append(&mut self, mut e: FsEntry) -> Result<(), LayerError> {
        if let (Some(ino), EntryKind::File { .. }) = (e.inode, &e.kind) {
            match self.links.get(&ino) {
                Some(first) => {
                    e.kind = EntryKind::Hardlink {
                        target: first.clone(),
                    }
                }
                None => {
                    self.links.insert(ino, e.path.clone());
                }
            }
        }
        let shown = PathBuf::from(String::from_utf8_lossy(&e.path).into_owned());
        let io = |op: &'static str| {
            let path = shown.clone();
            move |source| LayerError::Io { path, op, source }
        };
        let mut h = tar::Header::new_ustar();
        let mut pax: Vec<(String, Vec<u8>)> = Vec::new();
        let mut name = e.path.clone();
        if e.kind == EntryKind::Dir {
            name.push(b'/');
        }
        set_name(&mut h, &name, &mut pax);
        let (etype, size) = match &e.kind {
            EntryKind::Dir => (tar::EntryType::Directory, 0),
            EntryKind::File { size, .. } => (tar::EntryType::Regular, *size),
            EntryKind::Whiteout => (tar::EntryType::Regular, 0),
            EntryKind::Symlink { target } => {
                set_link(&mut h, target, &mut pax);
                (tar::EntryType::Symlink, 0)
            }
            EntryKind::Hardlink { target } => {
                set_link(&mut h, target, &mut pax);
                (tar::EntryType::Link, 0)
            }
            EntryKind::Char { major, minor } | EntryKind::Block { major, minor } => {
                h.set_device_major(*major).map_err(io("device major"))?;
                h.set_device_minor(*minor).map_err(io("device minor"))?;
                let t = if matches!(e.kind, EntryKind::Char { .. }) {
                    tar::EntryType::Char
                } else {
                    tar::EntryType::Block
                };
                (t, 0)
            }
            EntryKind::Fifo => (tar::EntryType::Fifo, 0),
        };
        h.set_entry_type(etype);
        h.set_size(size);
        h.set_mode(e.mode & 0o7777);
        set_id(&mut pax, "uid", e.uid, |v| h.set_uid(v));
        set_id(&mut pax, "gid", e.gid, |v| h.set_gid(v));
        let mtime = match self.epoch {
            Some(epoch) if e.mtime > epoch => epoch,
            _ => e.mtime,
        };
        h.set_mtime(mtime.max(0) as u64);
        for (k, v) in &e.xattrs {
            pax.push((format!("SCHILY.xattr.{k}"), v.clone()));
        }
        if !pax.is_empty() {
            let data = pax_records(&pax);
            let mut ph = tar::Header::new_ustar();
            let mut pname = b"PaxHeaders.0/".to_vec();
            pname.extend(
                e.path
                    .rsplit(|b| *b == b'/')
                    .next()
                    .unwrap_or_default()
                    .iter()
                    .take(80),
            );
            raw_name(&mut ph, &pname);
            ph.set_entry_type(tar::EntryType::XHeader);
            ph.set_size(data.len() as u64);
            ph.set_mode(0o644);
            ph.set_mtime(mtime.max(0) as u64);
            ph.set_cksum();
            self.builder
                .append(&ph, data.as_slice())
                .map_err(io("write pax header"))?;
        }
        h.set_cksum();
        match &e.kind {
            EntryKind::File { size, source } => {
                let f = std::fs::File::open(source).map_err(io("open"))?;
                // The header, the content and the padding are written here rather than by
                // `tar::Builder::append`, whose `io::copy` moves 8 KiB per read and write: the
                // content goes through in `COPY_BUF` pieces (fewer syscalls, fewer and larger
                // writes into the hasher and the compressor). The bytes are the same.
                let out = self.builder.get_mut();
                out.write_all(h.as_bytes()).map_err(io("write header"))?;
                copy_exact(f, *size, out, &mut self.buf).map_err(|source| {
                    if source.kind() == io::ErrorKind::UnexpectedEof {
                        LayerError::FileChanged {
                            path: shown.clone(),
                        }
                    } else {
                        LayerError::Io {
                            path: shown.clone(),
                            op: "write file",
                            source,
                        }
                    }
                })?;
                let pad = (BLOCK - (*size % BLOCK as u64) as usize) % BLOCK;
                out.write_all(ZEROS.get(..pad).unwrap_or_default())
                    .map_err(io("write padding"))
            }
            _ => self
                .builder
                .append(&h, io::empty())
                .map_err(io("write entry")),
        }
    }
}

fn set_name(h: &mut tar::Header, name: &[u8], pax: &mut Vec<(String, Vec<u8>)>) {
    let path = std::path::Path::new(std::ffi::OsStr::from_bytes(name));
    if name.len() > 100 || h.set_path(path).is_err() {
        pax.push(("path".into(), name.to_vec()));
        raw_name(h, name);
    }
}

fn set_link(h: &mut tar::Header, target: &[u8], pax: &mut Vec<(String, Vec<u8>)>) {
    if target.len() > 100 || h.set_link_name_literal(target).is_err() {
        pax.push(("linkpath".into(), target.to_vec()));
        if let Some(old) = h.as_ustar_mut() {
            let n = target.len().min(old.linkname.len());
            old.linkname[..n].copy_from_slice(&target[..n]);
        }
    }
}

/// Writes the first 100 bytes of `name` into the header's name field (the PAX `path` record
/// carries the full name).
fn raw_name(h: &mut tar::Header, name: &[u8]) {
    let field = &mut h.as_old_mut().name;
    field.fill(0);
    let n = name.len().min(field.len());
    field[..n].copy_from_slice(&name[..n]);
}

const USTAR_ID_MAX: u32 = 0o7777777;

fn set_id(pax: &mut Vec<(String, Vec<u8>)>, key: &str, v: u32, mut set: impl FnMut(u64)) {
    if v > USTAR_ID_MAX {
        pax.push((key.into(), v.to_string().into_bytes()));
        set(0);
    } else {
        set(u64::from(v));
    }
}

/// PAX records: `"<len> <key>=<value>\n"` where len counts the whole record.
fn pax_records(records: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in records {
        let base = k.len() + v.len() + 3;
        let mut len = base + base.to_string().len();
        if len.to_string().len() != base.to_string().len() {
            len = base + len.to_string().len();
        }
        out.extend_from_slice(len.to_string().as_bytes());
        out.push(b' ');
        out.extend_from_slice(k.as_bytes());
        out.push(b'=');
        out.extend_from_slice(v);
        out.push(b'\n');
    }
    out
}

const BLOCK: usize = 512;
const ZEROS: [u8; BLOCK] = [0; BLOCK];
/// Read size for file contents: large enough that a read and the writes it feeds cost little
/// per byte, small enough to stay in L2 while it is hashed and handed to the compressor.
const COPY_BUF: usize = 256 * 1024;

/// Copies exactly `size` bytes of `src` into `out`; UnexpectedEof if `src` ends before that
/// (the file shrank while being archived). Bytes beyond `size` (the file grew) are not read.
fn copy_exact<R: Read, W: Write>(
    mut src: R,
    size: u64,
    out: &mut W,
    buf: &mut Vec<u8>,
) -> io::Result<()> {
    buf.resize(COPY_BUF, 0);
    let mut remaining = size;
    while remaining > 0 {
        let want = usize::try_from(remaining).map_or(buf.len(), |r| r.min(buf.len()));
        let chunk = buf.get_mut(..want).unwrap_or_default();
        let n = match src.read(chunk) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "file shrank while archiving",
                ))
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        out.write_all(chunk.get(..n).unwrap_or_default())?;
        remaining -= n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::pax_records;

    #[test]
    fn pax_lengths_count_themselves() {
        let r = pax_records(&[("path".into(), b"a".to_vec())]);
        assert_eq!(r, b"9 path=a\n");
        let long = "x".repeat(95);
        let r = pax_records(&[("path".into(), long.clone().into_bytes())]);
        assert_eq!(String::from_utf8(r).unwrap(), format!("105 path={long}\n"));
    }
}
