//! `slipway prune` and `slipway du`: buildx's `prune` and `du` for the embedded worker's
//! data dir (the one `slipway build` uses). Opening the worker takes the data dir's lock,
//! so neither runs while a build does. With `--builder`, the farm's workers are asked
//! instead ([`super::farm::gc`]).

use super::farm::client::FarmOptions;
use anyhow::{bail, Context, Result};
use clap::Args;
use slipway_worker::gc::{self, DiskUsage, GcOptions, ItemKind, UsageItem};
use slipway_worker::{Worker, WorkerConfig};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// The data directory (as for `slipway build`).
    #[arg(
        long = "data-dir",
        env = "SLIPWAY_DATA_DIR",
        default_value = "/var/lib/slipway"
    )]
    pub data_dir: PathBuf,
    /// Remove all build cache except named images, not just dangling cache.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Keep this much cache, removing the least recently used first (`10GB`, `512MiB`,
    /// bytes; kB/MB/GB/TB are powers of 1000, KiB/MiB/GiB/TiB powers of 1024).
    #[arg(long = "keep-storage")]
    pub keep_storage: Option<String>,
    /// Filter: `until=DURATION` removes cache not used for that long (`24h`, `30m`,
    /// `1h30m`). Repeatable.
    #[arg(long = "filter")]
    pub filters: Vec<String>,
    /// Also remove cache mounts (`RUN --mount=type=cache`).
    #[arg(long = "include-cache-mounts")]
    pub include_cache_mounts: bool,
    /// Do not ask for confirmation.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// List every removed item.
    #[arg(long)]
    pub verbose: bool,
    #[command(flatten)]
    pub farm: FarmGcArgs,
}

/// `--builder` and friends: prune or measure the farm's workers instead.
#[derive(Args, Debug, Clone)]
pub struct FarmGcArgs {
    /// Ask the farm's workers (coordinator addresses, comma separated) instead of the
    /// local data dir.
    #[arg(long, env = "SLIPWAY_BUILDER")]
    pub builder: Option<String>,
    /// With --builder: only this worker (default: every live worker).
    #[arg(long)]
    pub worker: Option<String>,
    /// With --builder: directory with `ca.pem`, `client.pem`, `client-key.pem`.
    #[arg(long = "tls-dir", env = "SLIPWAY_TLS_DIR")]
    pub tls_dir: Option<PathBuf>,
    /// With --builder: plaintext gRPC (local development only).
    #[arg(long, env = "SLIPWAY_INSECURE")]
    pub insecure: bool,
}

impl FarmGcArgs {
    /// The farm to ask, when `--builder` names one.
    fn farm(&self) -> Result<Option<FarmOptions>> {
        match self.builder.as_deref().map(str::trim) {
            Some(b) if !b.is_empty() => Ok(Some(FarmOptions {
                builder: Some(b.to_string()),
                tls_dir: self.tls_dir.clone(),
                insecure: self.insecure,
            })),
            _ if self.worker.is_some() => bail!("--worker needs --builder"),
            _ => Ok(None),
        }
    }
}

#[derive(Args, Debug)]
pub struct DuArgs {
    /// The data directory (as for `slipway build`).
    #[arg(
        long = "data-dir",
        env = "SLIPWAY_DATA_DIR",
        default_value = "/var/lib/slipway"
    )]
    pub data_dir: PathBuf,
    /// List every item (default: the 20 largest).
    #[arg(long)]
    pub verbose: bool,
    #[command(flatten)]
    pub farm: FarmGcArgs,
}

/// The options `args` ask for.
pub fn gc_options(args: &PruneArgs) -> Result<GcOptions> {
    let mut opts = GcOptions {
        all: args.all,
        include_cache_mounts: args.include_cache_mounts,
        ..GcOptions::default()
    };
    if let Some(s) = &args.keep_storage {
        opts.keep_bytes = Some(parse_size(s).map_err(|e| anyhow::anyhow!("--keep-storage: {e}"))?);
    }
    for f in &args.filters {
        let (key, value) = f
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--filter {f:?}: expected KEY=VALUE (until=24h)"))?;
        match key.trim() {
            "until" => {
                let d = parse_duration(value.trim())
                    .map_err(|e| anyhow::anyhow!("--filter until: {e}"))?;
                opts.keep_duration = Some(d);
            }
            other => bail!("--filter {other}: not supported (only until=DURATION is)"),
        }
    }
    if opts.all && opts.keep_bytes.is_some() {
        bail!("--all and --keep-storage: --all removes everything but named images, so there is nothing to keep");
    }
    if opts.keep_duration == Some(Duration::ZERO) {
        bail!("--filter until: a zero duration removes everything; use --all");
    }
    opts.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(opts)
}

