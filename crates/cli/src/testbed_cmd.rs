//! `uptake testbed ...`: generate a private internet and run commands inside it.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use uptake_testbed::generate::{generate, GenerateOptions};

/// Subcommands of `uptake testbed`.
#[derive(Subcommand)]
pub enum TestbedCommand {
    /// Generate a private internet: zones (signed with ldns), NSD, Unbound, nginx and Postfix
    /// configs, certificates from a testbed CA, targets.csv and the ground truth truth.csv.
    ///
    /// The same --seed and options give byte-identical targets.csv and truth.csv.
    /// Example: uptake testbed generate --domains 2000 --seed 1 --out tb
    Generate {
        /// Number of target domains.
        #[arg(long, default_value_t = 2000)]
        domains: u64,
        /// Random seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Output directory (created; an existing testbed there is replaced).
        #[arg(long)]
        out: PathBuf,
        /// Registrable domains that get a zone of their own; the rest are records in their
        /// TLD's zone (scale mode). Default: all, up to 20000.
        #[arg(long)]
        delegated: Option<u64>,
        /// Adoption rates as JSON (see rates.json in a generated testbed); default built in.
        #[arg(long)]
        rates: Option<PathBuf>,
    },
    /// Run COMMAND inside the private internet of DIR: starts NSD, Unbound, nginx and Postfix
    /// in a new network namespace, sets UPTAKE_RESOLVER and UPTAKE_TESTBED_CA (the CA
    /// certificate of the web and mail hosts), stops every server when COMMAND ends and exits
    /// with COMMAND's exit code.
    ///
    /// Example: uptake testbed run tb -- dig +dnssec example.nl
    Run {
        /// A directory made by `uptake testbed generate`.
        dir: PathBuf,
        /// The command and its arguments (after `--`).
        #[arg(last = true, required = true)]
        command: Vec<OsString>,
    },
    /// Internal: the testbed's hybrid ML-KEM TLS servers (HTTPS, SMTP STARTTLS) from a
    /// config the generator wrote; `run` starts it inside the namespace.
    #[command(hide = true, name = "serve-tls")]
    ServeTls {
        /// The rendered config (JSON).
        config: PathBuf,
    },
    /// Internal: the part of `run` that executes inside the namespace.
    #[command(hide = true, name = "__inside")]
    Inside {
        dir: PathBuf,
        #[arg(last = true, required = true)]
        command: Vec<OsString>,
    },
}

/// Runs a testbed subcommand.
pub fn run(cmd: TestbedCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        TestbedCommand::Generate {
            domains,
            seed,
            out,
            delegated,
            rates,
        } => {
            let rates = match rates {
                Some(path) => {
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("cannot read {}", path.display()))?;
                    serde_json::from_str(&text)
                        .with_context(|| format!("{} is not a rates file", path.display()))?
                }
                None => Default::default(),
            };
            let started = std::time::Instant::now();
            let opts = GenerateOptions {
                domains,
                seed,
                out: out.clone(),
                delegated,
                rates,
            };
            let summary = generate(&opts)?;
            eprintln!(
                "generated {} domains ({} zones delegated, {} signed) in {} in {:.1}s",
                summary.domains,
                summary.delegated_zones,
                summary.signed_zones,
                out.display(),
                started.elapsed().as_secs_f64()
            );
            Ok(ExitCode::SUCCESS)
        }
        TestbedCommand::Run { dir, command } => {
            let code = uptake_testbed::run::run(&dir, &command)?;
            Ok(ExitCode::from(code))
        }
        TestbedCommand::ServeTls { config } => {
            uptake_testbed::serve::serve(&config)?;
            Ok(ExitCode::SUCCESS)
        }
        TestbedCommand::Inside { dir, command } => {
            let code = uptake_testbed::run::run_inside(&dir, &command)?;
            Ok(ExitCode::from(code))
        }
    }
}
