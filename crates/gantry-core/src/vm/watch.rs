//! Following the agent's status from a front end that outlives it: [`watch`] forwards the
//! control socket's events, says `Stopped` (or why the VM went away) when the agent is gone, and
//! keeps looking for the next agent (e.g. `gantry start` from a terminal).

use std::time::Duration;

use gantry_engine::CancellationToken;

use crate::vm::status::VmStatus;
use crate::vm::{Instance, status, subscribe};

/// First wait before looking for the agent again; doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// Longest wait between two looks for the agent.
pub const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// What to report when the agent's connection closed after `last`: nothing when it had already
/// said how it ended, `Stopped` after a clean stop, else the VM went away unexpectedly (or runs
/// on without its agent: `now`).
fn after_close(instance: &Instance, last: Option<&VmStatus>, now: VmStatus) -> Option<VmStatus> {
    match last {
        Some(VmStatus::Stopped | VmStatus::Error { .. }) => None,
        Some(VmStatus::Stopping) => Some(VmStatus::Stopped),
        _ if now.is_up() => Some(now),
        _ => Some(VmStatus::Error {
            message: "the VM stopped unexpectedly (its agent exited)".into(),
            hint: format!("start it again; see {} and `gantry logs --console`", instance.agent_log().display()),
        }),
    }
}