pub fn prune(args: PruneArgs) -> Result<()> {
    let opts = gc_options(&args)?;
    if let Some(farm) = args.farm.farm()? {
        if args.verbose {
            bail!("--verbose with --builder: the farm reports counts per worker, not items");
        }
        if !args.force && !confirm(&opts)? {
            return Ok(());
        }
        return super::farm::gc::prune(&farm, args.farm.worker.clone(), &opts);
    }
    let dir = args.data_dir.join("worker");
    if !dir.exists() {
        println!("Total:\t{}", human_size(0));
        return Ok(());
    }
    if !args.force && !confirm(&opts)? {
        return Ok(());
    }
    let worker = open(&args.data_dir)?;
    let report =
        gc::collect(&worker, &opts).with_context(|| format!("pruning {}", dir.display()))?;
    if args.verbose {
        print_items(&report.removed, SystemTime::now());
    } else {
        println!(
            "Deleted: {} snapshots, {} blobs, {} cache mounts, {} cache records",
            report.removed_snapshots.len(),
            report.removed_blobs.len(),
            report.removed_cache_mounts.len(),
            report.removed_records
        );
    }
    println!("Total:\t{}", human_size(report.bytes_freed));
    Ok(())
}

pub fn du(args: DuArgs) -> Result<()> {
    if let Some(farm) = args.farm.farm()? {
        if args.verbose {
            bail!("--verbose with --builder: the farm reports totals per worker, not items");
        }
        return super::farm::gc::du(&farm, args.farm.worker.clone());
    }
    let dir = args.data_dir.join("worker");
    let usage = if dir.exists() {
        let worker = open(&args.data_dir)?;
        gc::usage(&worker).with_context(|| format!("reading {}", dir.display()))?
    } else {
        DiskUsage::default()
    };
    let mut items = usage.items.clone();
    items.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.id.cmp(&b.id)));
    if !args.verbose {
        items.truncate(20);
    }
    if !items.is_empty() {
        print_items(&items, SystemTime::now());
        println!();
    }
    let line = |name: &str, u: gc::KindUsage| {
        println!("{name:<16}{:>10}  ({} items)", human_size(u.bytes), u.count)
    };
    line("Snapshots:", usage.snapshots);
    line("Blobs:", usage.blobs);
    line("  pinned:", usage.pinned_blobs);
    line("Cache mounts:", usage.cache_mounts);
    println!(
        "{:<16}{:>10}",
        "Reclaimable:",
        human_size(usage.reclaimable())
    );
    println!("{:<16}{:>10}", "Total:", human_size(usage.total()));
    Ok(())
}

fn open(data_dir: &Path) -> Result<Worker> {
    let config = WorkerConfig {
        data_dir: data_dir.join("worker"),
        ..WorkerConfig::default()
    };
    Worker::open(config).with_context(|| {
        format!(
            "opening the worker's data directory {} (is a build running?)",
            data_dir.display()
        )
    })
}

fn confirm(opts: &GcOptions) -> Result<bool> {
    let what = if opts.all {
        "all build cache except named images"
    } else if opts.keep_duration.is_some() || opts.keep_bytes.is_some() {
        "build cache selected by the filters"
    } else {
        "all dangling build cache"
    };
    print!("WARNING! This will remove {what}. Are you sure you want to continue? [y/N] ");
    std::io::stdout().flush().context("writing the prompt")?;
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .context("reading the answer")?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

fn print_items(items: &[UsageItem], now: SystemTime) {
    println!(
        "{:<72} {:<12} {:<12} {:>10}  LAST ACCESSED",
        "ID", "KIND", "RECLAIMABLE", "SIZE"
    );
    for it in items {
        let kind = match it.kind {
            ItemKind::Snapshot => "snapshot",
            ItemKind::Blob => "blob",
            ItemKind::CacheMount => "cache mount",
        };
        println!(
            "{:<72} {:<12} {:<12} {:>10}  {}",
            it.id,
            kind,
            !it.pinned,
            human_size(it.bytes),
            human_ago(now.duration_since(it.last_used).unwrap_or_default())
        );
    }
}

/// Parses `10GB`, `1.5GiB`, `512MiB`, `4096` (bytes).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    if num.is_empty() {
        return Err(format!("{s:?} is not a size (e.g. 10GB, 512MiB, 1048576)"));
    }
    let unit = unit.trim();
    let mult: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "m" | "mb" => 1000_u64.pow(2),
        "g" | "gb" => 1000_u64.pow(3),
        "t" | "tb" => 1000_u64.pow(4),
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        _ => {
            return Err(format!(
                "unknown unit {unit:?} in {s:?} (use B, kB, MB, GB, TB, KiB, MiB, GiB or TiB)"
            ))
        }
    };
    if let Ok(n) = num.parse::<u64>() {
        return n
            .checked_mul(mult)
            .ok_or_else(|| format!("{s:?} is too large"));
    }
    let f: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size (e.g. 10GB, 512MiB, 1048576)"))?;
    let bytes = (f * mult as f64).round();
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(format!("{s:?} is too large"));
    }
    Ok(bytes as u64)
}

