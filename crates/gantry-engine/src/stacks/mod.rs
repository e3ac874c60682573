//! Stacks (`docker stack deploy/rm/ls`): a compose file's services deployed to a Swarm as one
//! named group, updated in place when deployed again, removed together.
//!
//! The whole file is read and checked first ([`plan_stack`]); only then is the engine asked to
//! change anything. Names and labels follow the docker CLI, so `docker stack ps/rm` work on
//! stacks Gantry deployed and the other way round.

pub mod compose;
pub mod convert;
pub mod interpolate;
pub mod objects;
pub mod values;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;

use bollard::query_parameters::ListNetworksOptions;
use serde::{Deserialize, Serialize};

pub use convert::{StackPlan, validate_stack_name};

use crate::Engine;
use crate::error::{EngineError, ResourceKind, Result};
use crate::services::STACK_LABEL;
use crate::swarm_objects::{SwarmObjectKind, SwarmObjectSummary};

/// What a deploy did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DeployReport {
    pub stack: String,
    /// Services created, by their engine names (`shop_web`).
    pub created: Vec<String>,
    /// Services updated in place (a rolling update where their spec changed).
    pub updated: Vec<String>,
    /// Services of the stack no longer in the file, removed (with `prune`).
    pub removed: Vec<String>,
    pub networks_created: Vec<String>,
    /// Secrets and configs made (the ones already there are kept: their contents cannot change).
    pub secrets_created: Vec<String>,
    pub configs_created: Vec<String>,
    /// Keys ignored, variables not set, the engine's own warnings.
    pub warnings: Vec<String>,
}

/// What removing a stack removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StackRemoval {
    pub services: Vec<String>,
    pub networks: Vec<String>,
    pub secrets: Vec<String>,
    pub configs: Vec<String>,
}

/// One stack of the swarm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StackSummary {
    pub name: String,
    pub services: u32,
    /// Tasks running and wanted, all its services together.
    pub running: u32,
    pub desired: u32,
}

