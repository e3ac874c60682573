//! Networks: list, create, remove, and connecting containers to them.

use super::error::ApiResult;
use super::{Gantry, NetworkSpec, NetworkSummary};

impl Gantry {
    pub async fn network_list(&self) -> ApiResult<Vec<NetworkSummary>> {
        Ok(self.engine().await?.list_networks().await?)
    }

    /// Creates a network; returns its ID.
    pub async fn network_create(&self, spec: NetworkSpec) -> ApiResult<String> {
        Ok(self.engine().await?.create_network(&spec).await?)
    }

    pub async fn network_remove(&self, name: String) -> ApiResult<()> {
        Ok(self.engine().await?.remove_network(&name).await?)
    }

    /// Attaches a container to a network (it reaches the others there by name).
    pub async fn network_connect(&self, network: String, container: String) -> ApiResult<()> {
        Ok(self.engine().await?.connect_network(&network, &container, &[]).await?)
    }

    pub async fn network_disconnect(&self, network: String, container: String) -> ApiResult<()> {
        Ok(self.engine().await?.disconnect_network(&network, &container, false).await?)
    }
}
