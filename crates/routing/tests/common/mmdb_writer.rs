//! A minimal MaxMind DB writer for tests (IPv4 tree, 32-bit records), following the MaxMind
//! DB format specification 2.0: search tree, 16 zero bytes, data section, metadata.

use std::net::Ipv4Addr;

/// A value of the data section.
pub enum V {
    Str(&'static str),
    U32(u32),
    Map(Vec<(&'static str, V)>),
}

fn control(out: &mut Vec<u8>, ty: u8, size: usize) {
    // Sizes 29..=284 take one extra byte holding size - 29.
    let (low, extra) = match size {
        0..=28 => (size as u8, None),
        29..=284 => (29, Some((size - 29) as u8)),
        _ => panic!("size {size} not supported by this test writer"),
    };
    if ty <= 7 {
        out.push((ty << 5) | low);
    } else {
        out.push(low);
        out.push(ty - 7);
    }
    out.extend(extra);
}

fn uint(out: &mut Vec<u8>, ty: u8, v: u64) {
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    control(out, ty, 8 - skip);
    out.extend_from_slice(&bytes[skip..]);
}

fn encode(out: &mut Vec<u8>, v: &V) {
    match v {
        V::Str(s) => {
            control(out, 2, s.len());
            out.extend_from_slice(s.as_bytes());
        }
        V::U32(n) => uint(out, 6, u64::from(*n)),
        V::Map(m) => {
            control(out, 7, m.len());
            for (k, v) in m {
                encode(out, &V::Str(k));
                encode(out, v);
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Rec {
    Empty,
    Node(u32),
    Data(u32),
}

/// Writes a database of type `db_type` mapping disjoint IPv4 networks to values.
pub fn write(db_type: &'static str, networks: &[(Ipv4Addr, u8, V)]) -> Vec<u8> {
    let mut nodes: Vec<[Rec; 2]> = vec![[Rec::Empty; 2]];
    let mut data = Vec::new();
    for (addr, len, value) in networks {
        let offset = data.len() as u32;
        encode(&mut data, value);
        let bits = u32::from(*addr);
        let mut node = 0usize;
        for depth in 0..*len {
            let bit = ((bits >> (31 - depth)) & 1) as usize;
            if depth + 1 == *len {
                nodes[node][bit] = Rec::Data(offset);
            } else {
                node = match nodes[node][bit] {
                    Rec::Node(n) => n as usize,
                    _ => {
                        nodes.push([Rec::Empty; 2]);
                        let n = nodes.len() - 1;
                        nodes[node][bit] = Rec::Node(n as u32);
                        n
                    }
                };
            }
        }
    }
    let count = nodes.len() as u32;
    let mut out = Vec::new();
    for n in &nodes {
        for r in n {
            let v = match *r {
                Rec::Empty => count,
                Rec::Node(i) => i,
                Rec::Data(off) => count + 16 + off,
            };
            out.extend_from_slice(&v.to_be_bytes());
        }
    }
    out.extend_from_slice(&[0u8; 16]);
    out.extend_from_slice(&data);
    out.extend_from_slice(b"\xAB\xCD\xEFMaxMind.com");
    let mut meta = Vec::new();
    control(&mut meta, 7, 9);
    let key = |m: &mut Vec<u8>, k: &'static str| encode(m, &V::Str(k));
    key(&mut meta, "node_count");
    uint(&mut meta, 6, u64::from(count));
    key(&mut meta, "record_size");
    uint(&mut meta, 5, 32);
    key(&mut meta, "ip_version");
    uint(&mut meta, 5, 4);
    key(&mut meta, "database_type");
    encode(&mut meta, &V::Str(db_type));
    key(&mut meta, "languages");
    control(&mut meta, 11, 1);
    encode(&mut meta, &V::Str("en"));
    key(&mut meta, "binary_format_major_version");
    uint(&mut meta, 5, 2);
    key(&mut meta, "binary_format_minor_version");
    uint(&mut meta, 5, 0);
    key(&mut meta, "build_epoch");
    uint(&mut meta, 9, 1_750_000_000);
    key(&mut meta, "description");
    encode(
        &mut meta,
        &V::Map(vec![("en", V::Str("uptake test database"))]),
    );
    out.extend_from_slice(&meta);
    out
}
