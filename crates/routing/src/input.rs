//! Reading the table files: plain or gzip (detected by the magic bytes, not the name), line
//! by line with 1-based line numbers for error messages.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use crate::{LineProblem, RoutingError};

/// Opens `path`, decompressing it when it starts with the gzip magic bytes.
pub(crate) fn open(path: &Path) -> Result<Box<dyn BufRead>, RoutingError> {
    let io = |source| RoutingError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let gzip = reader.fill_buf().map_err(io)?.starts_with(&[0x1f, 0x8b]);
    Ok(if gzip {
        Box::new(BufReader::with_capacity(
            1 << 16,
            MultiGzDecoder::new(reader),
        ))
    } else {
        Box::new(reader)
    })
}

/// Reads the whole file (decompressed) into memory.
pub(crate) fn read_all(path: &Path) -> Result<Vec<u8>, RoutingError> {
    let mut out = Vec::new();
    open(path)?
        .read_to_end(&mut out)
        .map_err(|source| RoutingError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(out)
}

/// The lines of a file, without their end of line, skipping blank lines and `#` comments.
pub(crate) struct Lines {
    path: PathBuf,
    reader: Box<dyn BufRead>,
    buf: String,
    /// 1-based number of the line last returned.
    pub number: usize,
}

impl Lines {
    /// Opens `path` for reading line by line.
    pub fn open(path: &Path) -> Result<Lines, RoutingError> {
        Ok(Lines {
            path: path.to_path_buf(),
            reader: open(path)?,
            buf: String::new(),
            number: 0,
        })
    }

    /// The next non-blank, non-comment line, or `None` at the end.
    pub fn next_line(&mut self) -> Result<Option<&str>, RoutingError> {
        loop {
            self.buf.clear();
            let n = self
                .reader
                .read_line(&mut self.buf)
                .map_err(|source| RoutingError::Io {
                    path: self.path.clone(),
                    source,
                })?;
            if n == 0 {
                return Ok(None);
            }
            self.number += 1;
            let line = self.buf.trim_end_matches(['\n', '\r']);
            if !line.trim().is_empty() && !line.starts_with('#') {
                // Re-borrow after the loop's checks (the borrow checker needs the split).
                let len = line.len();
                return Ok(Some(&self.buf[..len]));
            }
        }
    }

    /// An error about the line last returned.
    pub fn error(&self, problem: LineProblem) -> RoutingError {
        RoutingError::Line {
            path: self.path.clone(),
            line: self.number,
            problem,
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
