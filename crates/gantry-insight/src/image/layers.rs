//! What each layer adds, changes and removes; the bytes that are stored but never seen (files a
//! later layer overwrites or removes); dive's efficiency score; the biggest files; the
//! instruction that made each layer.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::archive::{EntryKind, LayerEntry, SavedImage};
use super::dive::{DiveScore, dive_score};

/// A whiteout entry's name prefix (`.wh.NAME` removes `NAME` from the layers below).
pub const WHITEOUT_PREFIX: &str = ".wh.";
/// The opaque-directory marker: the directory's contents from the layers below are hidden.
pub const OPAQUE_MARKER: &str = ".wh..wh..opq";

/// What a layer did to a path, compared with the layers below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// New in this layer.
    Added,
    /// Replaces what a lower layer had (content, type or attributes).
    Changed,
    /// Removed (a whiteout, or hidden by an opaque directory).
    Removed,
    /// A directory that is only there to hold changed entries.
    Unchanged,
}

/// One layer in the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LayerSummary {
    /// 0 is the bottom layer.
    pub index: usize,
    /// The layer's content digest (`diff_id`), when the config lists it.
    pub digest: String,
    /// The Dockerfile instruction that made it (from the image history).
    pub instruction: String,
    pub created: Option<String>,
    pub comment: String,
    /// Bytes of file content in the layer (what dive calls the layer size).
    pub size_bytes: u64,
    /// Entries in the layer tar (files, directories, links, whiteouts).
    pub entries: u64,
    /// Files (not directories) added, changed and removed.
    pub added: u64,
    pub changed: u64,
    pub removed: u64,
    /// Bytes of this layer that later layers overwrite or remove: stored, never seen.
    pub wasted_bytes: u64,
    /// Bytes of lower layers that this layer overwrites or removes.
    pub hides_bytes: u64,
}

/// One step of the build history; steps that change no files (ENV, CMD, …) have no layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct HistoryStep {
    pub instruction: String,
    pub created: Option<String>,
    pub comment: String,
    pub layer: Option<usize>,
}

/// A path whose bytes are stored more than once or removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct WastedPath {
    pub path: String,
    /// Bytes stored for it in layers where a later layer hides them.
    pub wasted_bytes: u64,
    /// The layers holding hidden copies.
    pub layers: Vec<usize>,
    /// True when the final image no longer has it.
    pub removed: bool,
}

/// A file of the final image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct BigFile {
    pub path: String,
    pub size_bytes: u64,
    /// The layer its final version comes from.
    pub layer: usize,
}

/// The layer analysis of an image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LayerReport {
    /// What was asked for (name or ID).
    pub reference: String,
    pub id: String,
    pub tags: Vec<String>,
    pub architecture: String,
    pub os: String,
    /// Bytes of file content in all layers.
    pub size_bytes: u64,
    /// Bytes stored in layers but overwritten or removed by a later layer.
    pub wasted_bytes: u64,
    /// dive's efficiency score and its wasted-space figure.
    pub dive: DiveScore,
    pub history: Vec<HistoryStep>,
    pub layers: Vec<LayerSummary>,
    /// The paths wasting the most bytes, most first.
    pub wasted_files: Vec<WastedPath>,
    /// The biggest files of the final image, biggest first.
    pub biggest_files: Vec<BigFile>,
}

/// A node of a layer's file tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TreeNode {
    /// The last path component (`""` for the root).
    pub name: String,
    pub path: String,
    pub kind: EntryKind,
    pub change: Change,
    /// The entry's own bytes; for a removed path, the bytes it removes.
    pub size_bytes: u64,
    /// Bytes in the whole subtree.
    pub total_bytes: u64,
    pub link: Option<String>,
    /// An opaque directory: this layer hides everything the layers below had in it.
    pub opaque: bool,
    pub children: Vec<TreeNode>,
}

