//! Web checks (contract-web-mail.md, "Web"): pure evaluators of what the web probes saw.
//!
//! The probes connect, send and read; the functions here turn what they collected into
//! findings. Transport failures that the contract calls `error` (timeouts, resets, DNS
//! failures) are passed in as `Err(reason)` or an `Error` variant and come back as `error`;
//! "refused" is a definite answer and has its own variant.

pub mod hsts;
pub mod tls;
