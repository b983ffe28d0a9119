//! Image-config instructions and history entries (BuildKit's `dispatchCmd`,
//! `dispatchEntrypoint`, `dispatchHealthcheck`, `dispatchVolume`, ... and `commitToHistory`).

use crate::instructions::{Healthcheck as HealthInstr, ShellDependentCmdLine};
use crate::parser::go_quote;
use slipway_graph::{Healthcheck, HistoryEntry, ImageConfig};

use super::error::LowerErrorKind;

const HISTORY_COMMENT: &str = "buildkit.dockerfile.v0";

/// Appends a history entry; `buildkit_suffix` adds ` # buildkit` (RUN, COPY, ADD).
pub fn commit(
    img: &mut ImageConfig,
    msg: String,
    with_layer: bool,
    buildkit_suffix: bool,
    epoch: Option<i64>,
) {
    let created_by = if buildkit_suffix {
        format!("{msg} # buildkit")
    } else {
        msg
    };
    img.history.push(HistoryEntry {
        created: epoch,
        created_by,
        comment: HISTORY_COMMENT.to_string(),
        empty_layer: !with_layer,
    });
}

/// The default shell of an OS.
pub fn default_shell(os: &str) -> Vec<String> {
    if os == "windows" {
        vec!["cmd".into(), "/S".into(), "/C".into()]
    } else {
        vec!["/bin/sh".into(), "-c".into()]
    }
}

/// `withShell`: the image's SHELL (or the default) plus the joined command line.
pub fn with_shell(img: &ImageConfig, os: &str, args: &[String]) -> Vec<String> {
    let mut shell = img
        .shell
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| default_shell(os));
    shell.push(args.join(" "));
    shell
}

/// Go's `%q` of a `[]string`: `["a" "b"]`.
pub fn go_quote_slice(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| go_quote(s)).collect();
    format!("[{}]", quoted.join(" "))
}

/// Go's `%v` of a `[]string`: `[a b]`.
pub fn go_slice(items: &[String]) -> String {
    format!("[{}]", items.join(" "))
}

pub fn cmd(img: &mut ImageConfig, os: &str, c: &ShellDependentCmdLine, epoch: Option<i64>) {
    let args = if c.prepend_shell {
        with_shell(img, os, &c.cmd_line)
    } else {
        c.cmd_line.clone()
    };
    let msg = format!("CMD {}", go_quote_slice(&args));
    img.cmd = Some(args);
    img.args_escaped = true;
    commit(img, msg, false, false, epoch);
}

/// ENTRYPOINT; an inherited CMD is dropped unless this stage set one (`cmd_set`).
pub fn entrypoint(
    img: &mut ImageConfig,
    os: &str,
    c: &ShellDependentCmdLine,
    cmd_set: bool,
    epoch: Option<i64>,
) {
    let args = if c.prepend_shell {
        with_shell(img, os, &c.cmd_line)
    } else {
        c.cmd_line.clone()
    };
    let msg = format!("ENTRYPOINT {}", go_quote_slice(&args));
    img.entrypoint = Some(args);
    if !cmd_set {
        img.cmd = None;
    }
    commit(img, msg, false, false, epoch);
}

pub fn healthcheck(img: &mut ImageConfig, h: &HealthInstr, epoch: Option<i64>) {
    let hc = match h {
        HealthInstr::None => Healthcheck {
            test: h.test(),
            ..Default::default()
        },
        HealthInstr::Cmd(c) => Healthcheck {
            test: c.test.clone(),
            interval: c.interval_ns,
            timeout: c.timeout_ns,
            start_period: c.start_period_ns,
            start_interval: c.start_interval_ns,
            retries: c.retries,
        },
    };
    let msg = format!(
        "HEALTHCHECK {{Test:{} Interval:{} Timeout:{} StartPeriod:{} StartInterval:{} Retries:{}}}",
        go_slice(&hc.test),
        go_duration(hc.interval),
        go_duration(hc.timeout),
        go_duration(hc.start_period),
        go_duration(hc.start_interval),
        hc.retries
    );
    img.healthcheck = Some(hc);
    commit(img, msg, false, false, epoch);
}

