//! Errors of the instruction layer, with BuildKit's messages.

use super::commands::Location;
use super::mount::MountType;

/// Formats ` (did you mean X?)` when there is a suggestion.
pub(crate) struct Suggestion<'a>(pub &'a Option<String>);

impl std::fmt::Display for Suggestion<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(s) => write!(f, " (did you mean {s}?)"),
            None => Ok(()),
        }
    }
}

/// A bad instruction flag (BuildKit's `BFlags.Parse`). Names include the leading `--`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlagError {
    #[error("arg should start with -- : {arg}")]
    NotAFlag { arg: String },
    #[error("unknown flag: {name}{}", Suggestion(suggestion))]
    Unknown {
        name: String,
        suggestion: Option<String>,
    },
    #[error("duplicate flag specified: {name}")]
    Duplicate { name: String },
    #[error("missing a value on flag: {name}")]
    MissingValue { name: String },
    #[error("expecting boolean value for flag {name}, not: {value}")]
    NotBool { name: String, value: String },
}

/// A bad `--mount` value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MountError {
    #[error("failed to parse csv mounts: {message}")]
    Csv { message: String },
    #[error("'from' doesn't support variable expansion, define alias stage instead")]
    FromVariable,
    #[error("invalid field '{field}' must be a key=value pair")]
    NotKeyValue { field: String },
    #[error("unexpected key '{key}' for mount type '{mount_type}'")]
    UnexpectedKeyForType { key: String, mount_type: MountType },
    #[error("unexpected key '{key}' in '{field}'{}", Suggestion(suggestion))]
    UnexpectedKey {
        key: String,
        field: String,
        suggestion: Option<String>,
    },
    /// `value` is Go-quoted.
    #[error("unsupported mount type {value}{}", Suggestion(suggestion))]
    UnsupportedType {
        value: String,
        suggestion: Option<String>,
    },
    /// `value` is Go-quoted.
    #[error("unsupported sharing value {value}{}", Suggestion(suggestion))]
    UnsupportedSharing {
        value: String,
        suggestion: Option<String>,
    },
    #[error("invalid value for {key}: {value}")]
    InvalidValue { key: String, value: String },
    #[error("invalid value {value} for {key}")]
    InvalidNumber { key: String, value: String },
    #[error("{what} not allowed for \"{mount_type}\" type mounts")]
    FileInfoNotAllowed {
        what: &'static str,
        mount_type: MountType,
    },
    #[error("secret mount should not have a from")]
    SecretWithFrom,
    #[error("secret mount should not define sharing")]
    SecretWithSharing,
    #[error("invalid secret mount. one of source, target required")]
    SecretWithoutSourceOrTarget,
    #[error("both source and id can't be set")]
    SecretSourceAndId,
    #[error("invalid cache sharing set for {mount_type} mount")]
    SharingNotCache { mount_type: MountType },
    /// Dispatch-time (convert_secrets.go).
    #[error("one of source, target required")]
    SecretNeedsSourceOrTarget,
    /// Dispatch-time (convert_ssh.go).
    #[error("ssh does not support source")]
    SshWithSource,
}

/// A bad `--device` value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    #[error("failed to parse csv devices: {message}")]
    Csv { message: String },
    #[error("invalid field '{field}' must be a key=value pair")]
    NotKeyValue { field: String },
    #[error("device name already set to {name}")]
    NameAlreadySet { name: String },
    #[error("invalid value for {key}: {value}")]
    InvalidValue { key: String, value: String },
    #[error("unexpected key '{key}' in '{field}'{}", Suggestion(suggestion))]
    UnexpectedKey {
        key: String,
        field: String,
        suggestion: Option<String>,
    },
}

