//! Produce a layer from a directory (benchmark helper).
//!
//! usage: mklayer DIR [gzip|zstd|none] [--level N] [--threads N] [--out FILE] [--epoch SECS]
//! Without --out the compressed stream goes to a sink; digests and sizes are printed.

use slipway_oci::layer::{write_dir_layer, Compression, CompressionOptions, LayerOptions};
use std::io::Write;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or_else(|| {
        anyhow::anyhow!(
            "usage: mklayer DIR [gzip|zstd|none] [--level N] [--threads N] [--out FILE]"
        )
    })?;
    let mut compression = CompressionOptions::gzip();
    let mut out: Option<String> = None;
    let mut epoch = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "gzip" => compression.kind = Compression::Gzip,
            "zstd" => compression.kind = Compression::Zstd,
            "none" => compression.kind = Compression::None,
            "--level" => {
                compression.level = Some(
                    args.next()
                        .ok_or_else(|| anyhow::anyhow!("--level N"))?
                        .parse()?,
                )
            }
            "--threads" => {
                compression.threads = args
                    .next()
                    .ok_or_else(|| anyhow::anyhow!("--threads N"))?
                    .parse()?
            }
            "--out" => out = Some(args.next().ok_or_else(|| anyhow::anyhow!("--out FILE"))?),
            "--epoch" => {
                epoch = Some(
                    args.next()
                        .ok_or_else(|| anyhow::anyhow!("--epoch SECS"))?
                        .parse()?,
                )
            }
            other => anyhow::bail!("unknown argument {other:?}"),
        }
    }
    let opts = LayerOptions {
        compression,
        source_date_epoch: epoch,
        ..Default::default()
    };
    let sink: Box<dyn Write + Send> = match out {
        Some(p) => Box::new(std::io::BufWriter::new(std::fs::File::create(p)?)),
        None => Box::new(std::io::sink()),
    };
    let (mut w, info) = write_dir_layer(std::path::Path::new(&dir), sink, &opts)?;
    w.flush()?;
    println!(
        "{} diffID={} digest={} size={} uncompressed={}",
        info.media_type, info.diff_id, info.digest, info.size, info.uncompressed_size
    );
    Ok(())
}
