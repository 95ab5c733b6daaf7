//! The `nfips` command: `run` (inline daemon), `replay`, `bench`, `rules check`, `firewall`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bench;
mod common;
mod firewall;
mod replay;
mod rules_check;
mod run;

#[derive(Parser)]
#[command(
    name = "nfips",
    version,
    about = "Inline intrusion prevention for Linux gateways"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The inline daemon: read NFQUEUE, inspect, give verdicts.
    Run(run::Args),
    /// Print, apply or remove the iptables/nftables rules that put nfips inline.
    Firewall(firewall::Args),
    /// Measure the packet path's throughput over captures or synthetic traffic in memory.
    Bench(bench::Args),
    /// Replay pcap files through the packet path (the bundled demo without arguments).
    Replay(replay::Args),
    /// Print every setting with its default: as TOML (a config file to start from) or as the
    /// README's Markdown table.
    Settings {
        #[arg(long)]
        markdown: bool,
    },
    /// Rule file tools.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Load rule files and report loaded, unsupported and broken rules.
    Check(rules_check::Args),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let usage_error = err.use_stderr();
            let _ = err.print();
            return if usage_error {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("NFIPS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Rules {
            command: RulesCommand::Check(args),
        } => rules_check::run(args),
        Command::Replay(args) => replay::run(args),
        Command::Run(args) => run::run(args),
        Command::Firewall(args) => firewall::run(args),
        Command::Bench(args) => bench::run_command(args),
        Command::Settings { markdown } => {
            use nfips_engine::settings::Settings;
            if markdown {
                print!("{}", Settings::markdown_table());
            } else {
                print!("{}", Settings::default().to_toml());
            }
            Ok(ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("nfips: {err:#}");
            ExitCode::from(1)
        }
    }
}
