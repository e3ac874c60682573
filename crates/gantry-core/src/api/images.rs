//! Images: list, inspect, pull and push (with the stored registry login), build, tag, remove,
//! prune, and moving them to and from files.

use std::path::Path;

use super::error::ApiResult;
use super::{BuildEvent, BuildSpec, Gantry, ImageDetails, ImageLayer, ImageSummary, Progress, PruneReport, StreamMsg};

impl Gantry {
    pub async fn image_list(&self) -> ApiResult<Vec<ImageSummary>> {
        Ok(self.engine().await?.list_images(false).await?)
    }

    pub async fn image_inspect(&self, reference: String) -> ApiResult<ImageDetails> {
        Ok(self.engine().await?.inspect_image(&reference).await?)
    }

    /// The image's layers, newest first, with the instruction that made each.
    pub async fn image_history(&self, reference: String) -> ApiResult<Vec<ImageLayer>> {
        Ok(self.engine().await?.image_history(&reference).await?)
    }

    /// Pulls with per-layer progress, with the stored login for the image's registry, if any.
    pub async fn image_pull(
        &self,
        reference: String,
        sink: impl Fn(StreamMsg<Progress>) + Send + 'static,
    ) -> ApiResult<u64> {
        let engine = self.engine().await?;
        gantry_engine::images::validate_reference(&reference)?;
        let auth = self.auth_for(&reference).await;
        Ok(self.streams.forward(engine.pull_image(&reference, auth.as_ref()), 50, sink))
    }

    /// Pushes with per-layer progress, with the stored login for the image's registry, if any.
    pub async fn image_push(
        &self,
        reference: String,
        sink: impl Fn(StreamMsg<Progress>) + Send + 'static,
    ) -> ApiResult<u64> {
        let engine = self.engine().await?;
        let auth = self.auth_for(&reference).await;
        Ok(self.streams.forward(engine.push_image(&reference, auth.as_ref()), 50, sink))
    }

    /// Builds from a folder with live output.
    pub async fn image_build(
        &self,
        spec: BuildSpec,
        sink: impl Fn(StreamMsg<BuildEvent>) + Send + 'static,
    ) -> ApiResult<u64> {
        let engine = self.engine().await?;
        Ok(self.streams.forward(engine.build_image(&spec), 50, sink))
    }

    /// Gives image `source` the additional name `target`.
    pub async fn image_tag(&self, source: String, target: String) -> ApiResult<()> {
        Ok(self.engine().await?.tag_image(&source, &target).await?)
    }

    /// Removes an image (or one of its tags); returns what the engine deleted or untagged.
    pub async fn image_remove(&self, reference: String, force: bool) -> ApiResult<Vec<String>> {
        Ok(self.engine().await?.remove_image(&reference, force).await?)
    }

    /// Removes dangling images (every unused one with `all`).
    pub async fn image_prune(&self, all: bool) -> ApiResult<PruneReport> {
        Ok(self.engine().await?.prune_images(all).await?)
    }

    /// Loads images from a `docker save` tar file.
    pub async fn image_load(&self, path: String) -> ApiResult<Vec<String>> {
        Ok(self.engine().await?.load_images(Path::new(&path)).await?)
    }

    /// Saves images to a tar file; returns its size. An existing file is replaced only when
    /// `replace` (the person confirmed); otherwise the error's code is `file_exists`.
    pub async fn image_save(&self, images: Vec<String>, path: String, replace: bool) -> ApiResult<u64> {
        let existing = gantry_engine::Existing::replace_if(replace);
        Ok(self.engine().await?.save_images(&images, Path::new(&path), existing).await?)
    }

    /// Creates an image from a root filesystem tar (`docker import`).
    pub async fn image_import(&self, path: String, reference: String) -> ApiResult<String> {
        Ok(self.engine().await?.import_rootfs(Path::new(&path), &reference, &[]).await?)
    }
}
