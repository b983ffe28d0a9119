//! The signals that stop a command the way Ctrl-C does: SIGINT, SIGTERM (`kill`, service
//! managers) and SIGHUP (the terminal closed). Each cancels what is running, so the command
//! removes its containers, bundles and mounts instead of dying with them left behind.

use tokio::signal::unix::{signal, SignalKind};

/// Resolves with the signal's name on the first SIGINT, SIGTERM or SIGHUP after the first
/// poll (the handlers are installed then). A signal whose handler cannot be installed is
/// logged and never fires; the others still do.
pub async fn interrupted() -> &'static str {
    tokio::select! {
        name = one(SignalKind::interrupt(), "SIGINT") => name,
        name = one(SignalKind::terminate(), "SIGTERM") => name,
        name = one(SignalKind::hangup(), "SIGHUP") => name,
    }
}

async fn one(kind: SignalKind, name: &'static str) -> &'static str {
    match signal(kind) {
        Ok(mut s) => {
            // None: the runtime is shutting down, which stops the command as well.
            let _ = s.recv().await;
        }
        Err(error) => {
            tracing::warn!(signal = name, %error, "cannot handle the signal");
            std::future::pending::<()>().await;
        }
    }
    tracing::info!(signal = name, "interrupted");
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::signal::{raise, Signal};
    use std::time::Duration;

    #[tokio::test]
    async fn sigint_sigterm_and_sighup_each_resolve_with_their_name() {
        for (sig, name) in [
            (Signal::SIGINT, "SIGINT"),
            (Signal::SIGTERM, "SIGTERM"),
            (Signal::SIGHUP, "SIGHUP"),
        ] {
            let mut waiting = Box::pin(interrupted());
            // Polled (so the handlers are installed) and not resolved without a signal.
            assert!(
                tokio::time::timeout(Duration::from_millis(20), &mut waiting)
                    .await
                    .is_err(),
                "resolved before {name}"
            );
            raise(sig).unwrap();
            let got = tokio::time::timeout(Duration::from_secs(10), waiting)
                .await
                .unwrap_or_else(|_| panic!("{name} did not resolve it"));
            assert_eq!(got, name);
        }
    }
}