impl TreeNode {
    /// A directory that only holds other entries (no change of its own).
    fn directory(name: &str, path: &str) -> Self {
        Self {
            name: name.to_string(),
            path: path.to_string(),
            kind: EntryKind::Dir,
            change: Change::Unchanged,
            size_bytes: 0,
            total_bytes: 0,
            link: None,
            opaque: false,
            children: Vec::new(),
        }
    }
}

/// What stacking the layers up to some point left at a path.
#[derive(Debug, Clone, Copy)]
struct Stacked {
    layer: usize,
    size: u64,
    dir: bool,
    mode: u32,
}

/// A path a layer removes, with the bytes that were there.
#[derive(Debug, Clone)]
struct Removal {
    path: String,
    bytes: u64,
    opaque: bool,
}

/// An image's layers, analysed. Build it once ([`ImageLayers::new`]), then ask for the
/// report and for any layer's tree.
#[derive(Debug, Clone)]
pub struct ImageLayers {
    reference: String,
    image: SavedImage,
    changes: Vec<Vec<Change>>,
    removals: Vec<Vec<Removal>>,
    summaries: Vec<LayerSummary>,
    history: Vec<HistoryStep>,
    wasted: Vec<WastedPath>,
    final_files: Vec<BigFile>,
    /// Every non-directory path of the final file system and the layer its version comes from.
    final_layers: HashMap<String, usize>,
    dive: DiveScore,
}

fn is_whiteout(entry: &LayerEntry) -> bool {
    entry.name().starts_with(WHITEOUT_PREFIX)
}

/// The stacked paths at `path` and below it.
fn subtree_keys(stacked: &BTreeMap<String, Stacked>, path: &str) -> Vec<String> {
    if path.is_empty() {
        return stacked.keys().cloned().collect();
    }
    let prefix = format!("{path}/");
    let mut keys: Vec<String> = stacked.contains_key(path).then(|| path.to_string()).into_iter().collect();
    keys.extend(stacked.range(prefix.clone()..).take_while(|(k, _)| k.starts_with(&prefix)).map(|(k, _)| k.clone()));
    keys
}

