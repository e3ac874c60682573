//! dive's efficiency score and wasted-space figure, computed the way dive computes them, so
//! the numbers match what dive users know.
//!
//! The definition is dive's `Efficiency` (wagoodman/dive, `dive/filetree/efficiency.go`) and
//! `Image.Analyze` (`dive/image/image.go`):
//! - every layer is a file tree of its tar entries (parents a tar lacks are added with an empty
//!   payload: size 0, not a directory; opaque markers `.wh..wh..opq` are never added);
//! - every *leaf* of every layer's tree is a sighting of its path (a whiteout leaf `.wh.NAME` is
//!   a sighting of `NAME`); its size is the entry's size, or for a whiteout: when the path is a
//!   directory in the layers below stacked together, the sum of sizes of everything under it,
//!   otherwise 0;
//! - per path: `cumulative` = sum of its sightings' sizes, `minimum` = the smallest one;
//! - efficiency = Σ minimum / Σ cumulative over all paths (1 when Σ cumulative is 0);
//! - wasted bytes = Σ cumulative over the paths sighted at least twice;
//! - user size = the sizes of all layers but the first (a layer's size: the sum of its entries'
//!   sizes); wasted user percent = wasted bytes / user size.
//!
//! One difference: when a whiteout names a path the layers below do not have, dive stops
//! visiting the rest of that layer (an error it only logs); here that sighting counts 0 and the
//! layer's other paths still count.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::archive::{EntryKind, LayerListing};
use super::layers::WHITEOUT_PREFIX;

/// The prefix of entries dive never adds to a tree (opaque markers).
const DOUBLE_WHITEOUT_PREFIX: &str = ".wh..wh..";

/// dive's numbers for an image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DiveScore {
    /// 0..=1; 1 means no byte is stored twice or removed.
    pub efficiency: f64,
    /// dive's "potential wasted space": the total size of every path seen in two or more
    /// layers, all its copies counted.
    pub wasted_bytes: u64,
    /// The size of every layer but the first.
    pub user_size_bytes: u64,
    /// `wasted_bytes / user_size_bytes` (0 when there is no user layer).
    pub wasted_user_percent: f64,
}

#[derive(Debug, Clone, Copy, Default)]
struct Info {
    size: u64,
    dir: bool,
}

#[derive(Debug, Clone, Default)]
struct Node {
    info: Info,
    children: BTreeMap<String, usize>,
}

/// dive's `FileTree`: an arena of nodes; node 0 is the root.
#[derive(Debug, Clone)]
struct Tree {
    nodes: Vec<Node>,
}

impl Tree {
    fn new() -> Self {
        Self { nodes: vec![Node::default()] }
    }

    fn from_layer(layer: &LayerListing) -> Self {
        let mut tree = Self::new();
        for entry in &layer.entries {
            let dir = entry.kind == EntryKind::Dir;
            tree.add_path(&entry.path, Info { size: entry.size, dir });
        }
        tree
    }

    /// dive's `AddPath`: missing parents get an empty payload; a missing `.wh..wh..` component
    /// ends the walk; the last node gets `info` (even when it existed).
    fn add_path(&mut self, path: &str, info: Info) {
        let names: Vec<&str> = path.split('/').filter(|n| !n.is_empty()).collect();
        let mut node = 0;
        for (index, name) in names.iter().enumerate() {
            node = match self.nodes[node].children.get(*name) {
                Some(&child) => child,
                None => {
                    if name.starts_with(DOUBLE_WHITEOUT_PREFIX) {
                        return;
                    }
                    self.nodes.push(Node::default());
                    let child = self.nodes.len() - 1;
                    self.nodes[node].children.insert((*name).to_string(), child);
                    child
                }
            };
            if index + 1 == names.len() {
                self.nodes[node].info = info;
            }
        }
    }

    fn get(&self, path: &str) -> Option<usize> {
        let mut node = 0;
        for name in path.split('/').filter(|n| !n.is_empty()) {
            node = *self.nodes[node].children.get(name)?;
        }
        Some(node)
    }

    /// dive's `RemovePath`: detaches the node (and so its subtree); missing paths are ignored.
    fn remove_path(&mut self, path: &str) {
        let names: Vec<&str> = path.split('/').filter(|n| !n.is_empty()).collect();
        let Some((last, parents)) = names.split_last() else { return };
        let Some(parent) = self.get(&parents.join("/")) else { return };
        self.nodes[parent].children.remove(*last);
    }

    /// Sum of sizes of a node and everything under it.
    fn subtree_size(&self, node: usize) -> u64 {
        self.nodes[node].info.size + self.nodes[node].children.values().map(|c| self.subtree_size(*c)).sum::<u64>()
    }

    /// Every node but the root, children before their parent, siblings in name order (dive's
    /// `VisitDepthChildFirst`), as (path as stored, node).
    fn post_order(&self) -> Vec<(String, usize)> {
        let mut out = Vec::new();
        self.walk(0, "", &mut out);
        out
    }

