//! `gantry layers IMAGE`: what each layer adds and wastes, dive's efficiency, the biggest
//! files; `--layer N` shows one layer's file tree.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use gantry_engine::Engine;
use gantry_insight::InsightError;
use gantry_insight::image::analyze_layers;
use gantry_insight::image::layers::{Change, LayerReport, TreeNode};
use indicatif::{ProgressBar, ProgressStyle};

use crate::CliError;
use crate::output::{print_table, size};

/// What `gantry layers` was asked to do.
#[derive(Debug, clap::Args)]
pub struct LayersArgs {
    /// Image name or ID.
    image: String,
    /// Show this layer's file tree (0 is the bottom layer).
    #[arg(long)]
    layer: Option<usize>,
    /// With --layer: how many directory levels to open.
    #[arg(long, default_value_t = 4)]
    depth: usize,
    /// How many wasted paths and biggest files to list.
    #[arg(long, default_value_t = 10)]
    top: usize,
}

impl From<InsightError> for CliError {
    fn from(e: InsightError) -> Self {
        Self { message: e.to_string(), hint: Some(e.hint()) }
    }
}

/// Runs `work` (which counts the bytes it reads into the counter it is given) with a progress
/// bar of `total` bytes on the terminal; Ctrl-C cancels it.
pub(crate) async fn with_progress<T, F, Fut>(label: &str, total: u64, work: F) -> Result<T, CliError>
where
    F: FnOnce(Arc<AtomicU64>) -> Fut,
    Fut: std::future::Future<Output = Result<T, InsightError>>,
{
    let read = Arc::new(AtomicU64::new(0));
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(&format!("{label} {{bar:30}} {{bytes}}/{{total_bytes}}"))
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let ticker = {
        let (bar, read) = (bar.clone(), read.clone());
        tokio::spawn(async move {
            loop {
                bar.set_position(read.load(Ordering::Relaxed));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let result = tokio::select! {
        result = work(read) => result,
        _ = tokio::signal::ctrl_c() => Err(InsightError::Engine(gantry_engine::EngineError::Cancelled)),
    };
    ticker.abort();
    bar.finish_and_clear();
    Ok(result?)
}

/// `gantry layers`.
pub async fn run(engine: Engine, args: LayersArgs, as_json: bool) -> Result<(), CliError> {
    let expected = engine.inspect_image(&args.image).await?.size.max(0) as u64;
    let layers =
        with_progress("reading layers", expected, |read| analyze_layers(&engine, &args.image, Some(read))).await?;
    if let Some(index) = args.layer {
        let tree = layers.tree(index).ok_or_else(|| {
            CliError::new(
                format!("{} has no layer {index}", args.image),
                format!("its layers are 0 to {}", layers.layer_count().saturating_sub(1)),
            )
        })?;
        if as_json {
            return crate::engine_cmds::print_json(&tree);
        }
        let report = layers.report(0);
        println!("Layer {index}: {}", report.layers[index].instruction);
        println!("  + added   ~ changed   - removed   (sizes include everything below a directory)");
        print_tree(&tree, 0, args.depth);
        return Ok(());
    }
    let report = layers.report(args.top);
    if as_json {
        return crate::engine_cmds::print_json(&report);
    }
    print_report(&report);
    Ok(())
}

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 { "0%".into() } else { format!("{:.1}%", part as f64 * 100.0 / whole as f64) }
}

fn print_report(report: &LayerReport) {
    let name = report.tags.first().cloned().unwrap_or_else(|| report.reference.clone());
    println!("Image       {name} ({}) {}/{}", crate::output::short_id(&report.id), report.os, report.architecture);
    println!(
        "Size        {} in {} layers; {} wasted ({}): stored, then overwritten or removed by a later layer",
        size(report.size_bytes as i64),
        report.layers.len(),
        size(report.wasted_bytes as i64),
        percent(report.wasted_bytes, report.size_bytes),
    );
    println!(
        "Efficiency  {:.1}% as dive scores it (dive's potential wasted space: {})",
        report.dive.efficiency * 100.0,
        size(report.dive.wasted_bytes as i64)
    );
    println!();
    let rows: Vec<Vec<String>> = report
        .layers
        .iter()
        .map(|l| {
            vec![
                l.index.to_string(),
                size(l.size_bytes as i64),
                if l.wasted_bytes == 0 { "-".into() } else { size(l.wasted_bytes as i64) },
                format!("+{} ~{} -{}", l.added, l.changed, l.removed),
                l.instruction.clone(),
            ]
        })
        .collect();
    print_table(&["LAYER", "SIZE", "WASTED", "FILES", "INSTRUCTION"], &rows);
    if !report.wasted_files.is_empty() {
        println!();
        println!("Wasted: stored in one layer, overwritten or removed by a later one");
        let rows: Vec<Vec<String>> = report
            .wasted_files
            .iter()
            .map(|w| {
                let layers: Vec<String> = w.layers.iter().map(usize::to_string).collect();
                let fate = if w.removed { "removed later" } else { "overwritten later" };
                vec![
                    size(w.wasted_bytes as i64),
                    format!("{fate}; stored in layer {}", layers.join(", ")),
                    w.path.clone(),
                ]
            })
            .collect();
        print_table(&["BYTES", "WHY", "PATH"], &rows);
    }
    if !report.biggest_files.is_empty() {
        println!();
        println!("Biggest files");
        let rows: Vec<Vec<String>> = report
            .biggest_files
            .iter()
            .map(|f| vec![size(f.size_bytes as i64), f.layer.to_string(), f.path.clone()])
            .collect();
        print_table(&["SIZE", "LAYER", "PATH"], &rows);
    }
}

fn mark(change: Change) -> char {
    match change {
        Change::Added => '+',
        Change::Changed => '~',
        Change::Removed => '-',
        Change::Unchanged => ' ',
    }
}

fn print_tree(node: &TreeNode, level: usize, depth: usize) {
    for child in &node.children {
        let suffix = match (&child.link, child.opaque) {
            (Some(link), _) => format!(" -> {link}"),
            (None, true) => "  (opaque: hides what lower layers had here)".into(),
            _ if !child.children.is_empty() => "/".into(),
            _ => String::new(),
        };
        println!(
            "{} {:>9}  {}{}{}",
            mark(child.change),
            size(child.total_bytes as i64),
            "  ".repeat(level),
            child.name,
            suffix
        );
        if !child.children.is_empty() {
            if level + 1 < depth {
                print_tree(child, level + 1, depth);
            } else {
                println!("  {:>9}  {}… {} entries (--depth to open)", "", "  ".repeat(level + 1), count(child));
            }
        }
    }
}

fn count(node: &TreeNode) -> usize {
    node.children.iter().map(|c| 1 + count(c)).sum()
}
