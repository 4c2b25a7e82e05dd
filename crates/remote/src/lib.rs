//! A dataset's copy in an object store: where `uptake run` puts a pipeline's scans when its
//! output is `s3://`, `gs://` or `az://`.
//!
//! Where it sits: a scan always writes Parquet parts to a local directory (atomic renames need a
//! file system); for a pipeline whose dataset is an object store URL that directory is a
//! staging area. After the scan, [`Remote::upload_dir`] copies the scan's files to
//! `<url>/scan=<id>/...` (files already there with the same size are skipped, so a rerun only
//! sends what is missing), and before aggregating [`Remote::download_missing`] fetches the
//! pipeline's earlier scans that the staging area lacks (another machine or an earlier,
//! ephemeral container may have made them), so trends cover every date in the store.
//!
//! Credentials and endpoints come from the environment, as the cloud SDKs read them:
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT_URL` (S3-compatible
//! servers such as MinIO), `AWS_ALLOW_HTTP=true` for a plain-HTTP endpoint;
//! `GOOGLE_SERVICE_ACCOUNT`...; `AZURE_STORAGE_ACCOUNT_NAME`, `AZURE_STORAGE_ACCOUNT_KEY`...

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::path::Path as StorePath;
use object_store::ClientConfigKey;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

/// How long one request to the store may take before it counts as unreachable.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the reachability check waits.
const PROBE_TIMEOUT: Duration = Duration::from_secs(15);

/// Why the store could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// The URL is not one of `s3://bucket/prefix`, `gs://bucket/prefix`, `az://container/prefix`.
    #[error(
        "'{url}' is not an object store URL (s3://bucket/prefix, gs://..., az://...): {reason}"
    )]
    Url {
        /// The URL as given.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The store refused or could not be reached.
    #[error("{url}: {what}: {source}")]
    Store {
        /// The dataset URL.
        url: String,
        /// The operation, e.g. `uploading scan=x/part-0.parquet`.
        what: String,
        /// The store's error.
        source: object_store::Error,
    },
    /// A request did not finish in time.
    #[error("{url}: {what}: no answer within {secs} s")]
    Timeout {
        /// The dataset URL.
        url: String,
        /// The operation.
        what: String,
        /// The bound.
        secs: u64,
    },
    /// A local file could not be read or written.
    #[error("{path}: {source}")]
    Local {
        /// The local file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// What a copy moved.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// Files copied.
    pub copied: usize,
    /// Files already present with the same size.
    pub skipped: usize,
    /// Bytes copied.
    pub bytes: u64,
}

/// A dataset location in an object store.
pub struct Remote {
    url: String,
    store: Arc<dyn ObjectStore>,
    prefix: StorePath,
    runtime: tokio::runtime::Runtime,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote").field("url", &self.url).finish()
    }
}

