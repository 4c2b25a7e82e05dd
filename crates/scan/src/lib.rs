//! The scan engine: targets in, one row of findings per domain out.
