//! `gantry sbom IMAGE` (the packages an image holds, or a CycloneDX document) and
//! `gantry vulns IMAGE --db FILE` (their known vulnerabilities from an OSV database, offline).

use std::path::PathBuf;

use gantry_core::api::{ContentsProgress, Gantry, ImageContents};

use crate::CliError;
use crate::output::{print_table, short_id};

/// The output of `gantry sbom`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SbomFormat {
    /// A table for people.
    Table,
    /// CycloneDX 1.5 JSON.
    Cyclonedx,
}

/// What `gantry sbom` was asked to do.
#[derive(Debug, clap::Args)]
pub struct SbomArgs {
    /// Image name or ID.
    image: String,
    #[arg(long, value_enum, default_value = "table")]
    format: SbomFormat,
    /// Write the document to this file instead of the terminal.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

/// What `gantry vulns` was asked to do.
#[derive(Debug, clap::Args)]
pub struct VulnsArgs {
    /// Image name or ID.
    image: String,
    /// An OSV database file: JSON, JSON lines, or a zip such as osv.dev's `all.zip` exports.
    #[arg(long)]
    db: PathBuf,
}

/// Reads the image's packages with a progress bar (the API keeps them for the calls after).
async fn contents(api: &Gantry, image: &str) -> Result<ImageContents, CliError> {
    let (sink, rx) = crate::engine_cmds::channel::<ContentsProgress>();
    let id = api.image_contents(image.to_string(), sink).await?;
    crate::layers::with_progress(api, "reading packages", id, rx).await
}

/// `gantry sbom`.
pub async fn sbom(api: &Gantry, args: SbomArgs, as_json: bool) -> Result<(), CliError> {
    let contents = contents(api, &args.image).await?;
    let text = match (args.format, as_json) {
        (SbomFormat::Cyclonedx, _) => api.image_sbom(args.image.clone()).await?,
        (SbomFormat::Table, true) => serde_json::to_string_pretty(&contents)
            .map_err(|e| CliError::new(format!("cannot encode JSON: {e}"), "report this bug"))?,
        (SbomFormat::Table, false) => {
            print_contents(&contents);
            return Ok(());
        }
    };
    let text = text.trim_end().to_string();
    match args.output {
        Some(path) => std::fs::write(&path, text + "\n").map_err(|e| {
            CliError::new(
                format!("cannot write {}: {e}", path.display()),
                "check that the folder exists and is writable",
            )
        }),
        None => {
            println!("{text}");
            Ok(())
        }
    }
}

fn print_contents(contents: &ImageContents) {
    let name = contents.tags.first().cloned().unwrap_or_else(|| contents.reference.clone());
    let os = contents.os.as_ref().map_or_else(|| "unknown OS".to_string(), |o| o.pretty_name.clone());
    println!("Image  {name} ({}) · {os}", short_id(&contents.id));
    println!();
    let rows: Vec<Vec<String>> = contents
        .packages
        .iter()
        .map(|p| {
            vec![
                p.ecosystem.label().to_string(),
                p.name.clone(),
                p.version.clone(),
                p.license.clone().unwrap_or_default(),
                p.location.clone(),
            ]
        })
        .collect();
    print_table(&["TYPE", "NAME", "VERSION", "LICENSE", "FOUND IN"], &rows);
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for package in &contents.packages {
        match counts.iter_mut().find(|(label, _)| *label == package.ecosystem.label()) {
            Some((_, n)) => *n += 1,
            None => counts.push((package.ecosystem.label(), 1)),
        }
    }
    let summary: Vec<String> = counts.iter().map(|(label, n)| format!("{label} {n}")).collect();
    println!();
    println!(
        "{} packages ({}); `--format cyclonedx` writes a CycloneDX document",
        contents.packages.len(),
        summary.join(", ")
    );
    for note in &contents.notes {
        println!("note: {note}");
    }
}

/// `gantry vulns`.
pub async fn vulns(api: &Gantry, args: VulnsArgs, as_json: bool) -> Result<(), CliError> {
    contents(api, &args.image).await?;
    let report = api.image_vulns(args.image.clone(), args.db.display().to_string()).await?;
    if as_json {
        return crate::engine_cmds::print_json(&report);
    }
    if report.matches.is_empty() {
        println!(
            "No known vulnerabilities in {} packages ({} advisories in {}).",
            report.packages,
            report.advisories,
            args.db.display()
        );
    } else {
        let rows: Vec<Vec<String>> = report
            .matches
            .iter()
            .map(|m| {
                vec![
                    m.severity.clone().unwrap_or_else(|| "-".into()),
                    m.id.clone(),
                    m.package.clone(),
                    m.version.clone(),
                    m.fixed.clone().unwrap_or_else(|| "no fix yet".into()),
                    m.summary.clone(),
                ]
            })
            .collect();
        print_table(&["SEVERITY", "ID", "PACKAGE", "VERSION", "FIXED IN", "SUMMARY"], &rows);
        println!();
        let noun = if report.matches.len() == 1 { "vulnerability" } else { "vulnerabilities" };
        println!(
            "{} known {noun} in {} packages ({} advisories in {}).",
            report.matches.len(),
            report.packages,
            report.advisories,
            args.db.display()
        );
    }
    for note in &report.notes {
        println!("note: {note}");
    }
    Ok(())
}
