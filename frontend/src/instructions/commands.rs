//! The typed Dockerfile instructions (BuildKit's `instructions/commands.go`).
//!
//! Every command keeps its words raw (unexpanded): build-arg and ENV expansion happens
//! later, at lowering, on top of these values.

use serde::Serialize;

use super::device::Device;
use super::mount::RunMount;

/// Where an instruction sits in the Dockerfile (1-based lines, continuations included).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Location {
    pub start_line: usize,
    pub end_line: usize,
}

/// One `KEY=VALUE` of ENV or LABEL, order of appearance kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyValuePair {
    pub key: String,
    pub value: String,
    /// True for the legacy `ENV KEY value` form (no `=`).
    pub no_delim: bool,
}

/// One name of an ARG line, with its default when one is given (`ARG A=1 B`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArgPair {
    pub key: String,
    pub value: Option<String>,
    /// The comment above the ARG that starts with `<key> ` (BuildKit's DocComment), without it.
    pub doc_comment: String,
}

/// A heredoc body that becomes a file for RUN/CMD/ENTRYPOINT (BuildKit's ShellInlineFile).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShellInlineFile {
    pub name: String,
    /// The body as written (not chomped: the consumer strips tabs when `chomp`).
    pub data: String,
    pub chomp: bool,
}

/// A command line of RUN, CMD or ENTRYPOINT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShellDependentCmdLine {
    /// Exec form: the JSON elements; shell form: one string, the arguments joined by spaces.
    /// For ENTRYPOINT an empty list stays empty (BuildKit's nil).
    pub cmd_line: Vec<String>,
    /// Heredoc bodies attached to the instruction.
    pub files: Vec<ShellInlineFile>,
    /// True for the shell form (the stage's SHELL is prepended).
    pub prepend_shell: bool,
}

/// An inline file source of COPY/ADD (`COPY <<EOF /dest`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceContent {
    /// The heredoc name, used as the file name.
    pub path: String,
    /// The body; already chomped for `<<-`.
    pub data: String,
    /// False when the heredoc word was quoted: the body must not be expanded.
    pub expand: bool,
}

/// Sources and destination of COPY/ADD.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourcesAndDest {
    pub dest_path: String,
    pub source_paths: Vec<String>,
    pub source_contents: Vec<SourceContent>,
}

/// RUN `--network`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    #[default]
    Default,
    None,
    Host,
}

impl NetworkMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::None => "none",
            Self::Host => "host",
        }
    }
}

/// RUN `--security`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SecurityMode {
    #[default]
    Sandbox,
    Insecure,
}

