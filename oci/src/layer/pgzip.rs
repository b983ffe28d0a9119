//! pigz-style parallel gzip: the input is cut into 128 KiB blocks, each deflated on a worker
//! thread as raw deflate primed with the previous block's last 32 KiB as dictionary and ended
//! with a sync flush (the last one with a final block). The blocks concatenate into one deflate
//! stream inside one gzip member, so any gzip reader (Go, `gzip -t`) reads it as usual.
//! The CRC-32 and size of the whole input are computed on the calling thread.

use flate2::{Compress, FlushCompress, Status};
use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

const BLOCK: usize = 128 * 1024;
const DICT: usize = 32 * 1024;
/// Go's gzip writer header: no name, mtime 0, OS "unknown" (255).
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];

struct Job {
    data: Vec<u8>,
    dict: Vec<u8>,
    last: bool,
    reply: SyncSender<io::Result<Vec<u8>>>,
}

/// A writer producing a single gzip member, compressing on `threads` worker threads.
pub struct ParallelGzip<W: Write> {
    inner: Option<W>,
    block: Vec<u8>,
    dict: Vec<u8>,
    crc: flate2::Crc,
    pending: VecDeque<Receiver<io::Result<Vec<u8>>>>,
    jobs: Option<SyncSender<Job>>,
    workers: Vec<JoinHandle<()>>,
    max_pending: usize,
    header_written: bool,
}

impl<W: Write> ParallelGzip<W> {
    pub fn new(inner: W, level: u32, threads: usize) -> Self {
        let threads = threads.max(1);
        let (tx, rx) = mpsc::sync_channel::<Job>(threads * 2);
        let rx = Arc::new(Mutex::new(rx));
        let workers = (0..threads)
            .map(|_| {
                let rx = Arc::clone(&rx);
                std::thread::spawn(move || worker(rx, level))
            })
            .collect();
        ParallelGzip {
            inner: Some(inner),
            block: Vec::with_capacity(BLOCK),
            dict: Vec::new(),
            crc: flate2::Crc::new(),
            pending: VecDeque::new(),
            jobs: Some(tx),
            workers,
            max_pending: threads * 2 + 2,
            header_written: false,
        }
    }

    fn dispatch(&mut self, last: bool) -> io::Result<()> {
        if !self.header_written {
            self.out()?.write_all(&HEADER)?;
            self.header_written = true;
        }
        let data = std::mem::replace(&mut self.block, Vec::with_capacity(BLOCK));
        self.crc.update(&data);
        let next_dict = data
            .get(data.len().saturating_sub(DICT)..)
            .unwrap_or_default()
            .to_vec();
        let dict = std::mem::replace(&mut self.dict, next_dict);
        let (reply, rx) = mpsc::sync_channel(1);
        let jobs = self.jobs.as_ref().ok_or_else(closed)?;
        jobs.send(Job {
            data,
            dict,
            last,
            reply,
        })
        .map_err(|_| closed())?;
        self.pending.push_back(rx);
        while self.pending.len() > self.max_pending {
            self.write_oldest()?;
        }
        Ok(())
    }

    fn write_oldest(&mut self) -> io::Result<()> {
        if let Some(rx) = self.pending.pop_front() {
            let out = rx.recv().map_err(|_| closed())??;
            self.out()?.write_all(&out)?;
        }
        Ok(())
    }

    /// Writes the last block and the trailer, stops the workers and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.dispatch(true)?;
        while !self.pending.is_empty() {
            self.write_oldest()?;
        }
        let mut trailer = [0u8; 8];
        trailer[..4].copy_from_slice(&self.crc.sum().to_le_bytes());
        trailer[4..].copy_from_slice(&self.crc.amount().to_le_bytes());
        let mut inner = self.inner.take().ok_or_else(closed)?;
        inner.write_all(&trailer)?;
        inner.flush()?;
        self.jobs = None;
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
        Ok(inner)
    }

    fn out(&mut self) -> io::Result<&mut W> {
        self.inner.as_mut().ok_or_else(closed)
    }
}

fn closed() -> io::Error {
    io::Error::other("parallel gzip worker stopped")
}

impl<W: Write> Write for ParallelGzip<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = BLOCK - self.block.len();
        let take = room.min(buf.len());
        self.block
            .extend_from_slice(buf.get(..take).unwrap_or_default());
        if self.block.len() >= BLOCK {
            self.dispatch(false)?;
        }
        Ok(take)
    }

    fn flush(&mut self) -> io::Result<()> {
        // Blocks are only cut at BLOCK boundaries so the output does not depend on flush calls.
        Ok(())
    }
}

