//! Integration tests of the `uptake` binary, most of them against the private internet.

mod aggregate;
mod engine;
mod harness;
mod pipeline;
mod pq;
mod report;
mod runner;
mod scan;
mod sslyze;
mod truth;
mod webmail;
