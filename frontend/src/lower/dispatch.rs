//! Lowering one stage: initialise it from its base, then dispatch each command
//! (BuildKit's `dispatchStages` loop body and the small `dispatch*` functions).

use crate::instructions::{ArgCommand, Command, Location};
use crate::shell::EnvGetter;
use slipway_graph::{FileAction, FileOp, MkdirAction, Op};

use super::base::default_path;
use super::chown::parse_chown;
use super::config;
use super::ctx::{Ctx, Dispatched, FsState, Inputs, VertexMeta};
use super::env::parse_key_value;
use super::error::{LowerError, LowerErrorKind};
use super::names::{process_cmd_env, uppercase_cmd, StepCounter};
use super::paths::normalize_path;
use super::stages::{Cmd, Entry, Table};

/// ARGs that never become environment variables.
const NON_ENV_ARGS: [&str; 2] = ["BUILDKIT_SBOM_SCAN_CONTEXT", "BUILDKIT_SBOM_SCAN_STAGE"];

/// A stage being lowered.
pub struct StageRun<'c, 'a> {
    pub ctx: &'c mut Ctx<'a>,
    pub entries: &'c [Entry],
    pub d: Dispatched,
    pub counter: StepCounter,
    /// CMD was set in this stage (ENTRYPOINT then keeps it).
    pub cmd_set: bool,
}

/// Lowers entry `i` (its base, if a stage, is already lowered).
pub fn dispatch_entry(ctx: &mut Ctx, table: &mut Table, i: usize) -> Result<(), LowerError> {
    let e = &table.entries[i];
    let mut steps_used = 0;
    let d = match (e.base, &e.resolved) {
        (Some(b), _) => {
            let base = table.entries[b].done.as_ref().ok_or_else(|| {
                LowerError::at(
                    e.location,
                    LowerErrorKind::StageOrder {
                        base: table.entries[b].display.clone(),
                    },
                )
            })?;
            let mut d = base.clone();
            d.image.on_build.clear();
            d
        }
        (None, Some(r)) => {
            steps_used = r.steps_used;
            let mut state = FsState::scratch(r.platform.clone());
            state.root = r.root.clone();
            Dispatched {
                state,
                image: r.image.clone(),
                build_args: Vec::new(),
                workdir_set: false,
            }
        }
        (None, None) => {
            return Err(LowerError::at(
                e.location,
                LowerErrorKind::StageOrder {
                    base: e.base_name.clone(),
                },
            ))
        }
    };
    let counter = StepCounter {
        stage: e.display.clone(),
        index: steps_used,
        total: e.cmd_total,
        show_platform: ctx.show_platform,
    };
    let commands = e.commands.clone();
    let location = e.location;
    let mut run = StageRun {
        ctx,
        entries: &table.entries,
        d,
        counter,
        cmd_set: false,
    };
    run.init(location)?;
    for cmd in &commands {
        run.dispatch(cmd)?;
    }
    let done = run.d;
    table.entries[i].done = Some(done);
    Ok(())
}

impl StageRun<'_, '_> {
    /// Base-image metadata into the state: PATH, Env, WorkingDir, User.
    fn init(&mut self, location: Location) -> Result<(), LowerError> {
        if self.d.image.env_value("PATH").is_none() && self.d.state.platform.os != "windows" {
            self.d.image.env.push(format!("PATH={}", default_path()));
        }
        for kv in self.d.image.env.clone() {
            let (k, v) = parse_key_value(&kv);
            self.d.state.env.set(k, v);
        }
        if !self.d.image.working_dir.is_empty() {
            let wd = self.d.image.working_dir.clone();
            self.workdir(&wd, None, false)
                .map_err(|k| LowerError::at(location, k))?;
        }
        if !self.d.image.user.is_empty() {
            self.d.state.user = self.d.image.user.clone();
        }
        Ok(())
    }

    /// A vertex holding one heredoc body as a file at `path` (COPY and RUN heredocs).
    pub fn inline_document(
        &mut self,
        path: String,
        mode: u32,
        data: String,
    ) -> slipway_graph::Digest {
        let mkfile = FileAction::Mkfile(slipway_graph::MkfileAction {
            path,
            mode,
            data,
            chown: None,
            timestamp: None,
        });
        let platform = self.d.state.platform.clone();
        let meta = VertexMeta {
            name: "[internal] preparing inline document".into(),
            ..Default::default()
        };
        self.ctx.add(
            Op::File(FileOp {
                base: None,
                actions: vec![mkfile],
            }),
            Inputs::default(),
            &platform,
            meta,
        )
    }

