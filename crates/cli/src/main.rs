//! `uptake`: the command-line front end over the uptake library crates.
//!
//! A thin layer: argument parsing, terminal output and exit codes live here; every piece of
//! measurement logic lives in a library crate (see docs/ARCHITECTURE.md).

mod testbed_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Measure how far the Internet's security standards are deployed.
///
/// Start with `uptake testbed generate` and `uptake testbed run` to get a private internet,
/// then `uptake scan` it.
#[derive(Parser)]
#[command(name = "uptake", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate and run the private internet (a test Internet with known ground truth).
    #[command(subcommand)]
    Testbed(testbed_cmd::TestbedCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Testbed(cmd) => testbed_cmd::run(cmd),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("uptake: error: {err:#}");
            ExitCode::from(2)
        }
    }
}
