//! `nfips rules check`: load rule files, compile them, and report loaded / unsupported / broken
//! rules. Exit status 0 without errors, 1 with errors, 2 on bad usage (including a path that
//! cannot be read).

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

/// Exit status for bad usage (clap's own usage errors use the same code).
const USAGE_ERROR: u8 = 2;

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let options = LoadOptions {
        vars_files: args.vars,
        classification_file: args.classification,
        strict: args.strict,
    };
    let started = Instant::now();
    let mut report = match load_paths(&args.paths, &options) {
        Ok(report) => report,
        Err(err) => {
            eprintln!("nfips rules check: {err}");
            return Ok(ExitCode::from(USAGE_ERROR));
        }
    };
    let ruleset =
        nfips_rules::RuleSet::build(std::mem::take(&mut report.rules), &Default::default());
    let load_ms = started.elapsed().as_millis() as u64;
    drop(ruleset);
    if args.json {
        println!("{}", nfips_rules::check::json_report(&report, load_ms));
    } else {
        print!("{}", nfips_rules::check::text_report(&report, load_ms));
    }
    Ok(if report.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