impl Remote {
    /// Opens `url` (`s3://bucket/prefix`, `gs://bucket/prefix`, `az://container/prefix`) with
    /// credentials and endpoint from the environment. Nothing is sent yet.
    pub fn open(url: &str) -> Result<Remote, RemoteError> {
        let bad = |reason: String| RemoteError::Url {
            url: url.to_string(),
            reason,
        };
        let parsed = url::Url::parse(url).map_err(|e| bad(e.to_string()))?;
        let bucket = parsed.host_str().unwrap_or_default();
        if bucket.is_empty() {
            return Err(bad("no bucket".into()));
        }
        // reqwest is built without a default crypto provider; the process gets ring's (an
        // Err means one is installed already, which is as good).
        let _ = rustls::crypto::ring::default_provider().install_default();
        // The request timeout goes in as one more config key: `with_client_options` would
        // replace the client options `from_env` read (AWS_ALLOW_HTTP and the like).
        let timeout = ClientConfigKey::Timeout;
        let secs = format!("{}s", REQUEST_TIMEOUT.as_secs());
        let store: Arc<dyn ObjectStore> = match parsed.scheme() {
            "s3" => Arc::new(
                AmazonS3Builder::from_env()
                    .with_url(url)
                    .with_config(AmazonS3ConfigKey::Client(timeout), secs)
                    .build()
                    .map_err(|e| bad(e.to_string()))?,
            ),
            "gs" => Arc::new(
                GoogleCloudStorageBuilder::from_env()
                    .with_url(url)
                    .with_config(GoogleConfigKey::Client(timeout), secs)
                    .build()
                    .map_err(|e| bad(e.to_string()))?,
            ),
            "az" => Arc::new(
                MicrosoftAzureBuilder::from_env()
                    .with_url(url)
                    .with_config(AzureConfigKey::Client(timeout), secs)
                    .build()
                    .map_err(|e| bad(e.to_string()))?,
            ),
            other => return Err(bad(format!("scheme '{other}' is not supported"))),
        };
        let prefix = StorePath::from(parsed.path().trim_matches('/'));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| RemoteError::Local {
                path: PathBuf::from("(tokio runtime)"),
                source,
            })?;
        Ok(Remote {
            url: url.to_string(),
            store,
            prefix,
            runtime,
        })
    }

    /// The URL this remote was opened with.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Proves the store answers and the credentials may list the prefix; a clear error before
    /// any scanning starts otherwise.
    pub fn check_reachable(&self) -> Result<(), RemoteError> {
        let what = "listing the dataset prefix";
        self.block(what, PROBE_TIMEOUT, async {
            let mut listing = self.store.list(Some(&self.prefix));
            listing.try_next().await.map(|_| ())
        })
    }

    /// Copies every file under `local/<dir>` (e.g. `scan=gov-2026-11-28`) to `<url>/<dir>/`,
    /// skipping files already there with the same size. Files are sent in a fixed order and
    /// a marker such as `_SUCCESS` should be written last by the caller's layout (it is
    /// uploaded after the other files of the directory).
    pub fn upload_dir(&self, local: &Path, dir: &str) -> Result<Transfer, RemoteError> {
        let root = local.join(dir);
        let mut files = local_files(&root)?;
        // Markers (names starting with '_') go last, so a reader that sees one sees the rest.
        files.sort_by_key(|name| (name.starts_with('_'), name.clone()));
        let mut transfer = Transfer::default();
        for name in files {
            let path = root.join(&name);
            let key = self.key(&format!("{dir}/{name}"));
            let data = fs::read(&path).map_err(|source| RemoteError::Local {
                path: path.clone(),
                source,
            })?;
            let what = format!("uploading {dir}/{name}");
            let present = self.block(&what, REQUEST_TIMEOUT, async {
                match self.store.head(&key).await {
                    Ok(meta) => Ok(Some(meta.size)),
                    Err(object_store::Error::NotFound { .. }) => Ok(None),
                    Err(e) => Err(e),
                }
            })?;
            if present == Some(data.len() as u64) {
                transfer.skipped += 1;
                continue;
            }
            transfer.bytes += data.len() as u64;
            self.block(&what, REQUEST_TIMEOUT, async {
                self.store
                    .put(&key, PutPayload::from(data))
                    .await
                    .map(|_| ())
            })?;
            transfer.copied += 1;
        }
        Ok(transfer)
    }

    /// Downloads into `local` every file of the store whose top directory under the prefix
    /// starts with `dir_prefix` (e.g. `scan=gov-`) and that `local` lacks or holds with another
    /// size. Files are written to a temporary name and renamed, so a reader never sees half.
    pub fn download_missing(
        &self,
        local: &Path,
        dir_prefix: &str,
    ) -> Result<Transfer, RemoteError> {
        let what = "listing the dataset";
        let objects = self.block(what, REQUEST_TIMEOUT, async {
            self.store
                .list(Some(&self.prefix))
                .try_collect::<Vec<_>>()
                .await
        })?;
        let mut transfer = Transfer::default();
        for meta in objects {
            let Some(relative) = meta.location.prefix_match(&self.prefix) else {
                continue;
            };
            let parts: Vec<String> = relative.map(|p| p.as_ref().to_string()).collect();
            if parts.len() < 2 || !parts[0].starts_with(dir_prefix) {
                continue;
            }
            let path = parts
                .iter()
                .fold(local.to_path_buf(), |p, part| p.join(part));
            if fs::metadata(&path).map(|m| m.len()).ok() == Some(meta.size) {
                transfer.skipped += 1;
                continue;
            }
            let what = format!("downloading {}", parts.join("/"));
            let bytes = self.block(&what, REQUEST_TIMEOUT, async {
                self.store.get(&meta.location).await?.bytes().await
            })?;
            let local_err = |path: &Path| {
                let path = path.to_path_buf();
                move |source| RemoteError::Local { path, source }
            };
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).map_err(local_err(parent))?;
            }
            let partial = path.with_extension("download");
            fs::write(&partial, &bytes).map_err(local_err(&partial))?;
            fs::rename(&partial, &path).map_err(local_err(&path))?;
            transfer.copied += 1;
            transfer.bytes += bytes.len() as u64;
        }
        Ok(transfer)
    }

    fn key(&self, relative: &str) -> StorePath {
        relative
            .split('/')
            .fold(self.prefix.clone(), |p, part| p.clone().join(part))
    }

    fn block<T>(
        &self,
        what: &str,
        limit: Duration,
        work: impl std::future::Future<Output = Result<T, object_store::Error>>,
    ) -> Result<T, RemoteError> {
        match self
            .runtime
            .block_on(async { tokio::time::timeout(limit, work).await })
        {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(source)) => Err(RemoteError::Store {
                url: self.url.clone(),
                what: what.to_string(),
                source,
            }),
            Err(_) => Err(RemoteError::Timeout {
                url: self.url.clone(),
                what: what.to_string(),
                secs: limit.as_secs(),
            }),
        }
    }
}

/// The names of the regular files directly in `dir` (a scan directory has no subdirectories).
fn local_files(dir: &Path) -> Result<Vec<String>, RemoteError> {
    let err = |source| RemoteError::Local {
        path: dir.to_path_buf(),
        source,
    };
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).map_err(err)? {
        let entry = entry.map_err(err)?;
        if entry.file_type().map_err(err)?.is_file() {
            if let Some(name) = entry.file_name().to_str() {
                names.push(name.to_string());
            }
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_before_anything_is_sent() {
        for bad in ["s3://", "ftp://bucket/x", "not a url"] {
            let err = Remote::open(bad).unwrap_err().to_string();
            assert!(err.contains("is not an object store URL"), "{bad}: {err}");
        }
        let remote = Remote::open("s3://bucket/some/prefix").unwrap();
        assert_eq!(
            remote.key("scan=a/part-0.parquet").as_ref(),
            "some/prefix/scan=a/part-0.parquet"
        );
    }
}
