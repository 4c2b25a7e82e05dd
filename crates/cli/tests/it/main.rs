//! Integration tests of the `uptake` binary against the private internet.

mod aggregate;
mod harness;
mod runner;
mod scan;
mod truth;
