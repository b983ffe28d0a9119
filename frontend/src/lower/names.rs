//! Progress names of vertices, as BuildKit's `prefixCommand`:
//! `[linux/amd64->arm64 build 2/5] RUN make`.

use crate::shell::{EnvGetter, Lexer};
use slipway_graph::Platform;

use super::env::EnvList;

/// The per-stage numbering of named steps.
#[derive(Debug, Clone, Default)]
pub struct StepCounter {
    /// The stage's name as shown (empty when the file has a single stage).
    pub stage: String,
    pub index: usize,
    pub total: usize,
    /// Show platforms (a multi-platform request).
    pub show_platform: bool,
}

impl StepCounter {
    /// Names the next step: increments the index unless the stage has no counted steps.
    pub fn name(
        &mut self,
        text: &str,
        platform: &Platform,
        env: Option<&EnvList>,
        on_build: bool,
    ) -> String {
        if self.total == 0 {
            return text.to_string();
        }
        let mut out = String::from("[");
        if self.show_platform {
            out.push_str(&platform.to_string());
            if let Some(env) = env {
                out.push_str(&format_target_platform(platform, env));
            }
            out.push(' ');
        }
        if !self.stage.is_empty() {
            out.push_str(&self.stage);
            out.push(' ');
        }
        self.index += 1;
        let width = digits(self.total);
        out.push_str(&format!("{:>width$}/{}] ", self.index, self.total));
        if on_build {
            out.push_str("ONBUILD ");
        }
        out.push_str(text);
        out
    }
}

fn digits(n: usize) -> usize {
    n.max(1).to_string().len()
}

/// `uppercaseCmd`: upper-cases the first word.
pub fn uppercase_cmd(s: &str) -> String {
    match s.split_once(' ') {
        Some((first, rest)) => format!("{} {rest}", first.to_uppercase()),
        None => s.to_uppercase(),
    }
}

/// `processCmdEnv`: expands `cmd` with `env`, or keeps it as written when expansion fails.
pub fn process_cmd_env(lexer: &Lexer, cmd: &str, env: &dyn EnvGetter) -> String {
    lexer
        .process_word(cmd, env)
        .map(|e| e.result)
        .unwrap_or_else(|_| cmd.to_string())
}

/// `formatTargetPlatform`: `->arm64` when the stage's `TARGET*` args (in its env) name
/// another platform than the one it runs on.
fn format_target_platform(base: &Platform, env: &EnvList) -> String {
    let mut os = None;
    let mut arch = None;
    let mut variant = String::new();
    let mut from_full: Option<Platform> = None;
    for key in env.keys() {
        let value = env.get(key).unwrap_or_default();
        match key {
            "TARGETPLATFORM" => {
                if let Ok(p) = value.parse::<Platform>() {
                    from_full = Some(p);
                    break;
                }
            }
            "TARGETOS" => os = Some(value.to_string()),
            "TARGETARCH" => arch = Some(value.to_string()),
            "TARGETVARIANT" => variant = value.to_string(),
            _ => {}
        }
    }
    let target = match from_full {
        Some(p) => p,
        None if os.is_none()
            && arch.is_none()
            && variant.is_empty()
            && !env.contains("TARGETVARIANT") =>
        {
            return String::new()
        }
        None => {
            let os = os
                .filter(|o| !o.is_empty())
                .unwrap_or_else(|| base.os.clone());
            let arch = arch
                .filter(|a| !a.is_empty())
                .unwrap_or_else(|| base.architecture.clone());
            Platform::new(&os, &arch, &variant)
        }
    };
    if target.os == base.os && target.architecture != base.architecture {
        let mut s = format!("->{}", target.architecture);
        if !target.variant.is_empty() {
            s.push('/');
            s.push_str(&target.variant);
        }
        s
    } else if target.os != base.os {
        format!("->{target}")
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        let amd: Platform = "linux/amd64".parse().unwrap();
        let mut c = StepCounter {
            stage: "build".into(),
            index: 0,
            total: 12,
            show_platform: true,
        };
        let mut env = EnvList::new();
        env.set("TARGETARCH", "arm64");
        assert_eq!(
            c.name("RUN make", &amd, Some(&env), false),
            "[linux/amd64->arm64 build  1/12] RUN make"
        );
        assert_eq!(
            c.name("COPY . .", &amd, None, true),
            "[linux/amd64 build  2/12] ONBUILD COPY . ."
        );
        let mut single = StepCounter {
            stage: String::new(),
            index: 0,
            total: 3,
            show_platform: false,
        };
        assert_eq!(single.name("RUN x", &amd, None, false), "[1/3] RUN x");
        assert_eq!(uppercase_cmd("run echo hi"), "RUN echo hi");
    }
}
