//! The published-port reconciler: engine events → the wanted rules → the driver's forwards
//! (QEMU: `hostfwd` through QMP). Runs only for drivers that forward ports themselves
//! ([`gantry_machine::driver::PortForwarding::ByDriver`]).

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;

use futures_util::StreamExt;
use gantry_engine::{CancellationToken, ContainerFilter, Engine, EngineEvent, EventFilter};
use gantry_machine::driver::{Driver, RunState};
use gantry_machine::ports::{self, PortForwarder, Published};

use super::Shared;

/// A forwarder that starts from the rules the driver has (after `kill -9` of the previous
/// agent): nothing is added twice (no false "port in use") and rules of containers stopped
/// meanwhile are removed by the first reconcile.
pub(super) async fn seeded_forwarder<D: Driver>(shared: &Shared<D>, state: &RunState) -> PortForwarder {
    match shared.driver.installed_forwards(state).await {
        Ok(rules) => {
            tracing::info!(rules = rules.len(), "port forwards found in the VM's network");
            PortForwarder::seeded(rules)
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the VM's port forwards");
            PortForwarder::new()
        }
    }
}

pub(super) async fn reconcile_ports<D: Driver>(
    shared: &Shared<D>,
    engine: &Engine,
    fwd: &mut PortForwarder,
    bind: IpAddr,
) {
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
    let conflicts = match shared.driver.reconcile_forwards(fwd, &want).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "port forwarding unavailable");
            return;
        }
    };
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

pub(super) async fn port_task<D: Driver>(
    shared: Arc<Shared<D>>,
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
                // the VM may have restarted: its rules may be gone; re-add the full set
                shared.driver.clear_forwards(&mut fwd).await;
                reconcile_ports(&shared, &engine, &mut fwd, bind).await;
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => tracing::warn!(error = %e, "engine events"),
            None => return,
        }
    }
}