impl ImageLayers {
    /// Analyses an image read from its `docker save` archive.
    pub fn new(reference: &str, image: SavedImage) -> Self {
        let layer_count = image.layers.len();
        let mut stacked: BTreeMap<String, Stacked> = BTreeMap::new();
        let mut changes = Vec::with_capacity(layer_count);
        let mut removals = Vec::with_capacity(layer_count);
        let mut summaries = Vec::with_capacity(layer_count);
        let mut wasted_by_layer = vec![0u64; layer_count];
        let mut hidden: HashMap<String, (u64, Vec<usize>)> = HashMap::new();
        let mut hide = |stacked: &mut BTreeMap<String, Stacked>, key: &str, wasted_by_layer: &mut Vec<u64>| -> u64 {
            let Some(old) = stacked.remove(key) else { return 0 };
            if old.size > 0 {
                wasted_by_layer[old.layer] += old.size;
                let slot = hidden.entry(key.to_string()).or_default();
                slot.0 += old.size;
                if !slot.1.contains(&old.layer) {
                    slot.1.push(old.layer);
                }
            }
            old.size
        };
        for (index, layer) in image.layers.iter().enumerate() {
            let mut layer_changes = vec![Change::Unchanged; layer.entries.len()];
            let mut layer_removals = Vec::new();
            let mut hides = 0u64;
            let (mut added, mut changed, mut removed) = (0u64, 0u64, 0u64);
            // Whiteouts act on the layers below only, wherever they stand in the tar.
            for (position, entry) in layer.entries.iter().enumerate().filter(|(_, e)| is_whiteout(e)) {
                layer_changes[position] = Change::Removed;
                let (target, opaque) = if entry.name() == OPAQUE_MARKER {
                    (entry.parent().to_string(), true)
                } else {
                    let name = &entry.name()[WHITEOUT_PREFIX.len()..];
                    let parent = entry.parent();
                    (if parent.is_empty() { name.to_string() } else { format!("{parent}/{name}") }, false)
                };
                let mut keys = subtree_keys(&stacked, &target);
                if opaque {
                    keys.retain(|k| *k != target);
                }
                let files = keys.iter().filter(|k| stacked.get(*k).is_some_and(|s| !s.dir)).count() as u64;
                let bytes: u64 = keys.iter().map(|k| hide(&mut stacked, k, &mut wasted_by_layer)).sum();
                hides += bytes;
                removed += if opaque { files } else { files.max(1) };
                layer_removals.push(Removal { path: target, bytes, opaque });
            }
            for (position, entry) in layer.entries.iter().enumerate().filter(|(_, e)| !is_whiteout(e)) {
                let is_dir = entry.kind == EntryKind::Dir;
                let change = match stacked.get(&entry.path).copied() {
                    Some(old) if old.layer < index => {
                        if is_dir && old.dir {
                            if old.mode == entry.mode { Change::Unchanged } else { Change::Changed }
                        } else {
                            // A file replacing a directory hides everything that was under it.
                            let below: Vec<String> = if old.dir && !is_dir {
                                subtree_keys(&stacked, &entry.path).into_iter().filter(|k| *k != entry.path).collect()
                            } else {
                                Vec::new()
                            };
                            for key in below {
                                hides += hide(&mut stacked, &key, &mut wasted_by_layer);
                            }
                            hides += hide(&mut stacked, &entry.path, &mut wasted_by_layer);
                            Change::Changed
                        }
                    }
                    _ => Change::Added,
                };
                if !is_dir {
                    match change {
                        Change::Added => added += 1,
                        Change::Changed => changed += 1,
                        _ => {}
                    }
                }
                layer_changes[position] = change;
                stacked.insert(
                    entry.path.clone(),
                    Stacked { layer: index, size: entry.size, dir: is_dir, mode: entry.mode },
                );
            }
            summaries.push(LayerSummary {
                index,
                digest: image.config.rootfs.diff_ids.get(index).cloned().unwrap_or_default(),
                instruction: String::new(),
                created: None,
                comment: String::new(),
                size_bytes: layer.entries.iter().map(|e| e.size).sum(),
                entries: layer.entries.len() as u64,
                added,
                changed,
                removed,
                wasted_bytes: 0,
                hides_bytes: hides,
            });
            changes.push(layer_changes);
            removals.push(layer_removals);
        }
        for (summary, wasted) in summaries.iter_mut().zip(&wasted_by_layer) {
            summary.wasted_bytes = *wasted;
        }
        let history = attach_history(&image, &mut summaries);
        let mut wasted: Vec<WastedPath> = hidden
            .into_iter()
            .map(|(path, (bytes, mut layers))| {
                layers.sort_unstable();
                let removed = !stacked.contains_key(&path);
                WastedPath { path: format!("/{path}"), wasted_bytes: bytes, layers, removed }
            })
            .collect();
        wasted.sort_by(|a, b| b.wasted_bytes.cmp(&a.wasted_bytes).then_with(|| a.path.cmp(&b.path)));
        let mut final_files: Vec<BigFile> = stacked
            .iter()
            .filter(|(_, s)| !s.dir && s.size > 0)
            .map(|(path, s)| BigFile { path: format!("/{path}"), size_bytes: s.size, layer: s.layer })
            .collect();
        final_files.sort_by(|a, b| b.size_bytes.cmp(&a.size_bytes).then_with(|| a.path.cmp(&b.path)));
        let final_layers = stacked.iter().filter(|(_, s)| !s.dir).map(|(path, s)| (path.clone(), s.layer)).collect();
        let dive = dive_score(&image.layers);
        Self {
            reference: reference.to_string(),
            image,
            changes,
            removals,
            summaries,
            history,
            wasted,
            final_files,
            final_layers,
            dive,
        }
    }

