//! Certificates and server configs of the web and mail hosts: one nginx (nginx-light) with a
//! server block per domain and port on its server's addresses, the `mta-sts.<domain>` policy
//! hosts, and one Postfix with an `smtpd` listener per mail server address.
//!
//! Web and mail servers with a [`crate::serve::PqFlavour`] get port 443 (web; nginx keeps
//! port 80) or port 25 (mail) from the rustls server (`uptake testbed serve-tls`) instead.
//!
//! Files written (relative to the testbed directory): `certs/{web,mta-sts,mail}/<name>.pem`,
//! `servers/nginx.conf`, `servers/postfix/{main.cf,master.cf}`, `servers/serve-tls.json`
//! (templates with [`DIR_PLACEHOLDER`] and [`RUN_PLACEHOLDER`], rendered by the runner).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::pki::Pki;
use super::profile::{effective_redirect, policy_mx, Profile, Txt};
use super::webmail::{
    header_fields, policy_body, provider_mx_key, security_txt_body, CertKind, MailServer, Policy,
    Redirect, WebHosting, WebServer, MAIL_PROVIDER_TLS, MTA_STS_SERVER, PARKED_KEY, WEB_PROVIDERS,
    WEB_SITES,
};
use super::world::MAIL_PROVIDERS;
use super::{write_file, GenerateError};
use crate::manifest::{Server, ServerKind, DIR_PLACEHOLDER, RUN_PLACEHOLDER};
use crate::serve::{ServeConfig, Service, Site, TlsServer};

/// `v4:port` and, when given, `[v6]:port`.
fn listen_addresses(
    v4: std::net::Ipv4Addr,
    v6: Option<std::net::Ipv6Addr>,
    port: u16,
) -> Vec<SocketAddr> {
    std::iter::once(IpAddr::V4(v4))
        .chain(v6.map(IpAddr::V6))
        .map(|a| SocketAddr::new(a, port))
        .collect()
}

/// nginx config template, relative to the testbed directory.
pub const NGINX_CONFIG: &str = "servers/nginx.conf";
/// Postfix config directory (main.cf, master.cf templates), relative to the testbed directory.
pub const POSTFIX_CONFIG: &str = "servers/postfix";
/// Config template of the rustls servers, relative to the testbed directory.
pub const SERVE_TLS_CONFIG: &str = "servers/serve-tls.json";

