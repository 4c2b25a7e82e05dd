//! HTTP/1.1 GET over an established stream (TCP or TLS) through hyper's connection API: one
//! request per connection (`Connection: close`), or two when the first one's body is read and
//! the server keeps the connection open; the response head within the step timeout, the body
//! read frame by frame up to a cap (or not at all).
//! A URL parser just large enough for `Location` headers is here too.

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::ProbeError;

/// A response as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Header fields (lower-case names, values lossily decoded), in order.
    pub headers: Vec<(String, String)>,
    /// The body, when asked for (at most the cap).
    pub body: Vec<u8>,
}

impl Response {
    /// Values of header `name` (lower case), in order.
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_values(name).into_iter().next()
    }
}

/// One GET request: its path and how much of the body to read (`None`: the body is not read,
/// so the connection cannot carry another request).
#[derive(Debug, Clone, Copy)]
pub struct Get<'a> {
    /// Path and query, starting with `/`.
    pub path: &'a str,
    /// Read the body up to this many bytes ([`ProbeError::BodyTooLarge`] past it).
    pub body_cap: Option<usize>,
}

/// Sends `GET path` with `Host: host` over `stream` and reads the response: the head within
/// `step`, then (when `body_cap` is given) the body up to `body_cap` bytes —
/// [`ProbeError::BodyTooLarge`] past it. Without a cap the body is not read.
pub async fn get<S>(
    stream: S,
    host: &str,
    path: &str,
    user_agent: &str,
    body_cap: Option<usize>,
    step: std::time::Duration,
) -> Result<Response, ProbeError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    get_then(stream, host, user_agent, step, Get { path, body_cap }, None)
        .await
        .0
}

/// Sends `first` over `stream` and then, on the same connection (HTTP/1.1 keep-alive), `then`
/// — when there is one and the connection can carry it: `first` succeeded, its body was read
/// to the end (it has a cap), the server did not close or announce `Connection: close`. The
/// second result is `None` when `then` was not sent; the caller asks it on a new connection.
/// Every server-side handshake this saves is one the measured host does not pay for.
pub async fn get_then<S>(
    stream: S,
    host: &str,
    user_agent: &str,
    step: std::time::Duration,
    first: Get<'_>,
    then: Option<Get<'_>>,
) -> (
    Result<Response, ProbeError>,
    Option<Result<Response, ProbeError>>,
)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let handshake = hyper::client::conn::http1::Builder::new()
        .max_buf_size(64 * 1024)
        .handshake::<_, http_body_util::Empty<Bytes>>(TokioIo::new(stream))
        .await;
    let (mut sender, conn) = match handshake {
        Ok(h) => h,
        Err(e) => return (Err(ProbeError::Http(e.to_string())), None),
    };
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    let then = then.filter(|_| first.body_cap.is_some());
    let first_result = exchange(&mut sender, host, user_agent, step, first, then.is_none()).await;
    let second = match (then, &first_result) {
        (Some(get), Ok(r)) if !announces_close(r) => {
            // Ready once the first exchange is over and the server kept the connection open.
            match crate::within(step, "HTTP keep-alive", sender.ready()).await {
                Ok(Ok(())) => Some(exchange(&mut sender, host, user_agent, step, get, true).await),
                _ => None,
            }
        }
        _ => None,
    };
    driver.abort();
    (first_result, second)
}

/// Whether the response says the server closes the connection after it.
fn announces_close(r: &Response) -> bool {
    r.header_values("connection")
        .iter()
        .any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")))
}

