//! The layer analysis against the real engine at DOCKER_HOST (./scripts/test starts a private
//! one): an image built here with known waste (a file removed, a file overwritten, a directory
//! removed, a directory emptied and refilled) gives exactly the numbers this test computes on its
//! own from the image's `docker save` tar, and the known sizes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::StreamExt;
use gantry_engine::{BuildEvent, BuildSpec, Engine};
use gantry_insight::image::analyze_layers;
use gantry_insight::image::layers::Change;

const BASE: &str = "gantry-test/busybox:latest";

/// 300 000 removed + 100 000 overwritten + 70 000 in a removed directory + 40 000 in a
/// directory emptied and refilled.
const KNOWN_WASTE: u64 = 300_000 + 100_000 + 50_000 + 20_000 + 25_000 + 15_000;

const DOCKERFILE: &str = "FROM gantry-test/busybox:latest
RUN mkdir -p /data/dir /data/dir2 && head -c 300000 /dev/zero > /data/big.bin && head -c 100000 /dev/zero > /data/replaced.bin && head -c 50000 /dev/zero > /data/dir/a && head -c 20000 /dev/zero > /data/dir/b && head -c 25000 /dev/zero > /data/dir2/x && head -c 15000 /dev/zero > /data/dir2/y
RUN rm /data/big.bin && head -c 120000 /dev/zero > /data/replaced.bin
RUN rm -rf /data/dir
RUN rm -rf /data/dir2 && mkdir /data/dir2 && echo new > /data/dir2/new
ENV STEP=done
";

async fn build(engine: &Engine, tag: &str) {
    let context = tempfile::tempdir().unwrap();
    std::fs::write(context.path().join("Dockerfile"), DOCKERFILE).unwrap();
    let spec = BuildSpec { context: context.path().to_path_buf(), tag: Some(tag.into()), ..BuildSpec::default() };
    let mut events = engine.build_image(&spec);
    let mut done = false;
    while let Some(event) = events.next().await {
        if let BuildEvent::Done { .. } = event.expect("the build succeeds") {
            done = true;
        }
    }
    assert!(done, "the build finished");
}

/// One layer as read independently from the saved tar: (path, is_dir, size).
type Layer = Vec<(String, bool, u64)>;

fn clean(path: &str) -> String {
    path.split('/').filter(|p| !p.is_empty() && *p != ".").collect::<Vec<_>>().join("/")
}

/// Reads a `docker save` file (Docker or OCI layout) the simple way: everything into memory.
fn read_saved(path: &std::path::Path) -> Vec<Layer> {
    let mut files: HashMap<String, Vec<u8>> = HashMap::new();
    let mut links: HashMap<String, String> = HashMap::new();
    let mut archive = tar::Archive::new(std::fs::File::open(path).unwrap());
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = clean(&entry.path().unwrap().to_string_lossy());
        if entry.header().entry_type().is_symlink() {
            let target = entry.link_name().unwrap().unwrap().to_string_lossy().to_string();
            let dir = name.rsplit_once('/').map_or("", |(d, _)| d).to_string();
            let joined = format!("{dir}/{target}");
            let mut parts: Vec<&str> = Vec::new();
            for p in joined.split('/') {
                match p {
                    "" | "." => {}
                    ".." => {
                        parts.pop();
                    }
                    p => parts.push(p),
                }
            }
            links.insert(name, parts.join("/"));
            continue;
        }
        let mut body = Vec::new();
        entry.read_to_end(&mut body).unwrap();
        files.insert(name, body);
    }
    let manifest: serde_json::Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    manifest[0]["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let key = clean(l.as_str().unwrap());
            let key = links.get(&key).cloned().unwrap_or(key);
            let mut layer = Vec::new();
            let mut tar = tar::Archive::new(files[&key].as_slice());
            for entry in tar.entries().unwrap() {
                let entry = entry.unwrap();
                let kind = entry.header().entry_type();
                let path = clean(&entry.path().unwrap().to_string_lossy());
                if path.is_empty() {
                    continue;
                }
                let size = if kind.is_file() { entry.size() } else { 0 };
                layer.push((path, kind.is_dir(), size));
            }
            layer
        })
        .collect()
}

fn under(path: &str, root: &str) -> bool {
    root.is_empty() || path == root || path.starts_with(&format!("{root}/"))
}

