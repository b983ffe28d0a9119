//! Errors of the lowering step, each tied to the instruction(s) it is about.

use crate::instructions::{InstructionError, Location, MountError};
use crate::parser::ParseError;
use crate::shell::ShellError;
use slipway_graph::PlatformError;

use super::options::OptionsError;
use super::reference::ReferenceError;
use super::resolver::ResolveError;

/// A lowering error and the source lines it is about (empty when it is about no line,
/// e.g. an unknown `--target`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}")]
pub struct LowerError {
    pub locations: Vec<Location>,
    /// Boxed: some kinds carry large nested errors.
    pub kind: Box<LowerErrorKind>,
}

impl LowerError {
    pub fn at(location: Location, kind: LowerErrorKind) -> LowerError {
        LowerError {
            locations: vec![location],
            kind: Box::new(kind),
        }
    }

    pub fn nowhere(kind: LowerErrorKind) -> LowerError {
        LowerError {
            locations: Vec::new(),
            kind: Box::new(kind),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LowerErrorKind {
    #[error("the Dockerfile cannot be empty")]
    EmptyDockerfile,
    #[error("dockerfile contains no stages to build")]
    NoStages,
    #[error("{source}")]
    Options { source: OptionsError },
    #[error("{source}")]
    Expand { source: ShellError },
    #[error("base name ({base}) should not be blank")]
    BlankBaseName { base: String },
    #[error("failed to process arguments for platform {result}: {source}")]
    PlatformArgs { result: String, source: ShellError },
    #[error("empty platform value from expression {expression}")]
    EmptyPlatform { expression: String },
    #[error("failed to parse platform {expression}: {source}")]
    BadPlatform {
        expression: String,
        source: PlatformError,
    },
    #[error("target stage {target:?} could not be found{}", did_you_mean(.suggestion))]
    TargetNotFound {
        target: String,
        suggestion: Option<String>,
    },
    #[error("invalid stage index {index}")]
    InvalidStageIndex { index: String },
    #[error("variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround")]
    FromVariable,
    #[error("circular dependency detected on stage: {stage}")]
    CircularDependency { stage: String },
    #[error(
        "cannot copy from stage {from:?}, it needs to be defined before current stage {stage:?}"
    )]
    CopyFromLaterStage { from: String, stage: String },
    #[error("cannot mount from stage {from:?} to {target:?}, stage needs to be defined before current command")]
    MountFromLaterStage { from: String, target: String },
    #[error("failed to parse stage name {name:?}: {source}")]
    InvalidReference {
        name: String,
        source: ReferenceError,
    },
    /// `name` is the image as written in the Dockerfile.
    #[error("{source}")]
    Resolve { name: String, source: ResolveError },
    #[error("{source}")]
    OnbuildParse { source: ParseError },
    #[error("{source}")]
    OnbuildInstruction { source: InstructionError },
    #[error("{source}")]
    Mount { source: MountError },
    #[error("invalid mount target {target:?}")]
    InvalidMountTarget { target: String },
    #[error("parsing produced an invalid run command: {args}")]
    InvalidRunHeredoc { args: String },
    #[error(
        "invalid chmod parameter: '{value}'. it should be octal string and between 0 and 07777"
    )]
    InvalidChmod { value: String },
    #[error("invalid chmod parameter: {value:?} is neither an octal mode nor a symbolic mode (e.g. u+x,g=rw)")]
    InvalidSymbolicChmod { value: String },
    #[error("invalid chown parameter: {value:?}")]
    InvalidChown { value: String },
    #[error("checksum can't be specified for COPY")]
    ChecksumForCopy,
    #[error("checksum can't be specified for multiple sources")]
    ChecksumMultipleSources,
    #[error("checksum requires HTTP(S) or Git sources")]
    ChecksumNeedsRemote,
    #[error("invalid checksum {value:?}: only sha256:<64 hex digits> is supported")]
    BadChecksum { value: String },
    #[error("source can't be a URL for COPY")]
    UrlForCopy,
    #[error("source can't be a git ref for COPY")]
    GitForCopy,
    #[error("{url}: {source}")]
    GitRef {
        url: String,
        #[source]
        source: super::git_ref::GitRefError,
    },
    #[error("inconsistent keep-git-dir configuration")]
    InconsistentKeepGitDir,
    #[error("checksum mismatch {flag:?} != {query:?}")]
    GitChecksumConflict { flag: String, query: String },
    #[error("{url}: the git checksum {value:?} is not a commit id (hex digits)")]
    GitChecksumNotHex { url: String, value: String },
    #[error("{what} is not supported yet")]
    NotSupported { what: &'static str },
    #[error("normalizing workdir: cannot normalize nothing")]
    EmptyWorkdir,
    #[error("{message}")]
    InvalidPort { message: String },
    #[error("VOLUME specified can not be an empty string")]
    EmptyVolume,
    #[error("Invalid signal: {signal}")]
    InvalidSignal { signal: String },
    #[error("invalid SOURCE_DATE_EPOCH: {value}")]
    SourceDateEpoch { value: String },
    #[error("stage {base:?} must be lowered before the stages built on it")]
    StageOrder { base: String },
}

fn did_you_mean(s: &Option<String>) -> String {
    s.as_ref()
        .map(|s| format!(" (did you mean {s}?)"))
        .unwrap_or_default()
}