/// Calls `emit` with each status of `instance` until `cancel` fires: the agent's events while
/// it runs (the first is its current status); when it is not running, its state without an
/// agent (`Stopped`, or `Degraded` for a QEMU left without its agent) once, then a look for a
/// new agent every [`MAX_BACKOFF`] at most.
pub async fn watch(instance: &Instance, cancel: &CancellationToken, mut emit: impl FnMut(VmStatus)) {
    let mut last: Option<VmStatus> = None;
    let mut backoff = MIN_BACKOFF;
    // a state said by the watcher itself is said once
    let send = |s: VmStatus, last: &mut Option<VmStatus>, emit: &mut dyn FnMut(VmStatus)| {
        if last.as_ref() != Some(&s) {
            emit(s.clone());
            *last = Some(s);
        }
    };
    loop {
        let connected = tokio::select! {
            () = cancel.cancelled() => return,
            c = subscribe(instance) => c,
        };
        match connected {
            Ok(mut sub) => {
                tracing::debug!(instance = instance.name(), "watching the agent");
                let mut seen = false;
                loop {
                    let next = tokio::select! {
                        () = cancel.cancelled() => return,
                        n = sub.next() => n,
                    };
                    let Some(s) = next else { break };
                    seen = true;
                    // the agent's own events are all forwarded, repeats too
                    emit(s.clone());
                    last = Some(s);
                }
                tracing::debug!(instance = instance.name(), "the agent's control connection closed");
                if seen || last.as_ref().is_some_and(VmStatus::is_up) {
                    let now = status(instance).await;
                    if let Some(s) = after_close(instance, last.as_ref(), now) {
                        send(s, &mut last, &mut emit);
                    }
                }
                // an agent that closes without a word is not asked again at once
                backoff = if seen { MIN_BACKOFF } else { (backoff * 2).min(MAX_BACKOFF) };
                tokio::select! {
                    () = cancel.cancelled() => return,
                    () = tokio::time::sleep(MIN_BACKOFF.max(backoff / 2)) => {}
                }
            }
            Err(e) => {
                tracing::trace!(error = %e, "no agent");
                if last.is_none() || last.as_ref().is_some_and(|s| !matches!(s, VmStatus::Error { .. })) {
                    let now = status(instance).await;
                    // an error already shown stays until something new happens
                    send(now, &mut last, &mut emit);
                }
                tokio::select! {
                    () = cancel.cancelled() => return,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::vm::agent::FakeAgent;
    use crate::vm::status::{RunningInfo, Step};

    fn running() -> VmStatus {
        VmStatus::Running(RunningInfo {
            accel: "tcg".into(),
            docker_host: "unix:///x/docker.sock".into(),
            ..Default::default()
        })
    }

    fn degraded() -> VmStatus {
        VmStatus::Degraded {
            reasons: vec!["port 8080 is already in use on this computer".into()],
            info: RunningInfo { accel: "tcg".into(), ..Default::default() },
        }
    }

    /// The watcher, running; its events arrive on the returned channel.
    fn start(
        instance: &Instance,
    ) -> (CancellationToken, tokio::sync::mpsc::UnboundedReceiver<VmStatus>, tokio::task::JoinHandle<()>) {
        let cancel = CancellationToken::new();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let (inst, c) = (instance.clone(), cancel.clone());
        let task = tokio::spawn(async move {
            watch(&inst, &c, |s| {
                let _ = tx.send(s);
            })
            .await;
        });
        (cancel, rx, task)
    }

    #[tokio::test]
    async fn follows_the_agent_through_stops_and_restarts_until_cancelled() {
        let t = tempfile::tempdir().unwrap();
        let inst = Instance::at(t.path().join("default"));
        let (cancel, mut rx, task) = start(&inst);

        // no agent yet: stopped
        assert_eq!(rx.recv().await, Some(VmStatus::Stopped));

        // an agent appears (`gantry start` in a terminal): its events, in order
        let agent = FakeAgent::serve(&inst, VmStatus::starting(Step::BootVm, None)).unwrap();
        assert_eq!(rx.recv().await, Some(VmStatus::starting(Step::BootVm, None)));
        agent.publish(VmStatus::starting(Step::WaitForEngine, Some("dockerd".into())));
        agent.publish(running());
        agent.publish(degraded());
        assert_eq!(rx.recv().await, Some(VmStatus::starting(Step::WaitForEngine, Some("dockerd".into()))));
        assert_eq!(rx.recv().await, Some(running()));
        assert_eq!(rx.recv().await, Some(degraded()));

        // a clean stop: stopping, stopped, then the agent exits; nothing more
        agent.publish(VmStatus::Stopping);
        agent.publish(VmStatus::Stopped);
        assert_eq!(rx.recv().await, Some(VmStatus::Stopping));
        assert_eq!(rx.recv().await, Some(VmStatus::Stopped));
        agent.exit();

        // back again: events resume
        let agent = FakeAgent::serve(&inst, running()).unwrap();
        assert_eq!(rx.recv().await, Some(running()));

        // the agent goes away without a word: the VM stopped unexpectedly, with a hint
        agent.exit();
        match rx.recv().await {
            Some(VmStatus::Error { message, hint }) => {
                assert!(message.contains("unexpectedly"), "{message}");
                assert!(hint.contains("start it again"), "{hint}");
            }
            other => panic!("expected an error, got {other:?}"),
        }

        // and once more after that
        let agent = FakeAgent::serve(&inst, running()).unwrap();
        assert_eq!(rx.recv().await, Some(running()));

        // cancel ends the watch
        cancel.cancel();
        task.await.unwrap();
        assert_eq!(rx.recv().await, None);
        drop(agent);
    }

    #[tokio::test]
    async fn an_agent_that_stops_while_stopping_reads_as_stopped_and_cancel_ends_a_wait() {
        let t = tempfile::tempdir().unwrap();
        let inst = Instance::at(t.path().join("default"));
        let agent = FakeAgent::serve(&inst, running()).unwrap();
        let (cancel, mut rx, task) = start(&inst);
        assert_eq!(rx.recv().await, Some(running()));
        agent.publish(VmStatus::Stopping);
        assert_eq!(rx.recv().await, Some(VmStatus::Stopping));
        agent.exit();
        assert_eq!(rx.recv().await, Some(VmStatus::Stopped));
        // waiting for an agent that does not come: cancel ends it
        cancel.cancel();
        task.await.unwrap();
        assert_eq!(rx.recv().await, None);
    }

    #[test]
    fn what_a_closed_connection_means() {
        let inst = Instance::at("/nonexistent/default");
        assert_eq!(after_close(&inst, Some(&VmStatus::Stopped), VmStatus::Stopped), None);
        assert_eq!(after_close(&inst, Some(&VmStatus::Stopping), VmStatus::Stopped), Some(VmStatus::Stopped));
        let err = VmStatus::Error { message: "the VM exited unexpectedly".into(), hint: "x".into() };
        assert_eq!(after_close(&inst, Some(&err), VmStatus::Stopped), None);
        assert!(matches!(after_close(&inst, Some(&running()), VmStatus::Stopped), Some(VmStatus::Error { .. })));
        // QEMU still runs without its agent: say so
        assert_eq!(after_close(&inst, Some(&running()), degraded()), Some(degraded()));
    }
}