/// One request and its response on an open HTTP/1.1 connection; `close` asks the server to
/// close the connection after it.
async fn exchange(
    sender: &mut hyper::client::conn::http1::SendRequest<http_body_util::Empty<Bytes>>,
    host: &str,
    user_agent: &str,
    step: std::time::Duration,
    get: Get<'_>,
    close: bool,
) -> Result<Response, ProbeError> {
    let mut req = hyper::Request::get(get.path)
        .header(hyper::header::HOST, host)
        .header(hyper::header::USER_AGENT, user_agent)
        .header(hyper::header::ACCEPT, "*/*");
    if close {
        req = req.header(hyper::header::CONNECTION, "close");
    }
    let req = req
        .body(http_body_util::Empty::<Bytes>::new())
        .map_err(|e| ProbeError::Http(e.to_string()))?;
    let resp = crate::within(step, "HTTP response", sender.send_request(req))
        .await?
        .map_err(|e| classify(&e))?;
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let mut body = Vec::new();
    if let Some(cap) = get.body_cap {
        let mut incoming = resp.into_body();
        loop {
            let frame = crate::within(step, "HTTP body", incoming.frame()).await?;
            match frame {
                None => break,
                Some(Err(e)) => return Err(classify(&e)),
                Some(Ok(f)) => {
                    if let Ok(data) = f.into_data() {
                        if body.len() + data.len() > cap {
                            return Err(ProbeError::BodyTooLarge(cap));
                        }
                        body.extend_from_slice(&data);
                    }
                }
            }
        }
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn classify(e: &hyper::Error) -> ProbeError {
    if e.is_parse() || e.is_parse_status() {
        ProbeError::Http(format!("malformed response: {e}"))
    } else if e.is_incomplete_message() {
        ProbeError::Http("connection closed before a complete response".into())
    } else {
        let mut msg = e.to_string();
        if let Some(src) = std::error::Error::source(e) {
            msg = format!("{msg}: {src}");
        }
        ProbeError::Io { step: "HTTP", msg }
    }
}

/// An absolute http(s) URL, as far as the probes need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// `http` or `https`.
    pub https: bool,
    /// Host name or address literal (no brackets).
    pub host: String,
    /// Port (80 / 443 when not given).
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
}

impl Url {
    /// Parses an absolute `http:` / `https:` URL.
    pub fn parse(s: &str) -> Result<Url, String> {
        let s = s.trim();
        let (scheme, rest) = s
            .split_once("://")
            .ok_or_else(|| format!("not absolute: {s}"))?;
        let https = match scheme.to_ascii_lowercase().as_str() {
            "https" => true,
            "http" => false,
            other => return Err(format!("scheme {other}")),
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = &rest[..end];
        let mut path = rest[end..].split('#').next().unwrap_or("").to_string();
        if !path.starts_with('/') {
            path.insert(0, '/');
        }
        let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or("bad IPv6 literal")?;
            (h, after.strip_prefix(':'))
        } else {
            match hostport.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        if host.is_empty() {
            return Err(format!("no host in {s}"));
        }
        let port = match port {
            None | Some("") => {
                if https {
                    443
                } else {
                    80
                }
            }
            Some(p) => p.parse().map_err(|_| format!("bad port {p}"))?,
        };
        Ok(Url {
            https,
            host: host.trim_end_matches('.').to_ascii_lowercase(),
            port,
            path,
        })
    }

    /// `location` resolved against this URL (absolute, scheme-relative, absolute-path or
    /// relative-path references).
    pub fn join(&self, location: &str) -> Result<Url, String> {
        let l = location.trim();
        if l.contains("://") {
            return Url::parse(l);
        }
        let scheme = if self.https { "https" } else { "http" };
        if let Some(rest) = l.strip_prefix("//") {
            return Url::parse(&format!("{scheme}://{rest}"));
        }
        let path = if l.starts_with('/') {
            l.to_string()
        } else {
            let dir = self.path.rsplit_once('/').map_or("", |(d, _)| d);
            format!("{dir}/{l}")
        };
        Ok(Url {
            path,
            ..self.clone()
        })
    }

    /// The URL as text.
    pub fn text(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        let default = if self.https { 443 } else { 80 };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == default {
            format!("{scheme}://{host}{}", self.path)
        } else {
            format!("{scheme}://{host}:{}{}", self.port, self.path)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = Url::parse("HTTPS://WWW.Example.NL:8443/a/b?c#d").unwrap();
        assert_eq!(
            u,
            Url {
                https: true,
                host: "www.example.nl".into(),
                port: 8443,
                path: "/a/b?c".into()
            }
        );
        assert_eq!(u.join("x").unwrap().path, "/a/x");
        assert_eq!(
            u.join("/y").unwrap().text(),
            "https://www.example.nl:8443/y"
        );
        assert_eq!(u.join("//other.nl/z").unwrap().text(), "https://other.nl/z");
        assert_eq!(
            Url::parse("http://[2001:db8::1]/").unwrap().host,
            "2001:db8::1"
        );
        assert!(Url::parse("ftp://x/").is_err());
        assert!(Url::parse("/relative").is_err());
    }
}
