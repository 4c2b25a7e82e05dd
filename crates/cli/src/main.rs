//! `uptake`: the command-line front end over the uptake library crates.
use clap::Parser;

/// Measure how far the Internet's security standards are deployed.
#[derive(Parser)]
#[command(name = "uptake", version)]
struct Cli {}

fn main() -> anyhow::Result<()> {
    let _cli = Cli::parse();
    Ok(())
}
