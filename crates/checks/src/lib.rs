//! Pure evaluators: DNS evidence in, findings out.
