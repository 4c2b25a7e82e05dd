//! Mail checks (contract-web-mail.md, "Mail"): pure evaluators of what the SMTP, DNS and
//! HTTPS probes saw for the MX hosts of a domain.

pub mod mta_sts;