pub fn volume(
    img: &mut ImageConfig,
    volumes: &[String],
    epoch: Option<i64>,
) -> Result<(), LowerErrorKind> {
    for v in volumes {
        if v.is_empty() {
            return Err(LowerErrorKind::EmptyVolume);
        }
        img.volumes.insert(v.clone());
    }
    commit(
        img,
        format!("VOLUME {}", go_slice(volumes)),
        false,
        false,
        epoch,
    );
    Ok(())
}

pub fn stopsignal(
    img: &mut ImageConfig,
    signal: &str,
    epoch: Option<i64>,
) -> Result<(), LowerErrorKind> {
    if !valid_signal(signal) {
        return Err(LowerErrorKind::InvalidSignal {
            signal: signal.to_string(),
        });
    }
    img.stop_signal = Some(signal.to_string());
    commit(img, format!("STOPSIGNAL {signal}"), false, false, epoch);
    Ok(())
}

pub fn shell(img: &mut ImageConfig, shell: &[String], epoch: Option<i64>) {
    img.shell = Some(shell.to_vec());
    commit(
        img,
        format!("SHELL {}", go_slice(shell)),
        false,
        false,
        epoch,
    );
}

pub fn maintainer(img: &mut ImageConfig, who: &str, epoch: Option<i64>) {
    img.author = Some(who.to_string());
    commit(img, format!("MAINTAINER {who}"), false, false, epoch);
}

pub fn label(img: &mut ImageConfig, labels: &[(String, String)], epoch: Option<i64>) {
    let mut msg = String::from("LABEL");
    for (k, v) in labels {
        img.labels.insert(k.clone(), v.clone());
        msg.push_str(&format!(" {k}={v}"));
    }
    commit(img, msg, false, false, epoch);
}

pub fn expose(
    img: &mut ImageConfig,
    ports: &[String],
    epoch: Option<i64>,
) -> Result<(), LowerErrorKind> {
    let mut parsed = Vec::new();
    for p in ports {
        parsed.extend(parse_port(p).map_err(|message| LowerErrorKind::InvalidPort { message })?);
    }
    for p in &parsed {
        img.exposed_ports.insert(p.clone());
    }
    commit(
        img,
        format!("EXPOSE {}", go_slice(&parsed)),
        false,
        false,
        epoch,
    );
    Ok(())
}

/// `[ip:][hostPort:]containerPort[-end][/proto]` → `port/proto` for each port of the range.
fn parse_port(raw: &str) -> Result<Vec<String>, String> {
    let parts: Vec<&str> = raw.split(':').collect();
    let container = parts.last().copied().unwrap_or_default();
    let (port, proto) = container.split_once('/').unwrap_or((container, ""));
    let invalid = |why: String| format!("invalid port: {}: {why}", go_quote(raw));
    if port.is_empty() {
        return Err(invalid("no port specified".into()));
    }
    let proto = match proto.to_lowercase().as_str() {
        "" => "tcp".to_string(),
        "tcp" | "udp" | "sctp" => proto.to_lowercase(),
        _ => return Err(invalid(format!("invalid proto: {proto}"))),
    };
    let (start, end) = port_range(port).ok_or_else(|| format!("invalid containerPort: {port}"))?;
    Ok((start..=end).map(|p| format!("{p}/{proto}")).collect())
}

fn port_range(s: &str) -> Option<(u32, u32)> {
    let num = |x: &str| x.parse::<u32>().ok().filter(|n| *n <= 65535);
    match s.split_once('-') {
        Some((a, b)) if a != b => {
            let (a, b) = (num(a)?, num(b)?);
            (b >= a).then_some((a, b))
        }
        Some((a, _)) => num(a).map(|n| (n, n)),
        None => num(s).map(|n| (n, n)),
    }
}