/// Reads compose `text` (its folder `base_dir`, variables from `lookup`) as stack `stack`:
/// everything the deploy will do, or the place in the file that prevents it.
pub fn plan_stack(
    stack: &str,
    text: &str,
    base_dir: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<StackPlan> {
    let invalid = |e: compose::ComposeError| EngineError::InvalidCompose { location: e.location, message: e.message };
    let mut warnings = Vec::new();
    let value = compose::load(text, lookup, &mut warnings).map_err(invalid)?;
    let mut plan = convert::plan(stack, &value, base_dir, lookup).map_err(invalid)?;
    warnings.append(&mut plan.warnings);
    plan.warnings = warnings;
    Ok(plan)
}

fn stack_filter(stack: &str) -> HashMap<String, Vec<String>> {
    HashMap::from([("label".to_string(), vec![format!("{STACK_LABEL}={stack}")])])
}

impl Engine {
    async fn require_manager(&self) -> Result<()> {
        let status = self.swarm_status().await?;
        if status.manager {
            return Ok(());
        }
        Err(EngineError::NotSwarmManager {
            message: if status.active() {
                "it is a worker of a swarm: stacks are deployed through a manager".into()
            } else {
                "it is not in a swarm".into()
            },
        })
    }

    /// Deploys `plan`: its networks first (external ones must exist), then each service, created
    /// or updated in place; with `prune`, the stack's services that the file no longer has are
    /// removed.
    pub async fn deploy_stack(&self, plan: &StackPlan, prune: bool) -> Result<DeployReport> {
        self.require_manager().await?;
        let mut report =
            DeployReport { stack: plan.stack.clone(), warnings: plan.warnings.clone(), ..Default::default() };
        let existing: Vec<String> = self
            .docker
            .list_networks(None::<ListNetworksOptions>)
            .await
            .map_err(|e| self.err(e, ResourceKind::Network, ""))?
            .into_iter()
            .filter_map(|n| n.name)
            .collect();
        for network in &plan.networks {
            if existing.contains(&network.name) {
                continue;
            }
            if network.external {
                return Err(EngineError::InvalidRequest {
                    message: format!(
                        "network {} is external (made outside the stack) and does not exist: create it first (`docker network create -d overlay --attachable {}`)",
                        network.name, network.name
                    ),
                });
            }
            self.docker
                .create_network(network.create.clone())
                .await
                .map_err(|e| self.err(e, ResourceKind::Network, &network.name))?;
            report.networks_created.push(network.name.clone());
        }

        let ids = self.deploy_stack_objects(plan, &mut report).await?;

        let current: BTreeMap<String, String> =
            self.list_services_filtered(stack_filter(&plan.stack)).await?.into_iter().map(|s| (s.name, s.id)).collect();
        for service in &plan.services {
            let name = service.spec.name.clone().unwrap_or_default();
            let mut spec = service.spec.clone();
            objects::fill_ids(&mut spec, &ids);
            if current.contains_key(&name) {
                let warnings = self
                    .change_service(&name, move |existing| {
                        // keep the force-update counter, or the engine would see a change
                        let force = existing.task_template.as_ref().and_then(|t| t.force_update);
                        *existing = spec;
                        if let Some(task) = existing.task_template.as_mut() {
                            task.force_update = force;
                        }
                        Ok(())
                    })
                    .await?;
                report.warnings.extend(warnings);
                report.updated.push(name);
            } else {
                let answer = self
                    .docker
                    .create_service(spec, None)
                    .await
                    .map_err(|e| self.err(e, ResourceKind::Service, &name))?;
                report.warnings.extend(answer.warnings.unwrap_or_default());
                report.created.push(name);
            }
        }
        if prune {
            let wanted: Vec<String> = plan.services.iter().filter_map(|s| s.spec.name.clone()).collect();
            for name in current.keys().filter(|n| !wanted.contains(n)) {
                self.remove_service(name).await?;
                report.removed.push(name.clone());
            }
        }
        Ok(report)
    }

    /// Removes a stack's services, then its networks (waiting, briefly, for their tasks to let
    /// go of them). Volumes stay, as with `docker stack rm`: they hold data.
    pub async fn remove_stack(&self, stack: &str) -> Result<StackRemoval> {
        validate_stack_name(stack).map_err(|message| EngineError::InvalidRequest { message })?;
        self.require_manager().await?;
        let mut removal = StackRemoval::default();
        for service in self.list_services_filtered(stack_filter(stack)).await? {
            self.remove_service(&service.id).await?;
            removal.services.push(service.name);
        }
        let networks = self
            .docker
            .list_networks(Some(ListNetworksOptions { filters: Some(stack_filter(stack)) }))
            .await
            .map_err(|e| self.err(e, ResourceKind::Network, ""))?;
        for network in networks {
            let (Some(id), Some(name)) = (network.id, network.name) else { continue };
            let mut attempt = 0;
            loop {
                match self.docker.remove_network(&id).await {
                    Ok(()) => break,
                    // the removed services' tasks are still leaving it
                    Err(e) if attempt < 20 => {
                        tracing::debug!(network = %name, error = %e, "network still in use, retrying");
                        attempt += 1;
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                    Err(e) => return Err(self.err(e, ResourceKind::Network, &name)),
                }
            }
            removal.networks.push(name);
        }
        for kind in [SwarmObjectKind::Secret, SwarmObjectKind::Config] {
            for object in self.stack_objects(kind, stack).await? {
                self.remove_swarm_object(kind, &object.id).await?;
                match kind {
                    SwarmObjectKind::Secret => removal.secrets.push(object.name),
                    SwarmObjectKind::Config => removal.configs.push(object.name),
                }
            }
        }
        if removal.services.is_empty()
            && removal.networks.is_empty()
            && removal.secrets.is_empty()
            && removal.configs.is_empty()
        {
            return Err(EngineError::NotFound { kind: ResourceKind::Stack, id: stack.to_string() });
        }
        Ok(removal)
    }

    /// Makes the plan's secrets and configs that do not exist yet (an external one must exist);
    /// one already there is updated with the file's labels, which the engine refuses when the
    /// contents differ (they cannot change, as with `docker stack deploy`). Returns their IDs.
    async fn deploy_stack_objects(
        &self,
        plan: &StackPlan,
        report: &mut DeployReport,
    ) -> Result<BTreeMap<(SwarmObjectKind, String), String>> {
        let mut ids = BTreeMap::new();
        for object in &plan.objects {
            let kind = object.kind;
            let id = match self.find_swarm_object(kind, &object.name).await? {
                Some(found) if object.external => found.id,
                Some(found) => {
                    self.update_swarm_object(kind, &found.id, &object.name, &object.data, &object.labels).await?;
                    found.id
                }
                None if object.external => {
                    return Err(EngineError::InvalidRequest {
                        message: format!(
                            "{} {} is external (made outside the stack) and does not exist: create it first (`gantry {} create {} FILE`)",
                            kind.as_str(),
                            object.name,
                            kind.as_str(),
                            object.name
                        ),
                    });
                }
                None => {
                    let id = self.create_swarm_object(kind, &object.name, &object.data, &object.labels).await?;
                    match kind {
                        SwarmObjectKind::Secret => report.secrets_created.push(object.name.clone()),
                        SwarmObjectKind::Config => report.configs_created.push(object.name.clone()),
                    }
                    id
                }
            };
            ids.insert((kind, object.name.clone()), id);
        }
        Ok(ids)
    }

    /// The stack's own secrets or configs (by its label).
    async fn stack_objects(&self, kind: SwarmObjectKind, stack: &str) -> Result<Vec<SwarmObjectSummary>> {
        Ok(self.list_swarm_objects(kind).await?.into_iter().filter(|o| o.stack.as_deref() == Some(stack)).collect())
    }

    /// The stacks of the swarm, from their services' labels.
    pub async fn list_stacks(&self) -> Result<Vec<StackSummary>> {
        let mut stacks: BTreeMap<String, StackSummary> = BTreeMap::new();
        for service in self.list_services().await? {
            let Some(stack) = service.stack else { continue };
            let entry = stacks.entry(stack.clone()).or_insert(StackSummary {
                name: stack,
                services: 0,
                running: 0,
                desired: 0,
            });
            entry.services += 1;
            entry.running += service.running;
            entry.desired += service.desired;
        }
        Ok(stacks.into_values().collect())
    }
}

#[cfg(test)]
mod tests;