/// Bytes stored in a layer and hidden by a later one, replaying the layers one by one.
fn hidden_bytes(layers: &[Layer]) -> (u64, Vec<u64>) {
    let mut seen: HashMap<String, (usize, bool, u64)> = HashMap::new();
    let mut per_layer = vec![0u64; layers.len()];
    for (index, layer) in layers.iter().enumerate() {
        for (path, _, _) in layer {
            let name = path.rsplit('/').next().unwrap();
            let parent = path.rsplit_once('/').map_or("", |(d, _)| d);
            let gone: Vec<String> = if name == ".wh..wh..opq" {
                seen.keys().filter(|k| under(k, parent) && k.as_str() != parent).cloned().collect()
            } else if let Some(target) = name.strip_prefix(".wh.") {
                let target = if parent.is_empty() { target.to_string() } else { format!("{parent}/{target}") };
                seen.keys().filter(|k| under(k, &target)).cloned().collect()
            } else {
                continue;
            };
            for key in gone {
                let (owner, _, size) = seen.remove(&key).unwrap();
                per_layer[owner] += size;
            }
        }
        for (path, dir, size) in layer {
            if path.rsplit('/').next().unwrap().starts_with(".wh.") {
                continue;
            }
            if let Some(&(owner, old_dir, old_size)) = seen.get(path)
                && !(old_dir && *dir)
            {
                per_layer[owner] += old_size;
                if old_dir {
                    let below: Vec<String> =
                        seen.keys().filter(|k| k.starts_with(&format!("{path}/"))).cloned().collect();
                    for key in below {
                        let (o, _, s) = seen.remove(&key).unwrap();
                        per_layer[o] += s;
                    }
                }
            }
            seen.insert(path.clone(), (index, *dir, *size));
        }
    }
    (per_layer.iter().sum(), per_layer)
}

/// dive's score recomputed from its definition with plain maps (see `image::dive` for the
/// definition): per-layer trees with empty parents, leaves as sightings, whiteout sizes from
/// the stack of the layers below.
fn dive_numbers(layers: &[Layer]) -> (u64, u64, u64) {
    // A layer's tree: every entry and every parent of it; (size, dir) of the entry, empty for parents.
    let tree = |layer: &Layer| -> BTreeMap<Vec<String>, (u64, bool)> {
        let mut nodes: BTreeMap<Vec<String>, (u64, bool)> = BTreeMap::new();
        for (path, dir, size) in layer {
            let parts: Vec<String> = path.split('/').map(str::to_string).collect();
            let mut skip = false;
            for end in 1..parts.len() {
                let prefix = parts[..end].to_vec();
                if let std::collections::btree_map::Entry::Vacant(slot) = nodes.entry(prefix) {
                    if parts[end - 1].starts_with(".wh..wh..") {
                        skip = true;
                        break;
                    }
                    slot.insert((0, false));
                }
            }
            if skip || (parts.last().unwrap().starts_with(".wh..wh..") && !nodes.contains_key(&parts)) {
                continue;
            }
            nodes.insert(parts, (*size, *dir));
        }
        nodes
    };
    let trees: Vec<BTreeMap<Vec<String>, (u64, bool)>> = layers.iter().map(tree).collect();
    let is_leaf = |t: &BTreeMap<Vec<String>, (u64, bool)>, k: &Vec<String>| {
        !t.keys().any(|o| o.len() == k.len() + 1 && o.starts_with(k))
    };
    let whiteout_target = |k: &Vec<String>| -> Option<Vec<String>> {
        let last = k.last()?.strip_prefix(".wh.")?;
        let mut t = k[..k.len() - 1].to_vec();
        t.push(last.to_string());
        Some(t)
    };
    let stack = |below: &mut BTreeMap<Vec<String>, (u64, bool)>, upper: &BTreeMap<Vec<String>, (u64, bool)>| {
        let mut order: Vec<&Vec<String>> = upper.keys().collect();
        // Children before parents.
        order.sort_by(|a, b| {
            let common = a.iter().zip(b.iter()).take_while(|(x, y)| x == y).count();
            if common == a.len().min(b.len()) { b.len().cmp(&a.len()) } else { a[common].cmp(&b[common]) }
        });
        for key in order {
            match whiteout_target(key) {
                Some(target) => below.retain(|k, _| !k.starts_with(&target)),
                None => {
                    for end in 1..key.len() {
                        below.entry(key[..end].to_vec()).or_insert((0, false));
                    }
                    below.insert(key.clone(), upper[key]);
                }
            }
        }
    };
    let mut sightings: HashMap<Vec<String>, Vec<u64>> = HashMap::new();
    let mut below = trees[0].clone();
    for (index, t) in trees.iter().enumerate() {
        if index > 0 {
            stack(&mut below, &trees[index - 1]);
        }
        for key in t.keys().filter(|k| is_leaf(t, k)) {
            let (path, size) = match whiteout_target(key) {
                Some(target) => {
                    let size = match below.get(&target) {
                        Some((_, true)) => below.iter().filter(|(k, _)| k.starts_with(&target)).map(|(_, v)| v.0).sum(),
                        _ => 0,
                    };
                    (target, size)
                }
                None => (key.clone(), t[key].0),
            };
            sightings.entry(path).or_default().push(size);
        }
    }
    let minimum = sightings.values().map(|s| *s.iter().min().unwrap()).sum();
    let cumulative = sightings.values().map(|s| s.iter().sum::<u64>()).sum();
    let wasted = sightings.values().filter(|s| s.len() >= 2).map(|s| s.iter().sum::<u64>()).sum();
    (minimum, cumulative, wasted)
}