/// Parses Go-style durations: `24h`, `30m`, `1h30m`, `90s`, `1.5h`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("{s:?} is not a duration (e.g. 24h, 30m, 1h30m)");
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let n_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("{s:?}: a number needs a unit (h, m, s, ms)"))?;
        let (num, tail) = rest.split_at(n_end);
        let u_end = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, next) = tail.split_at(u_end);
        let n: f64 = num.parse().map_err(|_| bad())?;
        let secs = match unit {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            other => {
                return Err(format!(
                    "unknown unit {other:?} in {s:?} (use h, m, s, ms, us or ns)"
                ))
            }
        };
        total += n * secs;
        rest = next;
    }
    Duration::try_from_secs_f64(total).map_err(|_| bad())
}

/// Decimal units with four significant digits, as buildx prints sizes.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit + 1 < UNITS.len() {
        v /= 1000.0;
        unit += 1;
    }
    let decimals = if v >= 100.0 {
        1
    } else if v >= 10.0 {
        2
    } else {
        3
    };
    let mut s = format!("{v:.decimals$}");
    if s.contains('.') {
        s = s.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    format!("{s}{}", UNITS.get(unit).copied().unwrap_or("B"))
}

fn human_ago(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => "less than a minute ago".into(),
        60..3600 => format!("{} minutes ago", s / 60),
        3600..86400 => format!("{} hours ago", s / 3600),
        _ => format!("{} days ago", s / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> PruneArgs {
        use clap::Parser;
        #[derive(Parser)]
        struct T {
            #[command(flatten)]
            a: PruneArgs,
        }
        let mut argv = vec!["prune"];
        argv.extend_from_slice(extra);
        T::try_parse_from(argv).unwrap().a
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10GB"), Ok(10_000_000_000));
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("1048576"), Ok(1_048_576));
        assert_eq!(parse_size("1.5kB"), Ok(1500));
        assert_eq!(parse_size("2 gib"), Ok(2 << 30));
        for bad in ["", "GB", "10XB", "1.2.3MB", "99999999999TB"] {
            assert!(parse_size(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86400)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1.5h"), Ok(Duration::from_secs(5400)));
        for bad in ["", "24", "h", "3d", "1h-2m"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn flags_map_to_options_with_errors_naming_the_flag() {
        let o = gc_options(&args(&["--keep-storage", "10GB", "--filter", "until=24h"])).unwrap();
        assert_eq!(o.keep_bytes, Some(10_000_000_000));
        assert_eq!(o.keep_duration, Some(Duration::from_secs(86400)));
        assert!(!o.all && !o.include_cache_mounts);
        let o = gc_options(&args(&["--all", "--include-cache-mounts"])).unwrap();
        assert!(o.all && o.include_cache_mounts && o.keep_bytes.is_none());

        let e = gc_options(&args(&["--keep-storage", "ten"])).unwrap_err();
        assert!(e.to_string().starts_with("--keep-storage"), "{e}");
        let e = gc_options(&args(&["--filter", "until=soon"])).unwrap_err();
        assert!(e.to_string().starts_with("--filter until"), "{e}");
        let e = gc_options(&args(&["--filter", "type=regular"])).unwrap_err();
        assert!(e.to_string().contains("not supported"), "{e}");
        let e = gc_options(&args(&["--filter", "until"])).unwrap_err();
        assert!(e.to_string().contains("KEY=VALUE"), "{e}");
        let e = gc_options(&args(&["--all", "--keep-storage", "1GB"])).unwrap_err();
        assert!(e.to_string().starts_with("--all and --keep-storage"), "{e}");
        let e = gc_options(&args(&["--filter", "until=0s"])).unwrap_err();
        assert!(e.to_string().starts_with("--filter until"), "{e}");
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(1_234_567), "1.235MB");
        assert_eq!(human_size(10_000_000_000), "10GB");
        assert_eq!(human_size(123_450_000), "123.5MB");
    }
}