    /// The report, with at most `top` wasted paths and biggest files.
    pub fn report(&self, top: usize) -> LayerReport {
        LayerReport {
            reference: self.reference.clone(),
            id: self.image.id.clone(),
            tags: self.image.tags.clone(),
            architecture: self.image.config.architecture.clone(),
            os: self.image.config.os.clone(),
            size_bytes: self.summaries.iter().map(|l| l.size_bytes).sum(),
            wasted_bytes: self.summaries.iter().map(|l| l.wasted_bytes).sum(),
            dive: self.dive.clone(),
            history: self.history.clone(),
            layers: self.summaries.clone(),
            wasted_files: self.wasted.iter().take(top).cloned().collect(),
            biggest_files: self.final_files.iter().take(top).cloned().collect(),
        }
    }

    /// The layer a path's final version comes from (`etc/passwd`, no leading `/`); `None` when
    /// the final file system has no such file.
    pub fn final_layer(&self, path: &str) -> Option<usize> {
        self.final_layers.get(path).copied()
    }

    /// How many layers the image has.
    pub fn layer_count(&self) -> usize {
        self.image.layers.len()
    }

    /// Layer `index`'s file tree with each path's change, or `None` past the last layer.
    pub fn tree(&self, index: usize) -> Option<TreeNode> {
        let layer = self.image.layers.get(index)?;
        let mut root = TreeNode::directory("", "/");
        for (entry, change) in layer.entries.iter().zip(&self.changes[index]) {
            if is_whiteout(entry) {
                continue;
            }
            let node = node_at(&mut root, &entry.path);
            node.kind = entry.kind;
            node.change = *change;
            node.size_bytes = entry.size;
            node.link.clone_from(&entry.link);
        }
        for removal in &self.removals[index] {
            let node = node_at(&mut root, &removal.path);
            if removal.opaque {
                node.opaque = true;
                if node.change == Change::Unchanged {
                    node.change = Change::Changed;
                }
            } else {
                node.change = Change::Removed;
                node.size_bytes = removal.bytes;
            }
        }
        finish(&mut root);
        Some(root)
    }
}

/// The node at `path`, creating unchanged directories on the way.
fn node_at<'a>(root: &'a mut TreeNode, path: &str) -> &'a mut TreeNode {
    let mut node = root;
    let mut so_far = String::new();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        so_far.push('/');
        so_far.push_str(part);
        let position = match node.children.iter().position(|c| c.name == part) {
            Some(p) => p,
            None => {
                node.children.push(TreeNode::directory(part, &so_far));
                node.children.len() - 1
            }
        };
        node = &mut node.children[position];
    }
    node
}

/// Sorts children by name and sums subtree sizes.
fn finish(node: &mut TreeNode) -> u64 {
    node.children.sort_by(|a, b| a.name.cmp(&b.name));
    let below: u64 = node.children.iter_mut().map(finish).sum();
    node.total_bytes = node.size_bytes + below;
    node.total_bytes
}

/// Maps history steps to layers (steps marked `empty_layer` made none), as the engine does.
fn attach_history(image: &SavedImage, summaries: &mut [LayerSummary]) -> Vec<HistoryStep> {
    let mut next_layer = 0;
    let mut steps = Vec::new();
    for entry in &image.config.history {
        let layer = (!entry.empty_layer && next_layer < summaries.len()).then(|| {
            next_layer += 1;
            next_layer - 1
        });
        // An imported layer has no instruction; its comment says where it came from.
        let instruction = match instruction_text(&entry.created_by) {
            text if text.is_empty() => entry.comment.clone(),
            text => text,
        };
        if let Some(index) = layer {
            let summary = &mut summaries[index];
            summary.instruction.clone_from(&instruction);
            summary.created.clone_from(&entry.created);
            summary.comment.clone_from(&entry.comment);
        }
        steps.push(HistoryStep { instruction, created: entry.created.clone(), comment: entry.comment.clone(), layer });
    }
    steps
}