impl<W: Write> Drop for ParallelGzip<W> {
    fn drop(&mut self) {
        self.jobs = None;
    }
}

fn worker(rx: Arc<Mutex<Receiver<Job>>>, level: u32) {
    loop {
        let job = match rx.lock() {
            Ok(guard) => match guard.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
            Err(_) => return,
        };
        // A fresh compressor per block: a reset one keeps stale hash-chain links
        // (zlib-rs does not clear `prev`), which change the matches it finds, so the output
        // would depend on which blocks this worker compressed before.
        let mut c = Compress::new(flate2::Compression::new(level), false);
        let result = deflate_block(&mut c, &job.data, &job.dict, job.last);
        let _ = job.reply.send(result);
    }
}

fn deflate_block(c: &mut Compress, data: &[u8], dict: &[u8], last: bool) -> io::Result<Vec<u8>> {
    if !dict.is_empty() {
        c.set_dictionary(dict).map_err(io::Error::other)?;
    }
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    let mut out = Vec::with_capacity(data.len() / 2 + 1024);
    let mut consumed = 0usize;
    loop {
        if out.len() == out.capacity() {
            out.reserve(64 * 1024);
        }
        let before = c.total_in();
        let status = c
            .compress_vec(data.get(consumed..).unwrap_or_default(), &mut out, flush)
            .map_err(io::Error::other)?;
        consumed += (c.total_in() - before) as usize;
        match status {
            Status::StreamEnd => break,
            _ if !last && consumed == data.len() && out.len() < out.capacity() => break,
            _ => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gz(data: &[u8], threads: usize) -> Vec<u8> {
        let mut w = ParallelGzip::new(Vec::new(), 6, threads);
        for chunk in data.chunks(10_000) {
            w.write_all(chunk).unwrap();
        }
        w.finish().unwrap()
    }

    #[test]
    fn single_member_readable_by_plain_decoder() {
        let data: Vec<u8> = (0..1_000_000u32)
            .map(|i| (i.wrapping_mul(7919) % 97) as u8 ^ (i / 4096) as u8)
            .collect();
        for threads in [1, 2, 3] {
            let blob = gz(&data, threads);
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&blob[..])
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(out, data, "threads={threads}");
        }
        assert_eq!(
            gz(&data, 1),
            gz(&data, 2),
            "output does not depend on thread count"
        );
    }

    /// Text-like data whose blocks differ from each other: words drawn by an LCG, with
    /// runs of binary noise, so deflate walks its hash chains in every block.
    fn varied(len: usize) -> Vec<u8> {
        const WORDS: [&str; 12] = [
            "layer",
            "digest",
            "snapshot",
            "overlay",
            "whiteout",
            "manifest",
            "the ",
            "of ",
            "zstd",
            "gzip\n",
            "\t",
            "0123456789",
        ];
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut out = Vec::with_capacity(len + 64);
        while out.len() < len {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            if x >> 60 == 0 {
                out.extend((0..(x >> 40) % 300).map(|i| (x >> (i % 56)) as u8));
            } else {
                out.extend_from_slice(WORDS[(x >> 33) as usize % WORDS.len()].as_bytes());
            }
        }
        out.truncate(len);
        out
    }

    #[test]
    fn output_does_not_depend_on_which_worker_compressed_what() {
        // Machine code (this test binary) interleaved with text: the mix of real data on
        // which runs differed before each block got a fresh compressor.
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let text = varied(2 * 1024 * 1024 + 777);
        let mut data = Vec::new();
        for (code, words) in exe.chunks(300_000).take(12).zip(text.chunks(200_000)) {
            data.extend_from_slice(code);
            data.extend_from_slice(words);
        }
        let one = gz(&data, 1);
        for _ in 0..3 {
            assert!(gz(&data, 3) == one, "3 threads differ from 1");
        }
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&one[..])
            .read_to_end(&mut out)
            .unwrap();
        assert!(out == data);
    }

    #[test]
    fn empty_input_is_a_valid_gzip() {
        let blob = gz(b"", 2);
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&blob[..])
            .read_to_end(&mut out)
            .unwrap();
        assert!(out.is_empty());
    }

    #[test]
    fn gzip_tool_accepts_it() {
        let data: Vec<u8> = (0..400_000u32).map(|i| (i % 13) as u8).collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.gz");
        std::fs::write(&path, gz(&data, 2)).unwrap();
        let st = std::process::Command::new("gzip")
            .arg("-t")
            .arg(&path)
            .status()
            .unwrap();
        assert!(st.success());
    }
}
