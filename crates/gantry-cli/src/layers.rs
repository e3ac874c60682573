//! `gantry layers IMAGE`: what each layer adds and wastes, dive's efficiency, the biggest
//! files; `--layer N` shows one layer's file tree.

use gantry_core::api::{ContentsProgress, Gantry, ImageContents, LayerReport, LayersProgress, StreamMsg, TreeNode};
use gantry_insight::InsightError;
use gantry_insight::image::layers::Change;
use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::mpsc::UnboundedReceiver;

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

/// An image read that streams its progress, then its result.
pub(crate) trait ImageRead {
    type Result;
    /// `Ok(result)` at the end, `Err((bytes, total))` while reading.
    fn split(self) -> Result<Self::Result, (u64, u64)>;
}

impl ImageRead for LayersProgress {
    type Result = LayerReport;
    fn split(self) -> Result<LayerReport, (u64, u64)> {
        match self {
            Self::Reading { bytes, total } => Err((bytes, total)),
            Self::Done { report } => Ok(*report),
        }
    }
}

impl ImageRead for ContentsProgress {
    type Result = ImageContents;
    fn split(self) -> Result<ImageContents, (u64, u64)> {
        match self {
            Self::Reading { bytes, total } => Err((bytes, total)),
            Self::Done { contents } => Ok(*contents),
        }
    }
}

/// Follows image read `id` with a progress bar on the terminal; Ctrl-C cancels it.
pub(crate) async fn with_progress<T: ImageRead>(
    api: &Gantry,
    label: &str,
    id: u64,
    rx: UnboundedReceiver<StreamMsg<T>>,
) -> Result<T::Result, CliError> {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(&format!("{label} {{bar:30}} {{bytes}}/{{total_bytes}}"))
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut result = None;
    let finished = crate::engine_cmds::follow(api, id, rx, |item| {
        match item.split() {
            Ok(done) => result = Some(done),
            Err((bytes, total)) => {
                bar.set_length(total.max(bytes));
                bar.set_position(bytes);
            }
        }
        Ok(())
    })
    .await;
    bar.finish_and_clear();
    match (finished?, result) {
        (true, Some(result)) => Ok(result),
        _ => Err(CliError::new("the read of the image was cancelled", "Run it again.")),
    }
}

/// `gantry layers`.
pub async fn run(api: &Gantry, args: LayersArgs, as_json: bool) -> Result<(), CliError> {
    let (sink, rx) = crate::engine_cmds::channel::<LayersProgress>();
    let id = api.image_layers(args.image.clone(), sink).await?;
    let mut report = with_progress(api, "reading layers", id, rx).await?;
    if let Some(index) = args.layer {
        let tree = api.image_layer_tree(args.image.clone(), u32::try_from(index).unwrap_or(u32::MAX)).await?;
        if as_json {
            return crate::engine_cmds::print_json(&tree);
        }
        println!("Layer {index}: {}", report.layers[index].instruction);
        println!("  + added   ~ changed   - removed   (sizes include everything below a directory)");
        print_tree(&tree, 0, args.depth);
        return Ok(());
    }
    report.wasted_files.truncate(args.top);
    report.biggest_files.truncate(args.top);
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
