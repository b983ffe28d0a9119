//! The client side of a farm build's session (`--secret` with `--builder`): before the
//! build is submitted the client opens a `Session` stream naming the build and waits
//! until the leader registered it; while the build runs it answers the leader's
//! questions for secrets from its own files and variables. The stream is reopened (any
//! coordinator forwards it to the leader) when it breaks before the build ends.

use super::client::{status_error, FarmClient, FarmOptions};
use anyhow::{Context, Result};
use slipway_proto::v1;
use slipway_proto::v1::session_client_message::Msg as ClientMsg;
use slipway_proto::v1::session_server_message::Msg as ServerMsg;
use slipway_worker::SecretSource;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::Streaming;

/// An open session; [`Session::close`] ends it once the build is final.
pub struct Session {
    done: CancellationToken,
    driver: tokio::task::JoinHandle<()>,
}

type Secrets = Arc<BTreeMap<String, SecretSource>>;

struct Open {
    inbound: Streaming<v1::SessionServerMessage>,
    outbound: mpsc::Sender<v1::SessionClientMessage>,
}

/// Opens the session of `build_id` (registered by the leader when this returns) and
/// serves `secrets` in the background.
pub async fn open(
    opts: &FarmOptions,
    build_id: &str,
    secrets: BTreeMap<String, SecretSource>,
) -> Result<Session> {
    let first = connect(opts, build_id)
        .await
        .context("opening the build's client session (for --secret)")?;
    let done = CancellationToken::new();
    let secrets: Secrets = Arc::new(secrets);
    let (opts, id, stop) = (opts.clone(), build_id.to_string(), done.clone());
    let driver = tokio::spawn(async move {
        let mut current = Some(first);
        loop {
            if let Some(open) = current.take() {
                tokio::select! {
                    r = serve(open, &secrets) => if let Err(e) = r {
                        tracing::debug!(error = %e, "client session broke");
                    },
                    _ = stop.cancelled() => return,
                }
            }
            if stop.is_cancelled() {
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(300)) => {}
                _ = stop.cancelled() => return,
            }
            match connect(&opts, &id).await {
                Ok(open) => current = Some(open),
                Err(e) => tracing::debug!(error = %e, "reopening the client session"),
            }
        }
    });
    Ok(Session { done, driver })
}

impl Session {
    pub async fn close(self) {
        self.done.cancel();
        let _ = self.driver.await;
    }
}

async fn connect(opts: &FarmOptions, build_id: &str) -> Result<Open> {
    let mut client = FarmClient::connect(opts).await?;
    let (outbound, rx) = mpsc::channel(16);
    let hello = v1::SessionClientMessage {
        msg: Some(ClientMsg::Open(v1::SessionOpen {
            build_id: build_id.to_string(),
        })),
    };
    outbound
        .send(hello)
        .await
        .map_err(|_| anyhow::anyhow!("session stream closed before it opened"))?;
    let mut inbound = client
        .control()
        .session(ReceiverStream::new(rx))
        .await
        .map_err(status_error)?
        .into_inner();
    match inbound.message().await.map_err(status_error)? {
        Some(v1::SessionServerMessage {
            msg: Some(ServerMsg::Opened(_)),
        }) => Ok(Open { inbound, outbound }),
        other => anyhow::bail!("the coordinator did not open the session (answered {other:?})"),
    }
}

/// Answers questions until the stream ends.
async fn serve(mut open: Open, secrets: &Secrets) -> Result<()> {
    while let Some(m) = open.inbound.message().await.map_err(status_error)? {
        let Some(ServerMsg::Secret(q)) = m.msg else {
            continue;
        };
        let (found, value) = match secrets.get(&q.id).map(SecretSource::read) {
            Some(Ok(Some(v))) => (true, v),
            Some(Ok(None)) | None => (false, Vec::new()),
            Some(Err(e)) => {
                eprintln!("WARNING: secret {:?} cannot be read: {e}", q.id);
                (false, Vec::new())
            }
        };
        let answer = v1::SessionClientMessage {
            msg: Some(ClientMsg::Secret(v1::SecretAnswer {
                request_id: q.request_id,
                id: q.id,
                found,
                value,
            })),
        };
        open.outbound
            .send(answer)
            .await
            .map_err(|_| anyhow::anyhow!("session stream closed"))?;
    }
    Ok(())
}
