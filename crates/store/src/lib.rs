//! Parquet dataset writer and reader.
