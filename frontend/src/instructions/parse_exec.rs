//! The instructions that carry a command line: RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK.

use super::bflag::{FlagSpec, Flags};
use super::commands::{
    CmdCommand, EntrypointCommand, Healthcheck, HealthcheckCommand, HealthcheckConfig, NetworkMode,
    RunCommand, SecurityMode, ShellCommand, ShellDependentCmdLine, ShellInlineFile,
};
use super::device::Device;
use super::error::{HealthcheckError, InstructionError};
use super::gocompat::{go_quote, parse_duration, parse_int32};
use super::mount::RunMount;
use super::request::Request;

/// RUN's flags, in BuildKit's registration order.
const RUN_FLAGS: [FlagSpec; 4] = [
    FlagSpec::strings("device"),
    FlagSpec::strings("mount"),
    FlagSpec::string("network"),
    FlagSpec::string("security"),
];

const HEALTHCHECK_FLAGS: [FlagSpec; 5] = [
    FlagSpec::string("interval"),
    FlagSpec::string("timeout"),
    FlagSpec::string("start-period"),
    FlagSpec::string("start-interval"),
    FlagSpec::string("retries"),
];

fn cmd_line(req: &Request) -> ShellDependentCmdLine {
    ShellDependentCmdLine {
        cmd_line: req.json_args(&req.args),
        files: req
            .heredocs()
            .iter()
            .map(|h| ShellInlineFile {
                name: h.name.clone(),
                data: h.content.clone(),
                chomp: h.chomp,
            })
            .collect(),
        prepend_shell: !req.json(),
    }
}

pub(crate) fn run(req: &Request) -> Result<RunCommand, InstructionError> {
    let flags = req.flags(&RUN_FLAGS)?;
    let location = req.location;
    let devices = flags
        .strings("device")
        .iter()
        .map(|d| Device::parse(d))
        .collect::<Result<_, _>>()
        .map_err(|source| InstructionError::Device { location, source })?;
    let mounts = flags
        .strings("mount")
        .iter()
        .map(|m| RunMount::parse(m))
        .collect::<Result<_, _>>()
        .map_err(|source| InstructionError::Mount { location, source })?;
    let network = match flags.string("network").unwrap_or("default") {
        "default" => NetworkMode::Default,
        "none" => NetworkMode::None,
        "host" => NetworkMode::Host,
        other => {
            return Err(InstructionError::InvalidNetwork {
                location,
                value: other.to_string(),
            })
        }
    };
    let security = match flags.string("security").unwrap_or("sandbox") {
        "sandbox" => SecurityMode::Sandbox,
        "insecure" => SecurityMode::Insecure,
        other => {
            return Err(InstructionError::InvalidSecurity {
                location,
                value: other.to_string(),
            })
        }
    };
    Ok(RunCommand {
        location,
        original: req.code.clone(),
        cmd: cmd_line(req),
        mounts,
        network,
        security,
        devices,
        flags_used: flags.used(),
    })
}

pub(crate) fn cmd(req: &Request) -> Result<CmdCommand, InstructionError> {
    req.flags(&[])?;
    Ok(CmdCommand {
        location: req.location,
        original: req.code.clone(),
        cmd: cmd_line(req),
    })
}

pub(crate) fn entrypoint(req: &Request) -> Result<EntrypointCommand, InstructionError> {
    req.flags(&[])?;
    Ok(EntrypointCommand {
        location: req.location,
        original: req.code.clone(),
        cmd: cmd_line(req),
    })
}

pub(crate) fn shell(req: &Request) -> Result<ShellCommand, InstructionError> {
    req.flags(&[])?;
    let shell = req.json_args(&req.args);
    if shell.is_empty() {
        return Err(req.at_least_one("SHELL"));
    }
    if !req.json() {
        return Err(InstructionError::NotJson {
            location: req.location,
            instruction: "SHELL",
        });
    }
    Ok(ShellCommand {
        location: req.location,
        original: req.code.clone(),
        shell,
    })
}

pub(crate) fn healthcheck(req: &Request) -> Result<HealthcheckCommand, InstructionError> {
    let Some((first, rest)) = req.args.split_first() else {
        return Err(req.at_least_one("HEALTHCHECK"));
    };
    let location = req.location;
    let err = |source| InstructionError::Healthcheck { location, source };
    let typ = first.to_uppercase();
    let health = if typ == "NONE" {
        if !rest.is_empty() {
            return Err(err(HealthcheckError::NoneTakesNoArguments));
        }
        Healthcheck::None
    } else {
        let flags = req.flags(&HEALTHCHECK_FLAGS)?;
        if typ != "CMD" {
            return Err(err(HealthcheckError::UnknownType {
                typ: go_quote(&typ),
            }));
        }
        let cmd = req.json_args(rest);
        if cmd.is_empty() {
            return Err(err(HealthcheckError::MissingCommand));
        }
        let kind = if req.json() { "CMD" } else { "CMD-SHELL" };
        let mut test = vec![kind.to_string()];
        test.extend(cmd);
        Healthcheck::Cmd(HealthcheckConfig {
            test,
            interval_ns: interval(&flags, "interval").map_err(err)?,
            timeout_ns: interval(&flags, "timeout").map_err(err)?,
            start_period_ns: interval(&flags, "start-period").map_err(err)?,
            start_interval_ns: interval(&flags, "start-interval").map_err(err)?,
            retries: retries(&flags).map_err(err)?,
        })
    };
    Ok(HealthcheckCommand {
        location,
        original: req.code.clone(),
        health,
    })
}

/// A duration flag: 0 when absent/empty/zero, at least 1ms otherwise (BuildKit's
/// parseOptInterval).
fn interval(flags: &Flags, name: &'static str) -> Result<i64, HealthcheckError> {
    let value = flags.string(name).unwrap_or("");
    if value.is_empty() {
        return Ok(0);
    }
    let d = parse_duration(value).map_err(|message| HealthcheckError::BadDuration {
        flag: name,
        message,
    })?;
    if d != 0 && d < 1_000_000 {
        return Err(HealthcheckError::IntervalTooShort { flag: name });
    }
    Ok(d)
}

fn retries(flags: &Flags) -> Result<i32, HealthcheckError> {
    let value = flags.string("retries").unwrap_or("");
    if value.is_empty() {
        return Ok(0);
    }
    let n = parse_int32(value).map_err(|message| HealthcheckError::BadRetries { message })?;
    if n < 0 {
        return Err(HealthcheckError::NegativeRetries { retries: n });
    }
    // parse_int32 keeps n within i32.
    Ok(i32::try_from(n).unwrap_or(i32::MAX))
}
