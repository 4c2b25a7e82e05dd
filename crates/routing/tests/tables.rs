//! The table parsers: every supported format, gzip, and each malformed case with the file and
//! line in the message.

mod common {
    pub mod mmdb_writer;
}

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use common::mmdb_writer::{self, V};
use uptake_routing::{
    vrp, HostingInfo, HostingSource, HostingTable, Origin, OriginTable, RoutingError, Validity,
    VrpTable,
};

fn file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn gzip(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&path).unwrap(),
        flate2::Compression::fast(),
    );
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap();
    path
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The error message of a failed load, which must start with `path:line:`.
fn err_at<T: std::fmt::Debug>(r: Result<T, RoutingError>, path: &Path, line: usize) -> String {
    let msg = r.unwrap_err().to_string();
    let want = format!("{}:{line}: ", path.display());
    assert!(
        msg.starts_with(&want),
        "'{msg}' does not start with '{want}'"
    );
    msg
}

const ROUTINATOR_CSV: &str = "ASN,IP Prefix,Max Length,Trust Anchor
AS13335,1.1.1.0/24,24,apnic
AS64500,2001:db8::/32,48,ripe
";

#[test]
fn vrp_csv_formats() {
    let d = tempfile::tempdir().unwrap();
    // Routinator / rpki-client CSV with header.
    let a = vrp::parse_file(&file(d.path(), "a.csv", ROUTINATOR_CSV)).unwrap();
    assert_eq!(a.len(), 2);
    assert_eq!(
        (a[0].asn, a[0].prefix.to_string(), a[0].max_length),
        (13335, "1.1.1.0/24".into(), 24)
    );
    assert_eq!((a[1].asn, a[1].max_length), (64500, 48));
    // No header, no "AS", rpki-client's extra Expires column, CRLF, comments and blank lines.
    let text = "# rpki-client\r\n13335,1.1.1.0/24,24,apnic,1767225600\r\n\r\nAS0,192.0.2.0/24,32,arin,1\r\n";
    let b = vrp::parse_file(&file(d.path(), "b.csv", text)).unwrap();
    assert_eq!(b.len(), 2);
    assert_eq!((b[0].asn, b[1].asn, b[1].max_length), (13335, 0, 32));
    // Routinator csvext: columns found by name.
    let text = "URI,ASN,IP Prefix,Max Length,Not Before,Not After\nrsync://x/a.roa,AS64501,198.51.100.0/24,24,2026-01-01,2027-01-01\n";
    let c = vrp::parse_file(&file(d.path(), "c.csv", text)).unwrap();
    assert_eq!(
        (c[0].asn, c[0].prefix.to_string()),
        (64501, "198.51.100.0/24".into())
    );
    // Gzip, whatever the name.
    let g = vrp::parse_file(&gzip(d.path(), "g.csv", ROUTINATOR_CSV.as_bytes())).unwrap();
    assert_eq!(g, a);
}

#[test]
fn vrp_json_formats() {
    let d = tempfile::tempdir().unwrap();
    let text = r#"{"metadata":{"generated":1},"roas":[
        {"asn":"AS13335","prefix":"1.1.1.0/24","maxLength":24,"ta":"apnic"},
        {"asn":64500,"prefix":"2001:db8::/32","maxLength":48,"ta":"ripe","expires":1}
    ]}"#;
    let v = vrp::parse_file(&file(d.path(), "v.json", text)).unwrap();
    assert_eq!(
        v,
        vrp::parse_file(&file(d.path(), "v.csv", ROUTINATOR_CSV)).unwrap()
    );
    let g = vrp::parse_file(&gzip(d.path(), "v.json.gz", text.as_bytes())).unwrap();
    assert_eq!(g, v);
}

