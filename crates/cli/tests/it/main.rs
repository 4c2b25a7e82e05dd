//! Integration tests of the `uptake` binary, most of them against the private internet.

mod aggregate;
mod checkdmarc;
mod engine;
mod harness;
mod pipeline;
mod pq;
mod report;
mod routing;
mod runner;
mod scan;
mod sslyze;
mod truth;
mod webmail;
