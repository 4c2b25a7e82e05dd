//! Parsing responses: hickory-proto's strict parser, then a lenient one record by record.
//!
//! hickory-proto rejects a whole message when one record's RDATA does not parse (a broken CAA,
//! SVCB or MX record, an empty non-OPT record, ...). For measurement one odd record must not hide
//! the rest of the answer, so when the strict parse fails we walk the sections ourselves, keep
//! every record whose framing (owner name, type, class, TTL, RDLENGTH) is sound, and turn RDATA
//! that hickory cannot read into `RData::Unknown { code: <the record's type>, rdata }` with the raw
//! bytes. Only a message whose header, question or record framing is broken is `Malformed`.

use std::net::SocketAddr;

use hickory_proto::op::{Edns, Header, Message};
use hickory_proto::rr::rdata::{NULL, OPT};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, DecodeError, Restrict};

use crate::DnsError;

/// Parses a response; never panics (a panic inside the parser becomes `Malformed`).
pub(crate) fn parse_message(server: SocketAddr, bytes: &[u8]) -> Result<Message, DnsError> {
    let parsed = std::panic::catch_unwind(|| match Message::from_vec(bytes) {
        Ok(m) => Ok(m),
        Err(strict) => parse_lenient(bytes).map_err(|_| strict.to_string()),
    });
    match parsed {
        Ok(Ok(m)) => Ok(m),
        Ok(Err(reason)) => Err(DnsError::Malformed { server, reason }),
        Err(_) => Err(DnsError::Malformed {
            server,
            reason: "parser panicked".to_string(),
        }),
    }
}

/// Section by section; unreadable RDATA becomes `RData::Unknown`.
fn parse_lenient(bytes: &[u8]) -> Result<Message, DecodeError> {
    let mut d = BinDecoder::new(bytes);
    let header = Header::read(&mut d)?;
    let mut m = Message::new(
        header.metadata.id,
        header.metadata.message_type,
        header.metadata.op_code,
    );
    m.metadata = header.metadata;
    for _ in 0..header.counts.queries {
        m.queries.push(hickory_proto::op::Query::read(&mut d)?);
    }
    for _ in 0..header.counts.answers {
        if let Some(r) = read_record(&mut d)? {
            m.answers.push(r);
        }
    }
    for _ in 0..header.counts.authorities {
        if let Some(r) = read_record(&mut d)? {
            m.authorities.push(r);
        }
    }
    for _ in 0..header.counts.additionals {
        let Some(r) = read_record(&mut d)? else {
            continue;
        };
        if r.record_type() == RecordType::OPT {
            if m.edns.is_none() {
                m.edns = Some(Edns::from(&r));
            }
        } else {
            m.additionals.push(r);
        }
    }
    if let Some(e) = &m.edns {
        let high = e.rcode_high();
        m.metadata.merge_response_code(high);
    }
    Ok(m)
}

/// One record; `None` for an OPT record outside the additional section's rules (dropped).
fn read_record(d: &mut BinDecoder<'_>) -> Result<Option<Record>, DecodeError> {
    let name = Name::read(d)?;
    let rtype = RecordType::from(d.read_u16()?.unverified());
    let class_raw = d.read_u16()?.unverified();
    let ttl = d.read_u32()?.unverified();
    let len = d.read_u16()?.unverified();
    let start = d.index();
    // Fails if RDLENGTH runs past the end of the message.
    let raw = d.read_slice(usize::from(len))?.unverified();

    if rtype == RecordType::OPT {
        let opt = match read_rdata(d, start, rtype, len) {
            Some(RData::OPT(o)) => o,
            _ => OPT::default(),
        };
        let mut r = Record::from_rdata(Name::root(), ttl, RData::OPT(opt));
        r.dns_class = DNSClass::for_opt(class_raw);
        return Ok(Some(r));
    }
    let data = match read_rdata(d, start, rtype, len) {
        Some(data) => data,
        None if raw.is_empty() => RData::Unknown {
            code: rtype,
            rdata: NULL::new(),
        },
        None => RData::Unknown {
            code: rtype,
            rdata: NULL::with(raw.to_vec()),
        },
    };
    let mut r = Record::from_rdata(name, ttl, data);
    r.dns_class = DNSClass::from(class_raw);
    Ok(Some(r))
}

/// RDATA of `len` bytes at `start` (decoded against the whole message, for compression
/// pointers), if hickory reads exactly those bytes.
fn read_rdata(d: &BinDecoder<'_>, start: usize, rtype: RecordType, len: u16) -> Option<RData> {
    if len == 0 {
        return None;
    }
    let at = u16::try_from(start).ok()?;
    let mut sub = d.clone(at);
    let data = RData::read(&mut sub, rtype, Restrict::new(len)).ok()?;
    (sub.index() == start + usize::from(len)).then_some(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{MessageType, OpCode, Query};
    use hickory_proto::rr::rdata::A;
    use std::net::Ipv4Addr;

    fn server() -> SocketAddr {
        "127.0.0.1:53".parse().unwrap()
    }

    /// A response with one good A record, then raw bytes appended as a second answer.
    fn with_raw_answer(rtype: u16, rdata: &[u8]) -> Vec<u8> {
        let name = Name::from_ascii("x.example.").unwrap();
        let mut m = Message::new(7, MessageType::Response, OpCode::Query);
        m.add_query(Query::query(name.clone(), RecordType::MX));
        m.add_answer(Record::from_rdata(
            name,
            60,
            RData::A(A(Ipv4Addr::new(192, 0, 2, 1))),
        ));
        let mut e = Edns::new();
        e.set_dnssec_ok(true);
        m.set_edns(e);
        let mut b = m.to_vec().unwrap();
        // Insert the extra answer before the OPT record (the last 11 bytes).
        let opt = b.split_off(b.len() - 11);
        b.extend_from_slice(&[0xc0, 0x0c]);
        b.extend_from_slice(&rtype.to_be_bytes());
        b.extend_from_slice(&[0, 1, 0, 0, 0, 60]);
        b.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        b.extend_from_slice(rdata);
        b.extend_from_slice(&opt);
        b[7] = 2; // ANCOUNT
        b
    }

    #[test]
    fn broken_rdata_becomes_unknown() {
        // MX with a one-byte RDATA, and an empty TXT: hickory rejects both messages.
        for (rtype, rdata) in [(15u16, &[0u8][..]), (16u16, &[][..])] {
            let b = with_raw_answer(rtype, rdata);
            assert!(Message::from_vec(&b).is_err());
            let m = parse_message(server(), &b).unwrap();
            assert_eq!(m.answers.len(), 2);
            assert!(matches!(m.answers[0].data, RData::A(_)));
            match &m.answers[1].data {
                RData::Unknown { code, rdata: r } => {
                    assert_eq!(u16::from(*code), rtype);
                    assert_eq!(r.anything, rdata);
                }
                other => panic!("{other:?}"),
            }
            assert!(m.edns.as_ref().unwrap().flags().dnssec_ok);
        }
    }

    #[test]
    fn good_rdata_still_parses_in_lenient_mode() {
        let b = with_raw_answer(15, &[0, 10, 0]); // MX 10 .
        let m = parse_lenient(&b).unwrap();
        assert!(matches!(m.answers[1].data, RData::MX(_)));
    }

    #[test]
    fn broken_framing_is_malformed() {
        let mut b = with_raw_answer(15, &[0, 10, 0]);
        b.truncate(b.len() - 14); // cut into the second answer
        b[11] = 0;
        assert!(matches!(
            parse_message(server(), &b),
            Err(DnsError::Malformed { .. })
        ));
    }
}