/// A bad HEALTHCHECK.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HealthcheckError {
    #[error("HEALTHCHECK NONE takes no arguments")]
    NoneTakesNoArguments,
    #[error("Missing command after HEALTHCHECK CMD")]
    MissingCommand,
    /// `typ` is Go-quoted.
    #[error("Unknown type {typ} in HEALTHCHECK (try CMD)")]
    UnknownType { typ: String },
    /// Go's `time.ParseDuration` message, e.g. `time: invalid duration "x"`.
    #[error("{message}")]
    BadDuration { flag: &'static str, message: String },
    #[error("Interval \"{flag}\" cannot be less than 1ms")]
    IntervalTooShort { flag: &'static str },
    /// Go's `strconv.ParseInt` message.
    #[error("{message}")]
    BadRetries { message: String },
    #[error("--retries cannot be negative ({retries})")]
    NegativeRetries { retries: i64 },
}

/// Why a Dockerfile's instructions could not be typed. Every variant names its place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstructionError {
    #[error("unknown instruction: {instruction}{}", Suggestion(suggestion))]
    UnknownInstruction {
        location: Location,
        /// As written (case kept).
        instruction: String,
        suggestion: Option<String>,
    },
    #[error("{source}")]
    Flag {
        location: Location,
        source: FlagError,
    },
    #[error("{source}")]
    Mount {
        location: Location,
        source: MountError,
    },
    #[error("{source}")]
    Device {
        location: Location,
        source: DeviceError,
    },
    #[error("{source}")]
    Healthcheck {
        location: Location,
        source: HealthcheckError,
    },
    #[error("{instruction} requires at least one argument")]
    AtLeastOneArgument {
        location: Location,
        instruction: &'static str,
    },
    #[error("{instruction} requires exactly one argument")]
    ExactlyOneArgument {
        location: Location,
        instruction: &'static str,
    },
    #[error("{instruction} requires at least two arguments, but only one was provided. Destination could not be determined")]
    NoDestination {
        location: Location,
        instruction: &'static str,
    },
    #[error("{instruction} cannot accept a heredoc as {what}")]
    BadHeredoc {
        location: Location,
        instruction: &'static str,
        what: &'static str,
    },
    #[error("{instruction} names can not be blank")]
    BlankNames {
        location: Location,
        instruction: &'static str,
    },
    #[error("Bad input to {instruction}, too many arguments")]
    TooManyArguments {
        location: Location,
        instruction: &'static str,
    },
    #[error("{instruction} requires the arguments to be in JSON form")]
    NotJson {
        location: Location,
        instruction: &'static str,
    },
    #[error("FROM requires either one or three arguments")]
    FromArguments { location: Location },
    /// `name` is Go-quoted, as written.
    #[error(
        "invalid name for build stage: {name}, name can't start with a number or contain symbols"
    )]
    InvalidStageName { location: Location, name: String },
    #[error("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")]
    OnbuildChaining { location: Location },
    #[error("{trigger} isn't allowed as an ONBUILD trigger")]
    OnbuildForbidden { location: Location, trigger: String },
    #[error("VOLUME specified can not be an empty string")]
    EmptyVolume { location: Location },
    #[error("invalid network mode \"{value}\"")]
    InvalidNetwork { location: Location, value: String },
    #[error("security \"{value}\" is not valid")]
    InvalidSecurity { location: Location, value: String },
    #[error("no build stage in current context")]
    NoBuildStage { location: Location },
    /// An ONBUILD trigger text (from a base image) that is not exactly one instruction.
    #[error("onbuild trigger should be a single expression")]
    TriggerNotSingle { location: Location, count: usize },
    /// An ONBUILD trigger text (from a base image) the parser rejects.
    #[error("{source}")]
    TriggerParse {
        location: Location,
        source: crate::parser::ParseError,
    },
    /// An ONBUILD trigger that is a FROM (BuildKit: "*instructions.Stage is not a command type").
    #[error("*instructions.Stage is not a command type")]
    TriggerNotCommand { location: Location },
}

impl InstructionError {
    pub fn location(&self) -> Location {
        match self {
            Self::UnknownInstruction { location, .. }
            | Self::Flag { location, .. }
            | Self::Mount { location, .. }
            | Self::Device { location, .. }
            | Self::Healthcheck { location, .. }
            | Self::AtLeastOneArgument { location, .. }
            | Self::ExactlyOneArgument { location, .. }
            | Self::NoDestination { location, .. }
            | Self::BadHeredoc { location, .. }
            | Self::BlankNames { location, .. }
            | Self::TooManyArguments { location, .. }
            | Self::NotJson { location, .. }
            | Self::FromArguments { location }
            | Self::InvalidStageName { location, .. }
            | Self::OnbuildChaining { location }
            | Self::OnbuildForbidden { location, .. }
            | Self::EmptyVolume { location }
            | Self::InvalidNetwork { location, .. }
            | Self::InvalidSecurity { location, .. }
            | Self::NoBuildStage { location }
            | Self::TriggerNotSingle { location, .. }
            | Self::TriggerParse { location, .. }
            | Self::TriggerNotCommand { location } => *location,
        }
    }

    /// The first source line of the offending instruction.
    pub fn line(&self) -> usize {
        self.location().start_line
    }

    /// The message as BuildKit's `instructions.Parse` reports it: instruction errors are
    /// prefixed `dockerfile parse error on line N: `, "no build stage" is not.
    pub fn buildkit_message(&self) -> String {
        match self {
            Self::NoBuildStage { .. } => self.to_string(),
            _ => format!("dockerfile parse error on line {}: {self}", self.line()),
        }
    }
}
