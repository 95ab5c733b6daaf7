//! `nfips rules check`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use nfips_rules::{load_paths, LoadOptions};

#[derive(clap::Args)]
pub struct Args {
    /// Variables file (`var`/`ipvar`/`portvar` lines), read before the rules.
    #[arg(long)]
    vars: Vec<PathBuf>,
    /// Snort classification.config (the built-in table otherwise).
    #[arg(long)]
    classification: Option<PathBuf>,
    /// Unsupported rules count as errors.
    #[arg(long)]
    strict: bool,
    /// Print one JSON object on stdout.
    #[arg(long)]
    json: bool,
    /// Rule files, or directories of *.rules files.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let options = LoadOptions {
        vars_files: args.vars,
        classification_file: args.classification,
        strict: args.strict,
    };
    let started = Instant::now();
    let report = load_paths(&args.paths, &options)?;
    let ruleset = nfips_rules::RuleSet::build(report.rules.clone(), &Default::default());
    let load_ms = started.elapsed().as_millis() as u64;
    drop(ruleset);
    if args.json {
        println!("{}", nfips_rules::check::json_report(&report, load_ms));
    } else {
        print!("{}", nfips_rules::check::text_report(&report, load_ms));
    }
    Ok(if report.errors.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