/// A string as an nginx double-quoted string (newlines as `\n`).
fn quoted(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\n' => q.push_str("\\n"),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

fn listen_default(c: &mut String, server: &WebServer, port: u16, ssl: bool) {
    let ssl = if ssl { " ssl" } else { "" };
    let _ = writeln!(
        c,
        "        listen {}:{port}{ssl} default_server;",
        server.v4
    );
    if server.v6_listens {
        let _ = writeln!(
            c,
            "        listen [{}]:{port}{ssl} default_server;",
            server.v6
        );
    }
}

fn listen(c: &mut String, server: &WebServer, port: u16, ssl: bool) {
    let ssl = if ssl { " ssl" } else { "" };
    let _ = writeln!(c, "        listen {}:{port}{ssl};", server.v4);
    if server.v6_listens {
        let _ = writeln!(c, "        listen [{}]:{port}{ssl};", server.v6);
    }
}

/// The mail servers of the testbed: the providers' MX hosts and every own one.
pub fn mail_servers(profiles: &[Profile]) -> Vec<MailServer> {
    let mut out = Vec::new();
    for (k, m) in MAIL_PROVIDERS.iter().enumerate() {
        for n in 0..2 {
            out.push(MailServer {
                host: m.mx_name(n),
                v4: m.mx_v4(n),
                v6: m.mx_aaaa[n].then(|| m.mx_v6(n)),
                v6_listens: true,
                starttls: MAIL_PROVIDER_TLS[k].0[n],
                key: provider_mx_key(k),
                pq: None,
            });
        }
    }
    let mut seen = std::collections::HashSet::new();
    for p in profiles {
        if let Some(s) = &p.mail_server {
            if seen.insert(s.v4) {
                out.push(s.clone());
            }
        }
    }
    out
}

/// What [`write`] produced for the manifest.
pub struct Hosting {
    /// The nginx and Postfix entries.
    pub servers: Vec<Server>,
    /// Addresses to put on the namespace's loopback, including IPv6 addresses where nothing
    /// listens (connections there are refused, as the reachability checks need).
    pub addresses: Vec<IpAddr>,
}

/// Writes the certificates and the nginx and Postfix configs for `profiles`.
pub fn write(out: &Path, profiles: &[Profile], pki: &Pki) -> Result<Hosting, GenerateError> {
    let dir = |sub: &str| -> Result<PathBuf, GenerateError> {
        let d = out.join(sub);
        fs::create_dir_all(&d).map_err(|e| GenerateError::io(&d, e))?;
        Ok(d)
    };
    dir("certs/web")?;
    dir("certs/mta-sts")?;
    dir("certs/mail")?;
    let policy_host = |p: &Profile| p.mta_sts == Txt::Present && p.web.policy != Policy::NoHost;
    // Leaf certificates, in parallel (RSA signatures are not free).
    profiles[..profiles.len().min(WEB_SITES)]
        .par_iter()
        .try_for_each(|p| {
            let names = vec![p.domain.clone(), format!("www.{}", p.domain)];
            let pem = pki.leaf(&names, p.web.cert, p.web.key)?;
            write_file(&out.join(format!("certs/web/{}.pem", p.domain)), &pem)?;
            if policy_host(p) {
                let pem = pki.leaf(
                    &[format!("mta-sts.{}", p.domain)],
                    CertKind::Valid,
                    super::webmail::KeyType::Ecdsa,
                )?;
                write_file(&out.join(format!("certs/mta-sts/{}.pem", p.domain)), &pem)?;
            }
            Ok::<(), GenerateError>(())
        })?;
    let parked_on: std::collections::BTreeSet<usize> = profiles
        .iter()
        .skip(WEB_SITES)
        .filter_map(|p| match p.web.hosting {
            WebHosting::Shared(k) => Some(k),
            WebHosting::Own(_) => None,
        })
        .collect();
    for &k in &parked_on {
        let pem = pki.leaf(
            &[format!("www.webprov{k}.example")],
            CertKind::Valid,
            PARKED_KEY,
        )?;
        write_file(&out.join(format!("certs/web/_default-{k}.pem")), &pem)?;
    }
    let mail = mail_servers(profiles);
    mail.par_iter().try_for_each(|s| {
        let pem = pki.leaf(std::slice::from_ref(&s.host), CertKind::Valid, s.key)?;
        write_file(&out.join(format!("certs/mail/{}.pem", s.host)), &pem)
    })?;

    // nginx: one server block per domain and port.
    let mut c = String::with_capacity(profiles.len() * 900);
    c.push_str("# nginx config template for the testbed's web hosts (nginx-light 1.22).\n");
    let _ = writeln!(
        c,
        "# Rendered by `uptake testbed run`: {DIR_PLACEHOLDER} is the testbed directory, {RUN_PLACEHOLDER} the run directory."
    );
    c.push_str("user nobody nogroup;\nworker_processes 2;\ndaemon off;\nmaster_process on;\n");
    let _ = writeln!(c, "pid {RUN_PLACEHOLDER}/nginx.pid;");
    let _ = writeln!(c, "error_log {RUN_PLACEHOLDER}/nginx-error.log warn;");
    c.push_str("events {\n    worker_connections 8192;\n}\nhttp {\n");
    c.push_str("    access_log off;\n    server_tokens off;\n    default_type text/html;\n");
    c.push_str("    keepalive_timeout 5;\n    server_names_hash_max_size 262144;\n");
    c.push_str("    server_names_hash_bucket_size 128;\n");
    for t in ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"] {
        let _ = writeln!(c, "    {t}_temp_path {RUN_PLACEHOLDER}/nginx-{t};");
    }
    let mut web_addresses: BTreeMap<IpAddr, ()> = BTreeMap::new();
    let mut tcp: Vec<SocketAddr> = Vec::new();
    let mut used: BTreeMap<String, WebServer> = BTreeMap::new();
    let mut rustls_web: BTreeMap<std::net::Ipv4Addr, TlsServer> = BTreeMap::new();
    for &k in &parked_on {
        // The default site of provider k: what its parked domains (past WEB_SITES) get.
        let s = &WEB_PROVIDERS[k];
        c.push_str("    server {\n");
        listen_default(&mut c, s, 443, true);
        let _ = writeln!(
            c,
            "        ssl_certificate {DIR_PLACEHOLDER}/certs/web/_default-{k}.pem;"
        );
        let _ = writeln!(
            c,
            "        ssl_certificate_key {DIR_PLACEHOLDER}/{};",
            pki.key_file(PARKED_KEY).display()
        );
        let _ = writeln!(c, "        ssl_protocols {};", s.versions.nginx());
        let _ = writeln!(c, "        ssl_ciphers {};", quoted(&s.nginx_ciphers()));
        c.push_str("        location = / {\n            return 200 \"parked\\n\";\n        }\n        location / {\n            return 404;\n        }\n    }\n");
        c.push_str("    server {\n");
        listen_default(&mut c, s, 80, false);
        c.push_str("        return 200 \"parked\\n\";\n    }\n");
    }
    for (i, p) in profiles.iter().enumerate() {
        let s = &p.web_server;
        used.insert(s.v4.to_string(), *s);
        if i >= WEB_SITES {
            continue;
        }
        let d = &p.domain;
        if let (true, Some(flavour)) = (s.port443, s.pq) {
            let site = Site {
                names: vec![d.clone(), format!("www.{d}")],
                cert: format!("{DIR_PLACEHOLDER}/certs/web/{d}.pem"),
                key: format!("{DIR_PLACEHOLDER}/{}", pki.key_file(p.web.key).display()),
                body: format!("{d}\n"),
                headers: p
                    .web
                    .hsts
                    .header()
                    .map(|h| ("Strict-Transport-Security", h))
                    .into_iter()
                    .chain(header_fields(p.web.headers).iter().copied())
                    .map(|(n, v)| (n.to_string(), v.to_string()))
                    .collect(),
                security_txt: security_txt_body(p.web.security_txt, d)
                    .map(|(media, body)| (media.to_string(), body)),
            };
            let entry = rustls_web.entry(s.v4).or_insert_with(|| TlsServer {
                listen: listen_addresses(s.v4, s.v6_listens.then_some(s.v6), 443),
                flavour,
                service: Service::Https { sites: vec![] },
            });
            if let Service::Https { sites } = &mut entry.service {
                sites.push(site);
            }
        } else if s.port443 {
            c.push_str("    server {\n");
            listen(&mut c, s, 443, true);
            let _ = writeln!(c, "        server_name {d} www.{d};");
            let _ = writeln!(
                c,
                "        ssl_certificate {DIR_PLACEHOLDER}/certs/web/{d}.pem;"
            );
            let _ = writeln!(
                c,
                "        ssl_certificate_key {DIR_PLACEHOLDER}/{};",
                pki.key_file(p.web.key).display()
            );
            let _ = writeln!(c, "        ssl_protocols {};", s.versions.nginx());
            let _ = writeln!(c, "        ssl_ciphers {};", quoted(&s.nginx_ciphers()));
            if let Some(h) = p.web.hsts.header() {
                let _ = writeln!(
                    c,
                    "        add_header Strict-Transport-Security {} always;",
                    quoted(h)
                );
            }
            for (name, value) in header_fields(p.web.headers) {
                let _ = writeln!(c, "        add_header {name} {} always;", quoted(value));
            }
            if let Some((media, body)) = security_txt_body(p.web.security_txt, d) {
                let _ = writeln!(
                    c,
                    "        location = /.well-known/security.txt {{\n            default_type {media};\n            return 200 {};\n        }}",
                    quoted(&body)
                );
            }
            let _ = writeln!(
                c,
                "        location = / {{\n            return 200 {};\n        }}\n        location / {{\n            return 404;\n        }}\n    }}",
                quoted(&format!("{d}\n"))
            );
        }
        if s.port80 {
            c.push_str("    server {\n");
            listen(&mut c, s, 80, false);
            let _ = writeln!(c, "        server_name {d} www.{d};");
            match effective_redirect(p) {
                Redirect::SameHost => c.push_str("        return 301 https://$host$request_uri;\n"),
                Redirect::OtherHost => {
                    let _ = writeln!(c, "        return 301 https://www.{d}/;");
                }
                Redirect::None => {
                    let _ = writeln!(c, "        return 200 {};", quoted(&format!("{d}\n")));
                }
            }
            c.push_str("    }\n");
        }
    }
    let mut sts_used = false;
    for p in profiles.iter().filter(|p| policy_host(p)) {
        sts_used = true;
        let d = &p.domain;
        let s = &MTA_STS_SERVER;
        c.push_str("    server {\n");
        listen(&mut c, s, 443, true);
        let _ = writeln!(c, "        server_name mta-sts.{d};");
        let _ = writeln!(
            c,
            "        ssl_certificate {DIR_PLACEHOLDER}/certs/mta-sts/{d}.pem;"
        );
        let _ = writeln!(
            c,
            "        ssl_certificate_key {DIR_PLACEHOLDER}/{};",
            pki.key_file(super::webmail::KeyType::Ecdsa).display()
        );
        let _ = writeln!(c, "        ssl_protocols {};", s.versions.nginx());
        let _ = writeln!(c, "        ssl_ciphers {};", quoted(&s.nginx_ciphers()));
        let body = policy_body(p.web.policy, &policy_mx(p)).unwrap_or_default();
        let _ = writeln!(
            c,
            "        location = /.well-known/mta-sts.txt {{\n            default_type text/plain;\n            return 200 {};\n        }}\n        location / {{\n            return 404;\n        }}\n    }}",
            quoted(&body)
        );
    }
    c.push_str("}\n");
    write_file(&out.join(NGINX_CONFIG), &c)?;
    let mut nginx_addresses = Vec::new();
    let mut servers_used: Vec<WebServer> = used.into_values().collect();
    if sts_used {
        servers_used.push(MTA_STS_SERVER);
    }
    for s in &servers_used {
        web_addresses.insert(IpAddr::V4(s.v4), ());
        web_addresses.insert(IpAddr::V6(s.v6), ());
        nginx_addresses.push(IpAddr::V4(s.v4));
        // Port 443 of a rustls-served address is the rustls server's (its `tcp` below).
        let nginx443 = s.port443 && s.pq.is_none();
        for (port, open) in [(443, nginx443), (80, s.port80)] {
            if open {
                tcp.push(SocketAddr::new(IpAddr::V4(s.v4), port));
                if s.v6_listens {
                    tcp.push(SocketAddr::new(IpAddr::V6(s.v6), port));
                }
            }
        }
        if s.v6_listens {
            nginx_addresses.push(IpAddr::V6(s.v6));
        }
    }

    // Postfix: one smtpd listener per mail server address.
    let mut main = String::new();
    main.push_str("# Postfix main.cf template for the testbed's mail hosts (Postfix 3.7).\n");
    let _ = writeln!(
        main,
        "# Rendered by `uptake testbed run`: {DIR_PLACEHOLDER} is the testbed directory, {RUN_PLACEHOLDER} the run directory."
    );
    main.push_str("compatibility_level = 3.6\n");
    let _ = writeln!(main, "queue_directory = {RUN_PLACEHOLDER}/postfix-queue");
    let _ = writeln!(main, "data_directory = {RUN_PLACEHOLDER}/postfix-data");
    let _ = writeln!(main, "maillog_file = {RUN_PLACEHOLDER}/postfix.log");
    main.push_str("maillog_file_prefixes = /\n");
    main.push_str("mail_owner = postfix\nsetgid_group = postdrop\n");
    main.push_str("inet_interfaces = all\ninet_protocols = all\n");
    main.push_str("myhostname = mail.testbed.example\nmydestination =\n");
    main.push_str("alias_maps =\nalias_database =\nlocal_recipient_maps =\n");
    main.push_str("smtpd_banner = $myhostname ESMTP\nsmtpd_peername_lookup = no\n");
    main.push_str(
        "smtpd_client_connection_count_limit = 0\nsmtpd_client_connection_rate_limit = 0\n",
    );
    // The runner starts an smtpd per listener before a scan (run.rs, greet_each); they stay
    // as a busy server's would (a cold start of hundreds of them costs seconds of CPU).
    main.push_str("default_process_limit = 200\nmax_idle = 3600s\nsmtpd_tls_loglevel = 0\n");
    main.push_str("smtpd_tls_ciphers = medium\nsmtpd_tls_protocols = >=TLSv1.2\n");
    let mut master = String::new();
    master.push_str("# Postfix master.cf template: one smtpd per mail server address.\n");
    let mut mail_tcp = Vec::new();
    let mut mail_addresses = Vec::new();
    let mut rustls_mail = Vec::new();
    for s in &mail {
        if let Some(v6) = s.v6 {
            web_addresses.insert(IpAddr::V6(v6), ());
        }
        if let Some(flavour) = s.pq {
            let v6 = s.v6.filter(|_| s.v6_listens);
            rustls_mail.push(TlsServer {
                listen: listen_addresses(s.v4, v6, 25),
                flavour,
                service: Service::Smtp {
                    host: s.host.clone(),
                    cert: format!("{DIR_PLACEHOLDER}/certs/mail/{}.pem", s.host),
                    key: format!("{DIR_PLACEHOLDER}/{}", pki.key_file(s.key).display()),
                },
            });
            continue;
        }
        let tls = if s.starttls {
            format!(
                "-o smtpd_tls_security_level=may -o smtpd_tls_chain_files={DIR_PLACEHOLDER}/{},{DIR_PLACEHOLDER}/certs/mail/{}.pem",
                pki.key_file(s.key).display(),
                s.host
            )
        } else {
            "-o smtpd_tls_security_level=none".to_string()
        };
        let mut add = |addr: IpAddr| {
            let a = match addr {
                IpAddr::V4(a) => a.to_string(),
                IpAddr::V6(a) => format!("[{a}]"),
            };
            let _ = writeln!(
                master,
                "{a}:25 inet n - n - - smtpd {tls} -o myhostname={}",
                s.host
            );
            mail_tcp.push(SocketAddr::new(addr, 25));
        };
        add(IpAddr::V4(s.v4));
        mail_addresses.push(IpAddr::V4(s.v4));
        if let Some(v6) = s.v6 {
            if s.v6_listens {
                add(IpAddr::V6(v6));
                mail_addresses.push(IpAddr::V6(v6));
            }
        }
    }
    for line in [
        "pickup    unix  n       -       n       60      1       pickup",
        "cleanup   unix  n       -       n       -       0       cleanup",
        "qmgr      unix  n       -       n       300     1       qmgr",
        "tlsmgr    unix  -       -       n       1000?   1       tlsmgr",
        "rewrite   unix  -       -       n       -       -       trivial-rewrite",
        "bounce    unix  -       -       n       -       0       bounce",
        "defer     unix  -       -       n       -       0       bounce",
        "trace     unix  -       -       n       -       0       bounce",
        "verify    unix  -       -       n       -       1       verify",
        "flush     unix  n       -       n       1000?   0       flush",
        "proxymap  unix  -       -       n       -       -       proxymap",
        "smtp      unix  -       -       n       -       -       smtp",
        "relay     unix  -       -       n       -       -       smtp",
        "showq     unix  n       -       n       -       -       showq",
        "error     unix  -       -       n       -       -       error",
        "retry     unix  -       -       n       -       -       error",
        "discard   unix  -       -       n       -       -       discard",
        "local     unix  -       n       n       -       -       local",
        "anvil     unix  -       -       n       -       1       anvil",
        "scache    unix  -       -       n       -       1       scache",
        "postlog   unix-dgram n  -       n       -       1       postlogd",
    ] {
        master.push_str(line);
        master.push('\n');
    }
    write_file(&out.join(POSTFIX_CONFIG).join("main.cf"), &main)?;
    write_file(&out.join(POSTFIX_CONFIG).join("master.cf"), &master)?;

    // The rustls servers: web (port 443) and mail (port 25).
    let tls_servers: Vec<TlsServer> = rustls_web.into_values().chain(rustls_mail).collect();
    let tls_tcp: Vec<SocketAddr> = tls_servers
        .iter()
        .flat_map(|t| t.listen.iter().copied())
        .collect();
    let mut tls_addresses: Vec<IpAddr> = tls_tcp.iter().map(SocketAddr::ip).collect();
    tls_addresses.sort();
    tls_addresses.dedup();
    let serve = ServeConfig {
        servers: tls_servers,
    };
    let json = serde_json::to_string_pretty(&serve)
        .map_err(|e| GenerateError::io(&out.join(SERVE_TLS_CONFIG), std::io::Error::other(e)))?;
    write_file(&out.join(SERVE_TLS_CONFIG), &(json + "\n"))?;

    let mut addresses: Vec<IpAddr> = web_addresses.into_keys().collect();
    addresses.extend(tls_addresses.iter().copied());
    addresses.extend(mail_addresses.iter().copied());
    addresses.sort();
    addresses.dedup();
    let mut servers = vec![
        Server {
            name: "nginx".into(),
            kind: ServerKind::Nginx,
            config: PathBuf::from(NGINX_CONFIG),
            addresses: nginx_addresses,
            tcp,
        },
        Server {
            name: "postfix".into(),
            kind: ServerKind::Postfix,
            config: PathBuf::from(POSTFIX_CONFIG),
            addresses: mail_addresses,
            tcp: mail_tcp,
        },
    ];
    if !serve.servers.is_empty() {
        servers.push(Server {
            name: "serve-tls".into(),
            kind: ServerKind::ServeTls,
            config: PathBuf::from(SERVE_TLS_CONFIG),
            addresses: tls_addresses,
            tcp: tls_tcp,
        });
    }
    Ok(Hosting { servers, addresses })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nginx_strings_are_escaped() {
        assert_eq!(quoted("a\"b\nc"), "\"a\\\"b\\nc\"");
    }
}
