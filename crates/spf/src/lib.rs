//! RFC 7208 SPF parser and check_host() evaluator.