#[test]
fn malformed_vrps_name_file_and_line() {
    let d = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str)] = &[
        ("ASx13335,1.1.1.0/24,24,apnic", "bad AS number 'ASx13335'"),
        ("AS13335,1.1.1.0,24,apnic", "is not address/length"),
        ("AS13335,1.1.1.1/24,24,apnic", "host bits set"),
        ("AS13335,1.1.1.0/24,23,apnic", "max length 23 outside"),
        ("AS13335,1.1.1.0/24,33,apnic", "max length 33 outside"),
        ("AS13335,1.1.1.0/24,x,apnic", "bad max length 'x'"),
        ("AS13335,1.1.1.0/24", "expected ASN,IP Prefix,Max Length"),
        ("AS4294967296,1.1.1.0/24,24,apnic", "bad AS number"),
    ];
    for (i, (line, want)) in cases.iter().enumerate() {
        let text = format!("{ROUTINATOR_CSV}{line}\n");
        let path = file(d.path(), &format!("bad{i}.csv"), &text);
        let msg = err_at(VrpTable::load(&path), &path, 4);
        assert!(msg.contains(want), "'{msg}' lacks '{want}'");
    }
    let path = file(
        d.path(),
        "header.csv",
        "ASN,Prefix,Max\nAS1,1.1.1.0/24,24\n",
    );
    assert!(err_at(VrpTable::load(&path), &path, 1).contains("header lacks"));
    // JSON: syntax errors carry serde's line and column, bad entries their index.
    let path = file(d.path(), "syntax.json", "{\"roas\": [\n{\"asn\": 1,,}]}");
    let msg = VrpTable::load(&path).unwrap_err().to_string();
    assert!(
        msg.starts_with(&path.display().to_string()) && msg.contains("line 2"),
        "{msg}"
    );
    let path = file(
        d.path(),
        "entry.json",
        r#"{"roas":[{"asn":1,"prefix":"1.1.1.0/24","maxLength":24},{"asn":"ASy","prefix":"1.1.1.0/24","maxLength":24}]}"#,
    );
    let msg = VrpTable::load(&path).unwrap_err().to_string();
    assert_eq!(
        msg,
        format!("{}: roas[1]: bad AS number 'ASy'", path.display())
    );
    // Missing and empty files.
    let missing = d.path().join("missing.csv");
    let msg = VrpTable::load(&missing).unwrap_err().to_string();
    assert!(
        msg.starts_with(&missing.display().to_string()) && msg.contains("No such file"),
        "{msg}"
    );
    let empty = file(
        d.path(),
        "empty.csv",
        "ASN,IP Prefix,Max Length,Trust Anchor\n",
    );
    assert_eq!(
        VrpTable::load(&empty).unwrap_err().to_string(),
        format!("{}: no VRP in the file", empty.display())
    );
}

#[test]
fn prefix2as_formats_moas_and_as_sets() {
    let d = tempfile::tempdir().unwrap();
    let caida = "192.0.2.0\t24\t64500\n198.51.100.0\t24\t64501_64502\n203.0.113.0\t24\t64503,64504\n2001:db8::\t32\t64505_64506,64507\n192.0.0.0\t16\t64508\n";
    let t = OriginTable::load(&gzip(d.path(), "p2a.gz", caida.as_bytes())).unwrap();
    assert_eq!(t.len(), 5);
    let r = t.lookup(ip("192.0.2.9")).unwrap();
    assert_eq!(
        (r.prefix.to_string(), r.origins),
        ("192.0.2.0/24".into(), &[Origin::As(64500)][..])
    );
    // Longest match: outside the /24, inside the /16.
    assert_eq!(
        t.lookup(ip("192.0.3.1")).unwrap().prefix.to_string(),
        "192.0.0.0/16"
    );
    assert_eq!(
        t.lookup(ip("198.51.100.1")).unwrap().origins,
        &[Origin::As(64501), Origin::As(64502)]
    );
    assert_eq!(
        t.lookup(ip("203.0.113.1")).unwrap().origins,
        &[Origin::Set(vec![64503, 64504].into())]
    );
    let six = t.lookup(ip("2001:db8::1")).unwrap();
    assert_eq!(six.origins.len(), 2);
    assert_eq!(six.origins[1].to_string(), "AS{64506,64507}");
    assert!(t.lookup(ip("10.0.0.1")).is_none());
    // Plain table; the same prefix twice is MOAS.
    let plain = "192.0.2.0/24 AS64500\n192.0.2.0/24 64501\n2001:db8::/32\tAS64502\n";
    let t = OriginTable::load(&file(d.path(), "plain.txt", plain)).unwrap();
    assert_eq!(
        t.lookup(ip("192.0.2.1")).unwrap().origins,
        &[Origin::As(64500), Origin::As(64501)]
    );
    assert_eq!(
        t.lookup(ip("2001:db8::5")).unwrap().origins,
        &[Origin::As(64502)]
    );
}