const SIGNALS: &[&str] = &[
    "ABRT", "ALRM", "BUS", "CHLD", "CLD", "CONT", "FPE", "HUP", "ILL", "INT", "IO", "IOT", "KILL",
    "PIPE", "POLL", "PROF", "PWR", "QUIT", "SEGV", "STKFLT", "STOP", "SYS", "TERM", "TRAP", "TSTP",
    "TTIN", "TTOU", "URG", "USR1", "USR2", "VTALRM", "WINCH", "XCPU", "XFSZ", "RTMIN", "RTMAX",
];

/// moby's `signal.ParseSignal` for Linux: a non-zero number or a known name (`SIG` optional).
fn valid_signal(s: &str) -> bool {
    if let Ok(n) = s.parse::<i64>() {
        return n != 0;
    }
    let upper = s.to_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if SIGNALS.contains(&name) {
        return true;
    }
    let rt = |prefix: &str, sign: char| {
        name.strip_prefix(prefix)
            .and_then(|r| r.strip_prefix(sign))
            .and_then(|n| n.parse::<u32>().ok())
            .is_some_and(|n| (1..=15).contains(&n) && !n.to_string().starts_with('0'))
    };
    rt("RTMIN", '+') || rt("RTMAX", '-')
}

/// Go's `time.Duration.String()`.
pub fn go_duration(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let neg = ns < 0;
    let u = ns.unsigned_abs();
    let mut s = if u < 1_000_000_000 {
        let (div, unit) = if u < 1_000 {
            (1, "ns")
        } else if u < 1_000_000 {
            (1_000, "µs")
        } else {
            (1_000_000, "ms")
        };
        format!("{}{unit}", frac(u, div))
    } else {
        let secs = u / 1_000_000_000;
        let sub = u % 1_000_000_000;
        let (h, m, sec) = (secs / 3600, (secs / 60) % 60, secs % 60);
        let sec_text = frac(sec * 1_000_000_000 + sub, 1_000_000_000);
        if h > 0 {
            format!("{h}h{m}m{sec_text}s")
        } else if m > 0 {
            format!("{m}m{sec_text}s")
        } else {
            format!("{sec_text}s")
        }
    };
    if neg {
        s.insert(0, '-');
    }
    s
}

fn frac(v: u64, div: u64) -> String {
    let whole = v / div;
    let rest = v % div;
    if rest == 0 {
        return whole.to_string();
    }
    let width = div.to_string().len() - 1;
    let digits = format!("{rest:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_like_go() {
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(5_000_000_000), "5s");
        assert_eq!(go_duration(90_000_000_000), "1m30s");
        assert_eq!(go_duration(3_600_000_000_000), "1h0m0s");
        assert_eq!(go_duration(1_500_000_000), "1.5s");
        assert_eq!(go_duration(2_000_000), "2ms");
        assert_eq!(go_duration(1_500), "1.5µs");
    }

    #[test]
    fn ports_and_signals() {
        assert_eq!(parse_port("80").unwrap(), vec!["80/tcp"]);
        assert_eq!(parse_port("53/UDP").unwrap(), vec!["53/udp"]);
        assert_eq!(
            parse_port("8000-8002").unwrap(),
            vec!["8000/tcp", "8001/tcp", "8002/tcp"]
        );
        assert!(parse_port("80/xyz").is_err());
        assert!(parse_port("abc").is_err());
        assert!(
            valid_signal("SIGTERM")
                && valid_signal("kill")
                && valid_signal("9")
                && valid_signal("SIGRTMIN+3")
        );
        assert!(!valid_signal("0") && !valid_signal("SIGNOPE"));
    }

    #[test]
    fn entrypoint_resets_cmd() {
        let mut img = ImageConfig {
            cmd: Some(vec!["base".into()]),
            ..Default::default()
        };
        let ep = ShellDependentCmdLine {
            cmd_line: vec!["run".into()],
            files: vec![],
            prepend_shell: true,
        };
        entrypoint(&mut img, "linux", &ep, false, None);
        assert_eq!(
            img.entrypoint,
            Some(vec!["/bin/sh".into(), "-c".into(), "run".into()])
        );
        assert_eq!(img.cmd, None);
        assert_eq!(
            img.history[0].created_by,
            r#"ENTRYPOINT ["/bin/sh" "-c" "run"]"#
        );
    }
}
