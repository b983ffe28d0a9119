//! The instruction layer (BuildKit's `frontend/dockerfile/instructions`): turns the parse
//! tree into typed commands grouped in stages.
//!
//! Values stay raw (unexpanded); build-arg/ENV expansion and stage semantics belong to the
//! lowering. RUN `--mount` values are csv-split here and fully parsed by
//! [`RunMount::resolve`] once the caller can expand them.

mod bflag;
mod commands;
mod csv;
mod device;
mod error;
mod gocompat;
mod mount;
mod suggest;

pub use bflag::{FlagKind, FlagSpec, Flags};
pub use commands::{
    AddCommand, ArgCommand, ArgPair, CmdCommand, Command, CopyCommand, EntrypointCommand,
    EnvCommand, ExposeCommand, Healthcheck, HealthcheckCommand, HealthcheckConfig, Instruction,
    KeyValuePair, LabelCommand, Location, MaintainerCommand, NetworkMode, OnbuildCommand,
    ParsedFile, RunCommand, SecurityMode, ShellCommand, ShellDependentCmdLine, ShellInlineFile,
    SourceContent, SourcesAndDest, Stage, StopsignalCommand, UserCommand, VolumeCommand,
    WorkdirCommand,
};
pub use csv::CsvError;
pub use device::Device;
pub use error::{DeviceError, FlagError, HealthcheckError, InstructionError, MountError};
pub use mount::{
    FileOwner, Mount, MountType, ResolveError, RunMount, SecretMount, ShareMode, SshMount,
};

mod heredoc;
mod parse;
mod parse_copy;
mod parse_exec;
mod parse_simple;
mod request;

pub use parse::{
    parse_dockerfile, parse_instruction, parse_onbuild_trigger, parse_trigger_node,
    parse_trigger_result, INSTRUCTIONS,
};

#[cfg(test)]
mod tests_mount;
#[cfg(test)]
mod tests_parse;