    fn walk(&self, node: usize, path: &str, out: &mut Vec<(String, usize)>) {
        for (name, child) in &self.nodes[node].children {
            let child_path = if path.is_empty() { name.clone() } else { format!("{path}/{name}") };
            self.walk(*child, &child_path, out);
            out.push((child_path, *child));
        }
    }

    /// dive's `Stack`: whiteouts remove, everything else is added (payload replaced).
    fn stack(&mut self, upper: &Tree) {
        for (path, node) in upper.post_order() {
            match whiteout_target(&path) {
                Some(target) => self.remove_path(&target),
                None => self.add_path(&path, upper.nodes[node].info),
            }
        }
    }
}

/// dive's `Path()` of a whiteout leaf: the path with `.wh.` removed from its last component.
fn whiteout_target(path: &str) -> Option<String> {
    let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
    let target = name.strip_prefix(WHITEOUT_PREFIX)?;
    Some(if dir.is_empty() { target.to_string() } else { format!("{dir}/{target}") })
}

#[derive(Default)]
struct PathData {
    cumulative: u64,
    minimum: Option<u64>,
    sightings: u32,
}

/// dive's score for layers (bottom first).
pub fn dive_score(layers: &[LayerListing]) -> DiveScore {
    let trees: Vec<Tree> = layers.iter().map(Tree::from_layer).collect();
    let mut paths: HashMap<String, PathData> = HashMap::new();
    // The stack of the layers below the current one (dive starts it from a copy of layer 0).
    let mut below = trees.first().cloned().unwrap_or_else(Tree::new);
    for (index, tree) in trees.iter().enumerate() {
        if index > 0 {
            below.stack(&trees[index - 1]);
        }
        for (path, node) in tree.post_order() {
            if !tree.nodes[node].children.is_empty() {
                continue;
            }
            let (key, size) = match whiteout_target(&path) {
                Some(target) => {
                    let size = below.get(&target).map_or(0, |previous| {
                        if below.nodes[previous].info.dir { below.subtree_size(previous) } else { 0 }
                    });
                    (target, size)
                }
                None => (path, tree.nodes[node].info.size),
            };
            let data = paths.entry(key).or_default();
            data.cumulative += size;
            data.minimum = Some(data.minimum.map_or(size, |m| m.min(size)));
            data.sightings += 1;
        }
    }
    let minimum: u64 = paths.values().map(|d| d.minimum.unwrap_or(0)).sum();
    let discovered: u64 = paths.values().map(|d| d.cumulative).sum();
    let efficiency = if discovered == 0 { 1.0 } else { minimum as f64 / discovered as f64 };
    let wasted_bytes: u64 = paths.values().filter(|d| d.sightings >= 2).map(|d| d.cumulative).sum();
    let user_size_bytes: u64 = layers.iter().skip(1).flat_map(|l| &l.entries).map(|e| e.size).sum();
    let wasted_user_percent = if user_size_bytes == 0 { 0.0 } else { wasted_bytes as f64 / user_size_bytes as f64 };
    DiveScore { efficiency, wasted_bytes, user_size_bytes, wasted_user_percent }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::archive::LayerEntry;

    fn entry(path: &str, kind: EntryKind, size: u64) -> LayerEntry {
        LayerEntry { path: path.into(), kind, size, mode: 0o644, uid: 0, gid: 0, link: None }
    }

    fn layer(entries: Vec<LayerEntry>) -> LayerListing {
        LayerListing { entries }
    }

    #[test]
    fn matches_dive_on_overwrite_and_removal() {
        use EntryKind::{Dir, File};
        let layers = vec![
            layer(vec![
                entry("a", Dir, 0),
                entry("a/f", File, 100),
                entry("a/g", File, 10),
                entry("d", Dir, 0),
                entry("d/x", File, 30),
                entry("d/y", File, 5),
            ]),
            // overwrite a/f with 120 bytes; remove a/g (file whiteout: 0); remove dir d (35).
            layer(vec![
                entry("a", Dir, 0),
                entry("a/f", File, 120),
                entry("a/.wh.g", File, 0),
                entry(".wh.d", File, 0),
            ]),
        ];
        let score = dive_score(&layers);
        // Paths: a/f 100+120 (min 100); a/g 10+0 (min 0); d/x 30; d/y 5; d 35 (min 35, one sighting).
        let minimum = 100 + 30 + 5 + 35; // a/g's minimum is 0
        let cumulative = 220 + 10 + 30 + 5 + 35;
        assert_eq!(score.efficiency, minimum as f64 / cumulative as f64);
        assert_eq!(score.wasted_bytes, 220 + 10);
        assert_eq!(score.user_size_bytes, 120);
        assert_eq!(dive_score(&[]).efficiency, 1.0);
    }

    #[test]
    fn opaque_markers_are_never_added() {
        let mut tree = Tree::new();
        tree.add_path("o/.wh..wh..opq", Info { size: 0, dir: false });
        assert!(tree.get("o").is_some() && tree.get("o/.wh..wh..opq").is_none());
    }
}