#[test]
fn malformed_prefix2as_names_file_and_line() {
    let d = tempfile::tempdir().unwrap();
    for (line, want) in [
        ("192.0.2.0\t24\tAS-x", "bad AS number 'AS-x'"),
        ("192.0.2.0\t33\t64500", "length beyond"),
        ("192.0.2.0/24", "expected prefix<TAB>length<TAB>origin"),
        ("192.0.2.0 24 64500 extra", "expected prefix"),
        ("192.0.2.0/24 64500_", "bad AS number"),
        ("192.0.2.7/24 64500", "host bits"),
    ] {
        let path = file(
            d.path(),
            "p.txt",
            &format!("198.51.100.0\t24\t1\n\n{line}\n"),
        );
        let msg = err_at(OriginTable::load(&path), &path, 3);
        assert!(msg.contains(want), "'{msg}' lacks '{want}'");
    }
    let path = file(d.path(), "empty.txt", "# nothing\n");
    assert!(OriginTable::load(&path)
        .unwrap_err()
        .to_string()
        .contains("no route"));
}

const IPTOASN: &str = "1.0.0.0\t1.0.0.255\t13335\tUS\tCLOUDFLARENET
1.0.1.0\t1.0.3.255\t0\tNone\tNot routed
1.0.4.0\t1.0.7.255\t38803\tAU\tGTELECOM-AUSTRALIA Gtelecom Pty Ltd
2001:db8::\t2001:db8:ffff:ffff:ffff:ffff:ffff:ffff\t64500\tNone\tDOC-NET
";

#[test]
fn iptoasn_lookups() {
    let d = tempfile::tempdir().unwrap();
    let t = HostingTable::load(&HostingSource::Iptoasn(file(
        d.path(),
        "ip2asn.tsv",
        IPTOASN,
    )))
    .unwrap();
    let info = |asn: u32, name: &str, cc: Option<&str>| HostingInfo {
        asn: Some(asn),
        as_name: Some(name.into()),
        country: cc.map(str::to_string),
    };
    assert_eq!(
        t.lookup(ip("1.0.0.0")),
        Some(info(13335, "CLOUDFLARENET", Some("US")))
    );
    assert_eq!(
        t.lookup(ip("1.0.0.255")),
        Some(info(13335, "CLOUDFLARENET", Some("US")))
    );
    assert_eq!(t.lookup(ip("1.0.2.1")), None, "AS 0 is not routed");
    assert_eq!(
        t.lookup(ip("1.0.7.255")),
        Some(info(
            38803,
            "GTELECOM-AUSTRALIA Gtelecom Pty Ltd",
            Some("AU")
        ))
    );
    assert_eq!(t.lookup(ip("1.0.8.0")), None);
    assert_eq!(t.lookup(ip("0.255.255.255")), None);
    assert_eq!(
        t.lookup(ip("2001:db8:1::1")),
        Some(info(64500, "DOC-NET", None))
    );
}

#[test]
fn malformed_iptoasn_names_file_and_line() {
    let d = tempfile::tempdir().unwrap();
    for (line, want) in [
        (
            "1.0.6.0\t1.0.8.255\t1\tUS\tX",
            "overlaps the range on line 3",
        ),
        (
            "0.0.0.0\t0.0.0.255\t1\tUS\tX",
            "not sorted: it starts before the range on line 3",
        ),
        (
            "1.0.9.0\t1.0.8.255\t1\tUS\tX",
            "range start after range end",
        ),
        (
            "1.0.9.0\t2001:db8::\t1\tUS\tX",
            "different address families",
        ),
        ("1.0.9.0\t1.0.9.255\tAS1\tUS\tX", "bad AS number"),
        ("1.0.9.0\t1.0.9.x\t1\tUS\tX", "bad address '1.0.9.x'"),
        ("1.0.9.0 1.0.9.255 1 US X", "expected range_start"),
    ] {
        let text = IPTOASN.replace("2001:db8::", "# v6 below\n2001:db8::");
        let mut lines: Vec<&str> = text.lines().collect();
        lines.insert(4, line); // after the third range, before the comment
        let path = file(d.path(), "bad.tsv", &(lines.join("\n") + "\n"));
        let msg = err_at(
            HostingTable::load(&HostingSource::Iptoasn(path.clone())),
            &path,
            5,
        );
        assert!(msg.contains(want), "'{msg}' lacks '{want}'");
    }
    // IPv6 ranges are ordered on their own: a v6 range after v4 ones is fine, unsorted v6 not.
    let text = format!("{IPTOASN}2001:db7::\t2001:db7::ff\t1\tUS\tX\n");
    let path = file(d.path(), "v6.tsv", &text);
    let msg = err_at(
        HostingTable::load(&HostingSource::Iptoasn(path.clone())),
        &path,
        5,
    );
    assert!(msg.contains("line 4"), "{msg}");
    let missing = HostingSource::Iptoasn(d.path().join("nope.tsv"));
    assert!(HostingTable::load(&missing)
        .unwrap_err()
        .to_string()
        .contains("nope.tsv: No such file"));
}

