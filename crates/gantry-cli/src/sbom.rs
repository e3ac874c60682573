//! `gantry sbom IMAGE` (the packages an image holds, or a CycloneDX document) and
//! `gantry vulns IMAGE --db FILE` (their known vulnerabilities from an OSV database, offline).

use std::path::PathBuf;

use gantry_engine::Engine;
use gantry_insight::sbom::{ImageContents, cyclonedx::cyclonedx, image_contents};
use gantry_insight::vuln::Database;

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

async fn contents(engine: &Engine, image: &str) -> Result<ImageContents, CliError> {
    let expected = engine.inspect_image(image).await?.size.max(0) as u64;
    crate::layers::with_progress("reading packages", expected, |read| image_contents(engine, image, Some(read))).await
}

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// `gantry sbom`.
pub async fn sbom(engine: Engine, args: SbomArgs, as_json: bool) -> Result<(), CliError> {
    let contents = contents(&engine, &args.image).await?;
    let text = match (args.format, as_json) {
        (SbomFormat::Cyclonedx, _) => serde_json::to_string_pretty(&cyclonedx(&contents, unix_now())),
        (SbomFormat::Table, true) => serde_json::to_string_pretty(&contents),
        (SbomFormat::Table, false) => {
            print_contents(&contents);
            return Ok(());
        }
    }
    .map_err(|e| CliError::new(format!("cannot encode JSON: {e}"), "report this bug"))?;
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
pub async fn vulns(engine: Engine, args: VulnsArgs, as_json: bool) -> Result<(), CliError> {
    let path = args.db.clone();
    let database = tokio::task::spawn_blocking(move || Database::load(&path))
        .await
        .map_err(|e| CliError::new(format!("reading the database stopped: {e}"), "try again"))??;
    let contents = contents(&engine, &args.image).await?;
    let report = database.scan(&contents, &args.db.display().to_string());
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