#[tokio::test]
async fn layer_numbers_match_the_saved_tar_and_the_known_waste() {
    assert!(std::env::var_os("DOCKER_HOST").is_some(), "DOCKER_HOST is not set: run through ./scripts/test");
    let engine = Engine::from_env().await.expect("engine at DOCKER_HOST");
    engine.inspect_image(BASE).await.expect("the fixture image (./scripts/test imports it)");
    let tag = format!("gantry-test/insight-layers:{}", std::process::id());
    build(&engine, &tag).await;

    let read = Arc::new(AtomicU64::new(0));
    let layers = analyze_layers(&engine, &tag, Some(read.clone())).await.expect("analysis");
    let report = layers.report(20);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("image.tar");
    let saved_size =
        engine.save_images(std::slice::from_ref(&tag), &file, gantry_engine::Existing::Keep).await.unwrap();
    assert_eq!(read.load(Ordering::Relaxed), saved_size, "progress counts every byte of the export");
    let saved = read_saved(&file);
    let (hidden, per_layer) = hidden_bytes(&saved);
    let (minimum, cumulative, dive_wasted) = dive_numbers(&saved);

    assert_eq!(report.layers.len(), saved.len());
    assert_eq!(hidden, KNOWN_WASTE, "the test's own replay finds the known waste");
    assert_eq!(report.wasted_bytes, KNOWN_WASTE);
    let reported: Vec<u64> = report.layers.iter().map(|l| l.wasted_bytes).collect();
    assert_eq!(reported, per_layer);
    for (summary, layer) in report.layers.iter().zip(&saved) {
        assert_eq!(summary.size_bytes, layer.iter().map(|e| e.2).sum::<u64>(), "layer {}", summary.index);
        assert_eq!(summary.entries, layer.len() as u64);
    }
    assert_eq!(report.dive.efficiency, minimum as f64 / cumulative as f64);
    assert_eq!(report.dive.wasted_bytes, dive_wasted);
    let user: u64 = saved.iter().skip(1).flatten().map(|e| e.2).sum();
    assert_eq!(report.dive.user_size_bytes, user);
    assert!(report.dive.efficiency < 1.0 && report.dive.efficiency > 0.5, "{:?}", report.dive);

    // Every RUN made a layer and says which; ENV made none.
    let first_run = report.layers.iter().position(|l| l.instruction.contains("head -c 300000")).expect("first RUN");
    assert_eq!(report.layers[first_run].wasted_bytes, KNOWN_WASTE);
    let removal = &report.layers[first_run + 1];
    assert!(removal.instruction.starts_with("RUN rm /data/big.bin"), "{}", removal.instruction);
    assert_eq!((removal.changed, removal.removed, removal.hides_bytes), (1, 1, 400_000));
    assert!(
        report.history.iter().any(|h| h.instruction.contains("ENV STEP=done") && h.layer.is_none()),
        "{:?}",
        report.history
    );
    let big = report.wasted_files.iter().find(|w| w.path == "/data/big.bin").expect("big.bin is wasted");
    assert_eq!((big.wasted_bytes, big.removed), (300_000, true));
    let replaced = report.biggest_files.iter().find(|f| f.path == "/data/replaced.bin").expect("replaced.bin");
    assert_eq!((replaced.size_bytes, replaced.layer), (120_000, first_run + 1));

    let tree = layers.tree(first_run + 1).expect("the rm layer's tree");
    let data = tree.children.iter().find(|c| c.name == "data").expect("/data");
    let marks: Vec<(&str, Change, u64)> =
        data.children.iter().map(|c| (c.name.as_str(), c.change, c.size_bytes)).collect();
    assert_eq!(marks, vec![("big.bin", Change::Removed, 300_000), ("replaced.bin", Change::Changed, 120_000)]);
    let refill = layers.tree(first_run + 3).expect("the refill layer's tree");
    let dir2 = refill
        .children
        .iter()
        .find(|c| c.name == "data")
        .and_then(|d| d.children.iter().find(|c| c.name == "dir2"))
        .unwrap();
    assert!(dir2.opaque || dir2.children.iter().any(|c| c.change == Change::Removed), "{dir2:?}");
    eprintln!(
        "layers: {} layers, {} bytes, wasted {} (per layer {per_layer:?}), dive efficiency {:.4}, dive wasted {}",
        report.layers.len(),
        report.size_bytes,
        report.wasted_bytes,
        report.dive.efficiency,
        report.dive.wasted_bytes
    );
    engine.remove_image(&tag, true).await.unwrap();
}

#[tokio::test]
async fn missing_image_is_not_found() {
    assert!(std::env::var_os("DOCKER_HOST").is_some(), "DOCKER_HOST is not set: run through ./scripts/test");
    let engine = Engine::from_env().await.expect("engine at DOCKER_HOST");
    let error = analyze_layers(&engine, "gantry-test/no-such-image:1", None).await.expect_err("no such image");
    assert_eq!(error.code(), "not_found", "{error}");
}