    pub fn expand(&self, word: &str) -> Result<String, LowerErrorKind> {
        self.ctx
            .lexer
            .process_word(word, &self.d.state.env)
            .map(|e| e.result)
            .map_err(|source| LowerErrorKind::Expand { source })
    }

    pub fn os(&self) -> String {
        self.d.state.platform.os.clone()
    }

    pub fn commit(&mut self, msg: String, with_layer: bool, buildkit_suffix: bool) {
        config::commit(
            &mut self.d.image,
            msg,
            with_layer,
            buildkit_suffix,
            self.ctx.epoch,
        );
    }

    /// A step's progress name (numbered), from its source text expanded with the env.
    pub fn step_name(&mut self, original: &str, on_build: bool) -> String {
        let text = self.cmd_text(original);
        self.number(&text, on_build)
    }

    /// A command's source text expanded with the env, first word upper-cased.
    pub fn cmd_text(&self, original: &str) -> String {
        uppercase_cmd(&process_cmd_env(
            &self.ctx.lexer,
            original,
            &self.d.state.env,
        ))
    }

    /// Numbers `text` as the stage's next step.
    pub fn number(&mut self, text: &str, on_build: bool) -> String {
        let platform = self.d.state.platform.clone();
        self.counter
            .name(text, &platform, Some(&self.d.state.env), on_build)
    }

    fn dispatch(&mut self, cmd: &Cmd) -> Result<(), LowerError> {
        let loc = cmd.command.location();
        self.dispatch_inner(cmd)
            .map_err(|kind| LowerError::at(loc, kind))
    }

    fn dispatch_inner(&mut self, cmd: &Cmd) -> Result<(), LowerErrorKind> {
        let epoch = self.ctx.epoch;
        let os = self.os();
        match &cmd.command {
            Command::Env(c) => {
                let mut msg = String::from("ENV");
                for kv in &c.env {
                    let (k, v) = (self.expand(&kv.key)?, self.expand(&kv.value)?);
                    msg.push_str(&format!(" {k}={v}"));
                    self.d.state.env.set(&k, &v);
                    self.d.image.set_env(&k, &v);
                }
                self.commit(msg, false, false);
            }
            Command::Label(c) => {
                let mut labels = Vec::new();
                for kv in &c.labels {
                    labels.push((self.expand(&kv.key)?, self.expand(&kv.value)?));
                }
                config::label(&mut self.d.image, &labels, epoch);
            }
            Command::Arg(c) => self.arg(c)?,
            Command::Workdir(c) => {
                let path = self.expand(&c.path)?;
                self.workdir(
                    &path,
                    Some((c.original.as_str(), c.location, cmd.on_build)),
                    true,
                )?;
            }
            Command::User(c) => {
                let user = self.expand(&c.user)?;
                self.d.state.user = user.clone();
                self.d.image.user = user.clone();
                self.commit(format!("USER {user}"), false, false);
            }
            Command::Volume(c) => {
                let volumes = c
                    .volumes
                    .iter()
                    .map(|v| self.expand(v))
                    .collect::<Result<Vec<_>, _>>()?;
                config::volume(&mut self.d.image, &volumes, epoch)?;
            }
            Command::Stopsignal(c) => {
                let signal = self.expand(&c.signal)?;
                config::stopsignal(&mut self.d.image, &signal, epoch)?;
            }
            Command::Expose(c) => {
                let mut ports = Vec::new();
                for p in &c.ports {
                    let words = self
                        .ctx
                        .lexer
                        .process_words(p, &self.d.state.env)
                        .map_err(|source| LowerErrorKind::Expand { source })?;
                    ports.extend(words);
                }
                config::expose(&mut self.d.image, &ports, epoch)?;
            }
            Command::Cmd(c) => {
                config::cmd(&mut self.d.image, &os, &c.cmd, epoch);
                self.cmd_set = true;
            }
            Command::Entrypoint(c) => {
                config::entrypoint(&mut self.d.image, &os, &c.cmd, self.cmd_set, epoch)
            }
            Command::Healthcheck(c) => config::healthcheck(&mut self.d.image, &c.health, epoch),
            Command::Shell(c) => config::shell(&mut self.d.image, &c.shell, epoch),
            Command::Maintainer(c) => config::maintainer(&mut self.d.image, &c.maintainer, epoch),
            Command::Onbuild(c) => self.d.image.on_build.push(c.expression.clone()),
            Command::Run(c) => super::run::dispatch_run(self, c, &cmd.sources, cmd.on_build)?,
            Command::Copy(c) => super::copy::dispatch_copy(self, c, &cmd.sources, cmd.on_build)?,
            Command::Add(c) => super::copy::dispatch_add(self, c, cmd.on_build)?,
        }
        Ok(())
    }

