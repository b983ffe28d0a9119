//! The progress renderer thread shared by embedded and farm builds: events go in through a
//! channel, the renderer writes to stderr until the channel closes.

use slipway_progress::{ProgressEvent, ProgressMode, Renderer};
use tokio::sync::mpsc;

/// Starts the renderer; drop the sender and join the handle to flush it.
pub fn spawn_renderer(
    mode: ProgressMode,
) -> (mpsc::Sender<ProgressEvent>, std::thread::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel::<ProgressEvent>(1024);
    let handle = std::thread::spawn(move || {
        let mut renderer = Renderer::stderr(mode);
        while let Some(ev) = rx.blocking_recv() {
            if renderer.event(&ev).is_err() {
                break;
            }
        }
        let _ = renderer.finish();
    });
    (tx, handle)
}
