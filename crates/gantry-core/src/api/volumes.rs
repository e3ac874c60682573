//! Volumes: list (with sizes and users), create, remove, prune, and their files (browse, export
//! to a tar file, import from one).

use std::path::Path;

use super::error::ApiResult;
use super::{Gantry, PruneReport, VolumeListing, VolumeSummary};

impl Gantry {
    pub async fn volume_list(&self) -> ApiResult<Vec<VolumeSummary>> {
        Ok(self.engine().await?.list_volumes_with_sizes().await?)
    }

    /// Creates a volume; an empty name gets a random one.
    pub async fn volume_create(&self, name: String) -> ApiResult<VolumeSummary> {
        Ok(self.engine().await?.create_volume(name.trim(), &[]).await?)
    }

    pub async fn volume_remove(&self, name: String, force: bool) -> ApiResult<()> {
        Ok(self.engine().await?.remove_volume(&name, force).await?)
    }

    /// Removes anonymous volumes no container uses.
    pub async fn volume_prune(&self) -> ApiResult<PruneReport> {
        Ok(self.engine().await?.prune_volumes(false).await?)
    }

    /// Lists a volume's files (read-only; nothing is started).
    pub async fn volume_browse(&self, name: String) -> ApiResult<VolumeListing> {
        self.use_helper_mark(true);
        Ok(self.engine().await?.list_volume_files(&name).await?)
    }

    /// Writes a volume's files to a tar file; returns its size. An existing file is replaced only
    /// when `replace` (the person confirmed); otherwise the error's code is `file_exists`.
    pub async fn volume_export(&self, name: String, path: String, replace: bool) -> ApiResult<u64> {
        let existing = gantry_engine::Existing::replace_if(replace);
        self.use_helper_mark(true);
        Ok(self.engine().await?.export_volume(&name, Path::new(&path), existing).await?)
    }

    /// Extracts a tar file into a volume.
    pub async fn volume_import(&self, name: String, path: String) -> ApiResult<()> {
        self.use_helper_mark(true);
        Ok(self.engine().await?.import_volume(&name, Path::new(&path)).await?)
    }
}
