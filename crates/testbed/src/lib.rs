//! The private internet: a synthetic Internet with known ground truth, served by real NSD,
//! Unbound, nginx and Postfix processes inside a private network namespace.
//!
//! Where it sits: beside the product, not in its path. `generate` writes zones, server configs,
//! `targets.csv` and `truth.csv` from a seed; `run` brings the servers up in a namespace made
//! with `unshare` and runs a command (a scan, a test) there with `UPTAKE_RESOLVER` and
//! `UPTAKE_TESTBED_CA` (the CA of the web and mail hosts' certificates) set. The
//! scanner has no testbed special case: to it this is just an Internet. The truth is derived
//! from the profile the generator drew, never from the scanner's evaluators.

pub mod generate;
pub mod manifest;
pub mod run;
pub mod serve;
pub mod servers;

pub use manifest::{Manifest, ManifestError, Server, ServerKind};