/// The Dockerfile instruction behind a history entry, for the classic builder
/// (`/bin/sh -c #(nop) CMD …`) and BuildKit (`RUN /bin/sh -c … # buildkit`) alike.
pub fn instruction_text(created_by: &str) -> String {
    let text = gantry_engine::images::instruction(created_by);
    let text = text.trim_end_matches("# buildkit").trim_end();
    match text.strip_prefix("RUN /bin/sh -c ") {
        Some(command) => format!("RUN {command}"),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::archive::{HistoryEntry, ImageConfig, LayerListing};

    fn file(path: &str, size: u64) -> LayerEntry {
        LayerEntry { path: path.into(), kind: EntryKind::File, size, mode: 0o644, uid: 0, gid: 0, link: None }
    }

    fn dir(path: &str) -> LayerEntry {
        LayerEntry { path: path.into(), kind: EntryKind::Dir, size: 0, mode: 0o755, uid: 0, gid: 0, link: None }
    }

    fn image(layers: Vec<Vec<LayerEntry>>) -> SavedImage {
        let history = layers
            .iter()
            .enumerate()
            .map(|(i, _)| HistoryEntry { created_by: format!("/bin/sh -c step{i}"), ..HistoryEntry::default() })
            .collect();
        SavedImage {
            id: "sha256:x".into(),
            tags: vec![],
            config: ImageConfig { history, ..ImageConfig::default() },
            layers: layers.into_iter().map(|entries| LayerListing { entries }).collect(),
            layer_keys: vec![],
        }
    }

    #[test]
    fn overwrites_whiteouts_and_opaque_directories_waste_bytes() {
        let layers = ImageLayers::new(
            "t",
            image(vec![
                vec![
                    dir("data"),
                    file("data/big", 300),
                    file("data/keep", 7),
                    dir("data/d"),
                    file("data/d/a", 50),
                    dir("o"),
                    file("o/x", 20),
                ],
                vec![dir("data"), file("data/keep", 9), file("data/.wh.big", 0), file("data/.wh.d", 0)],
                vec![dir("o"), file("o/.wh..wh..opq", 0), file("o/y", 1)],
            ]),
        );
        let report = layers.report(10);
        assert_eq!(report.layers[0].wasted_bytes, 300 + 7 + 50 + 20);
        assert_eq!(report.layers[1].hides_bytes, 357);
        assert_eq!((report.layers[1].added, report.layers[1].changed, report.layers[1].removed), (0, 1, 2));
        assert_eq!(report.layers[2].hides_bytes, 20);
        assert_eq!(report.wasted_bytes, 377);
        assert_eq!(report.wasted_files[0].path, "/data/big");
        assert!(report.wasted_files[0].removed);
        assert_eq!(report.biggest_files[0], BigFile { path: "/data/keep".into(), size_bytes: 9, layer: 1 });
        assert_eq!(report.layers[1].instruction, "RUN step1");
        let tree = layers.tree(1).expect("layer 1");
        let data = &tree.children[0];
        assert_eq!(data.name, "data");
        let names: Vec<(&str, Change, u64)> =
            data.children.iter().map(|c| (c.name.as_str(), c.change, c.size_bytes)).collect();
        assert_eq!(
            names,
            vec![("big", Change::Removed, 300), ("d", Change::Removed, 50), ("keep", Change::Changed, 9)]
        );
        let opaque = &layers.tree(2).expect("layer 2").children[0];
        assert!(opaque.opaque && opaque.change == Change::Changed);
        assert!(layers.tree(3).is_none());
    }

    #[test]
    fn instructions_from_both_builders() {
        assert_eq!(instruction_text("RUN /bin/sh -c apt-get update # buildkit"), "RUN apt-get update");
        assert_eq!(instruction_text("/bin/sh -c #(nop) COPY file:ab in /x "), "COPY file:ab in /x");
        assert_eq!(instruction_text("COPY . . # buildkit"), "COPY . .");
    }
}
