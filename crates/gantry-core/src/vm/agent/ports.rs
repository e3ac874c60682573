//! The published-port reconciler: engine events → the wanted `hostfwd` rules → QMP.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;

use futures_util::StreamExt;
use gantry_engine::{CancellationToken, ContainerFilter, Engine, EngineEvent, EventFilter};
use gantry_machine::ports::{self, PortForwarder, Published};

use super::Shared;

/// A forwarder that starts from the rules QEMU has (after `kill -9` of the previous agent):
/// nothing is added twice (no false "port in use") and rules of containers stopped meanwhile
/// are removed by the first reconcile.
pub(super) async fn seeded_forwarder(shared: &Shared, engine_port: u16) -> PortForwarder {
    let usernet = match shared.driver.qmp().await {
        Ok(mut q) => q.usernet().await,
        Err(e) => Err(e),
    };
    match usernet {
        Ok(text) => {
            let rules = ports::parse_usernet(&text, engine_port);
            tracing::info!(rules = rules.len(), "port forwards found in QEMU");
            PortForwarder::seeded(rules)
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot read QEMU's port forwards");
            PortForwarder::new()
        }
    }
}

pub(super) async fn reconcile_ports(shared: &Shared, engine: &Engine, fwd: &mut PortForwarder, bind: IpAddr) {
    let containers = match engine.list_containers(&ContainerFilter::default()).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list containers for port forwarding");
            return;
        }
    };
    let want: BTreeSet<_> = ports::desired(
        containers.iter().flat_map(|c| c.ports.iter()).filter_map(|p| {
            p.host_port.map(|host_port| Published {
                host_port,
                proto: p.protocol.clone(),
                host_ip: p.host_ip.as_deref().and_then(|ip| ip.parse().ok()),
            })
        }),
        bind,
    );
    let mut qmp = match shared.driver.qmp().await {
        Ok(q) => q,
        Err(e) => {
            tracing::warn!(error = %e, "QMP unavailable for port forwarding");
            return;
        }
    };
    let conflicts = fwd.reconcile(&mut qmp, &want).await;
    drop(qmp);
    let problems: Vec<String> = conflicts.iter().map(|c| format!("{}; {}", c, c.hint)).collect();
    let changed = {
        let mut info = match shared.info.lock() {
            Ok(i) => i,
            Err(_) => return,
        };
        let ports: Vec<_> = fwd.active().iter().copied().collect();
        let mut p = match shared.port_problems.lock() {
            Ok(p) => p,
            Err(_) => return,
        };
        let changed = info.forwarded_ports != ports || *p != problems;
        info.forwarded_ports = ports;
        *p = problems;
        changed
    };
    if changed && shared.current.borrow().is_up() {
        shared.publish_running();
    }
}

pub(super) async fn port_task(
    shared: Arc<Shared>,
    engine: Engine,
    mut fwd: PortForwarder,
    bind: IpAddr,
    cancel: CancellationToken,
) {
    let mut events = engine.events(&EventFilter { resources: vec!["container".into()], ..Default::default() });
    loop {
        let item = tokio::select! {
            () = cancel.cancelled() => return,
            item = events.next() => item,
        };
        match item {
            Some(Ok(EngineEvent::Event { event, .. })) => {
                if matches!(
                    event.action.as_str(),
                    "start" | "die" | "stop" | "kill" | "destroy" | "pause" | "unpause" | "restart"
                ) {
                    reconcile_ports(&shared, &engine, &mut fwd, bind).await;
                }
            }
            Some(Ok(EngineEvent::Reconnected { .. })) => {
                // the VM may have restarted: QEMU's rules may be gone; re-add the full set
                if let Ok(mut q) = shared.driver.qmp().await {
                    for r in fwd.active().clone() {
                        let _ = q.hostfwd_remove(ports::NETDEV, &r.remove_arg()).await;
                    }
                }
                fwd.reset();
                reconcile_ports(&shared, &engine, &mut fwd, bind).await;
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => tracing::warn!(error = %e, "engine events"),
            None => return,
        }
    }
}