impl SecurityMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sandbox => "sandbox",
            Self::Insecure => "insecure",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunCommand {
    pub location: Location,
    pub original: String,
    #[serde(flatten)]
    pub cmd: ShellDependentCmdLine,
    /// `--mount` values, csv-split but unexpanded; see [`RunMount::resolve`].
    pub mounts: Vec<RunMount>,
    pub network: NetworkMode,
    pub security: SecurityMode,
    /// `--device` values (CDI devices).
    pub devices: Vec<Device>,
    /// Names of the flags given (without `--`), sorted.
    pub flags_used: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CopyCommand {
    pub location: Location,
    pub original: String,
    #[serde(flatten)]
    pub sources_and_dest: SourcesAndDest,
    /// `--from`, empty when absent.
    pub from: String,
    pub chown: String,
    pub chmod: String,
    pub link: bool,
    pub parents: bool,
    pub excludes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddCommand {
    pub location: Location,
    pub original: String,
    #[serde(flatten)]
    pub sources_and_dest: SourcesAndDest,
    pub chown: String,
    pub chmod: String,
    pub link: bool,
    pub excludes: Vec<String>,
    /// `--keep-git-dir`, None when not given.
    pub keep_git_dir: Option<bool>,
    /// `--checksum`, empty when absent.
    pub checksum: String,
    /// `--unpack`, None when not given.
    pub unpack: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvCommand {
    pub location: Location,
    pub original: String,
    pub env: Vec<KeyValuePair>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LabelCommand {
    pub location: Location,
    pub original: String,
    pub labels: Vec<KeyValuePair>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArgCommand {
    pub location: Location,
    pub original: String,
    pub args: Vec<ArgPair>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CmdCommand {
    pub location: Location,
    pub original: String,
    #[serde(flatten)]
    pub cmd: ShellDependentCmdLine,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntrypointCommand {
    pub location: Location,
    pub original: String,
    #[serde(flatten)]
    pub cmd: ShellDependentCmdLine,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExposeCommand {
    pub location: Location,
    pub original: String,
    /// The ports as written, sorted (BuildKit sorts them).
    pub ports: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VolumeCommand {
    pub location: Location,
    pub original: String,
    /// Each volume trimmed of surrounding whitespace.
    pub volumes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserCommand {
    pub location: Location,
    pub original: String,
    pub user: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkdirCommand {
    pub location: Location,
    pub original: String,
    pub path: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShellCommand {
    pub location: Location,
    pub original: String,
    pub shell: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StopsignalCommand {
    pub location: Location,
    pub original: String,
    pub signal: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MaintainerCommand {
    pub location: Location,
    pub original: String,
    pub maintainer: String,
}

/// HEALTHCHECK's configuration, as the image config's `Healthcheck`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Healthcheck {
    /// `HEALTHCHECK NONE`: the test is `["NONE"]`.
    None,
    /// `HEALTHCHECK [flags] CMD ...`.
    Cmd(HealthcheckConfig),
}

/// A HEALTHCHECK CMD. Durations are in nanoseconds; 0 means "not set" (inherit the default).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthcheckConfig {
    /// `["CMD", args...]` for the exec form, `["CMD-SHELL", "cmd line"]` for the shell form.
    pub test: Vec<String>,
    pub interval_ns: i64,
    pub timeout_ns: i64,
    pub start_period_ns: i64,
    pub start_interval_ns: i64,
    pub retries: i32,
}

impl Healthcheck {
    /// The image config `Test` list (`["NONE"]` for NONE).
    pub fn test(&self) -> Vec<String> {
        match self {
            Self::None => vec!["NONE".to_string()],
            Self::Cmd(c) => c.test.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthcheckCommand {
    pub location: Location,
    pub original: String,
    pub health: Healthcheck,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OnbuildCommand {
    pub location: Location,
    pub original: String,
    /// The trigger's source text without the `ONBUILD` keyword (heredoc bodies appended),
    /// as stored in the image config's `OnBuild` list.
    pub expression: String,
}

/// One instruction inside a stage (FROM starts a [`Stage`] instead).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "instruction", rename_all = "lowercase")]
pub enum Command {
    Run(RunCommand),
    Copy(CopyCommand),
    Add(AddCommand),
    Env(EnvCommand),
    Label(LabelCommand),
    Arg(ArgCommand),
    Cmd(CmdCommand),
    Entrypoint(EntrypointCommand),
    Expose(ExposeCommand),
    Volume(VolumeCommand),
    User(UserCommand),
    Workdir(WorkdirCommand),
    Shell(ShellCommand),
    Stopsignal(StopsignalCommand),
    Healthcheck(HealthcheckCommand),
    Onbuild(OnbuildCommand),
    Maintainer(MaintainerCommand),
}

impl Command {
    /// The lower-cased instruction keyword (`"run"`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Run(_) => "run",
            Self::Copy(_) => "copy",
            Self::Add(_) => "add",
            Self::Env(_) => "env",
            Self::Label(_) => "label",
            Self::Arg(_) => "arg",
            Self::Cmd(_) => "cmd",
            Self::Entrypoint(_) => "entrypoint",
            Self::Expose(_) => "expose",
            Self::Volume(_) => "volume",
            Self::User(_) => "user",
            Self::Workdir(_) => "workdir",
            Self::Shell(_) => "shell",
            Self::Stopsignal(_) => "stopsignal",
            Self::Healthcheck(_) => "healthcheck",
            Self::Onbuild(_) => "onbuild",
            Self::Maintainer(_) => "maintainer",
        }
    }

    pub fn location(&self) -> Location {
        self.common().0
    }

    /// The instruction's source text, trimmed (BuildKit's `String()` of a command).
    pub fn original(&self) -> &str {
        self.common().1
    }

    fn common(&self) -> (Location, &str) {
        match self {
            Self::Run(c) => (c.location, &c.original),
            Self::Copy(c) => (c.location, &c.original),
            Self::Add(c) => (c.location, &c.original),
            Self::Env(c) => (c.location, &c.original),
            Self::Label(c) => (c.location, &c.original),
            Self::Arg(c) => (c.location, &c.original),
            Self::Cmd(c) => (c.location, &c.original),
            Self::Entrypoint(c) => (c.location, &c.original),
            Self::Expose(c) => (c.location, &c.original),
            Self::Volume(c) => (c.location, &c.original),
            Self::User(c) => (c.location, &c.original),
            Self::Workdir(c) => (c.location, &c.original),
            Self::Shell(c) => (c.location, &c.original),
            Self::Stopsignal(c) => (c.location, &c.original),
            Self::Healthcheck(c) => (c.location, &c.original),
            Self::Onbuild(c) => (c.location, &c.original),
            Self::Maintainer(c) => (c.location, &c.original),
        }
    }
}

/// A build stage: a FROM and the commands up to the next FROM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stage {
    /// `AS name`, lower-cased and validated; None for an unnamed stage.
    pub name: Option<String>,
    /// The image or stage to build on, raw (may hold `$ARG`s).
    pub base_name: String,
    /// `--platform` as written (raw), None when not given.
    pub platform: Option<String>,
    pub commands: Vec<Command>,
    pub location: Location,
    /// The FROM line's source text, trimmed.
    pub original: String,
    /// The comment above FROM that starts with `<name> ` (BuildKit's DocComment), without it.
    pub doc_comment: String,
    /// The comment lines directly above FROM.
    pub comments: Vec<String>,
}

/// One instruction as parsed alone: a stage start or a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "lowercase")]
pub enum Instruction {
    Stage(Stage),
    Command(Command),
}

/// A whole Dockerfile in typed form.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ParsedFile {
    /// ARGs before the first FROM (the meta args, usable in FROM lines).
    pub meta_args: Vec<ArgCommand>,
    pub stages: Vec<Stage>,
}

impl ParsedFile {
    /// Index of the stage named `name` (case-insensitive, as BuildKit's HasStage).
    pub fn stage_index(&self, name: &str) -> Option<usize> {
        self.stages.iter().position(|s| {
            s.name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
    }
}