    fn arg(&mut self, c: &ArgCommand) -> Result<(), LowerErrorKind> {
        let mut shown = Vec::new();
        for pair in &c.args {
            let key = pair.key.as_str();
            let override_value = self.ctx.opts.build_args.get(key).cloned();
            let value = match (&override_value, &pair.value) {
                (Some(v), _) => Some(v.clone()),
                (None, Some(default)) => Some(self.expand(default)?),
                (None, None) => self.ctx.global_args.get(key).map(str::to_string),
            };
            if let Some(v) = &value {
                if !NON_ENV_ARGS.contains(&key) {
                    self.d.state.env.set(key, v);
                }
            }
            shown.push(match &value {
                Some(v) => format!("{key}={v}"),
                None => key.to_string(),
            });
            self.d.build_args.push((key.to_string(), value));
        }
        self.commit(format!("ARG {}", shown.join(" ")), false, false);
        Ok(())
    }

    /// WORKDIR; `step` (source text, location, onbuild) is set for a Dockerfile
    /// instruction, which also creates the directory, unset for a base image's WorkingDir.
    fn workdir(
        &mut self,
        path: &str,
        step: Option<(&str, Location, bool)>,
        commit: bool,
    ) -> Result<(), LowerErrorKind> {
        if path.is_empty() {
            return Err(LowerErrorKind::EmptyWorkdir);
        }
        let wd = normalize_path(&self.d.image.working_dir, path, false);
        self.d.image.working_dir = wd.clone();
        self.d.state.cwd = wd.clone();
        let Some((original, location, on_build)) = step.filter(|_| commit) else {
            return Ok(());
        };
        self.d.workdir_set = true;
        let mut with_layer = false;
        if wd != "/" {
            let chown = parse_chown(&self.d.image.user)?;
            let action = FileAction::Mkdir(MkdirAction {
                path: wd.clone(),
                mode: 0o755,
                make_parents: true,
                chown,
                timestamp: self.ctx.epoch,
            });
            let name = self.step_name(original, on_build);
            let mut inputs = Inputs::default();
            let base = inputs.opt(self.d.state.root.as_ref());
            let op = Op::File(FileOp {
                base,
                actions: vec![action],
            });
            let platform = self.d.state.platform.clone();
            let meta = VertexMeta {
                name,
                location: Some(location),
                command: None,
            };
            self.d.state.root = Some(self.ctx.add(op, inputs, &platform, meta));
            with_layer = true;
        }
        self.commit(format!("WORKDIR {wd}"), with_layer, false);
        Ok(())
    }

    /// The environment as RUN shows it in names: secret env vars masked.
    pub fn masked_env(&self, secret_names: &[String]) -> super::env::EnvList {
        let mut env = self.d.state.env.clone();
        for n in secret_names {
            env.set(n, "****");
        }
        env
    }

    /// `RUN |n K=V ... args`: the build args in scope (their current value) and the args.
    pub fn run_history(&self, args: &[String]) -> String {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (k, v) in &self.d.build_args {
            let value = EnvGetter::get(&self.d.state.env, k)
                .map(str::to_string)
                .unwrap_or_else(|| v.clone().unwrap_or_default());
            match pairs.iter_mut().find(|(pk, _)| pk == k) {
                Some(slot) => slot.1 = value,
                None => pairs.push((k.clone(), value)),
            }
        }
        let mut parts = Vec::new();
        if !pairs.is_empty() {
            parts.push(format!("|{}", pairs.len()));
            parts.extend(pairs.iter().map(|(k, v)| format!("{k}={v}")));
        }
        parts.extend(args.iter().cloned());
        format!("RUN {}", parts.join(" "))
    }
}