#[test]
fn mmdb_asn_and_country() {
    let d = tempfile::tempdir().unwrap();
    let asn = mmdb_writer::write(
        "GeoLite2-ASN",
        &[
            (
                "192.0.2.0".parse().unwrap(),
                24,
                V::Map(vec![
                    ("autonomous_system_number", V::U32(64500)),
                    ("autonomous_system_organization", V::Str("EXAMPLE-NET")),
                ]),
            ),
            (
                "198.51.100.0".parse().unwrap(),
                25,
                V::Map(vec![("autonomous_system_number", V::U32(64501))]),
            ),
        ],
    );
    let country = mmdb_writer::write(
        "GeoLite2-Country",
        &[(
            "192.0.0.0".parse().unwrap(),
            16,
            V::Map(vec![(
                "country",
                V::Map(vec![
                    ("iso_code", V::Str("NL")),
                    ("geoname_id", V::U32(2750405)),
                ]),
            )]),
        )],
    );
    let asn_path = d.path().join("asn.mmdb");
    std::fs::write(&asn_path, &asn).unwrap();
    let country_path = gzip(d.path(), "country.mmdb.gz", &country);
    let t = HostingTable::load(&HostingSource::Mmdb {
        asn: asn_path.clone(),
        country: Some(country_path),
    })
    .unwrap();
    assert_eq!(
        t.lookup(ip("192.0.2.77")),
        Some(HostingInfo {
            asn: Some(64500),
            as_name: Some("EXAMPLE-NET".into()),
            country: Some("NL".into())
        })
    );
    assert_eq!(
        t.lookup(ip("192.0.3.1")),
        Some(HostingInfo {
            asn: None,
            as_name: None,
            country: Some("NL".into())
        })
    );
    assert_eq!(
        t.lookup(ip("198.51.100.127")),
        Some(HostingInfo {
            asn: Some(64501),
            as_name: None,
            country: None
        })
    );
    assert_eq!(t.lookup(ip("198.51.100.128")), None);
    assert_eq!(t.lookup(ip("2001:db8::1")), None);
    let only_asn = HostingTable::load(&HostingSource::Mmdb {
        asn: asn_path,
        country: None,
    })
    .unwrap();
    assert_eq!(only_asn.lookup(ip("192.0.2.1")).unwrap().country, None);
    // A damaged database fails when loaded, naming the file.
    let mut broken = asn.clone();
    broken[0] = 0xff;
    let path = d.path().join("broken.mmdb");
    std::fs::write(&path, &broken).unwrap();
    let msg = HostingTable::load(&HostingSource::Mmdb {
        asn: path.clone(),
        country: None,
    })
    .unwrap_err()
    .to_string();
    assert!(msg.starts_with(&path.display().to_string()), "{msg}");
    let text = file(d.path(), "not.mmdb", "hello");
    assert!(HostingTable::load(&HostingSource::Mmdb {
        asn: text,
        country: None
    })
    .is_err());
}

#[test]
fn csv_and_json_vrps_validate_alike() {
    let d = tempfile::tempdir().unwrap();
    let t = VrpTable::load(&file(d.path(), "v.csv", ROUTINATOR_CSV)).unwrap();
    assert_eq!(t.len(), 2);
    let p = "1.1.1.0/24".parse().unwrap();
    assert_eq!(t.validate(&p, &Origin::As(13335)), Validity::Valid);
}
