//! A small bounded DER walker for the two things TLS inspection reads from an X.509
//! certificate: the subject and issuer names, formatted as Suricata prints them
//! (`C=US, ST=CA, O=Example, CN=www.example.com`: RDNs in certificate order joined by `, `,
//! several attributes of one RDN by ` + `, string values as their bytes, other values in upper
//! hex, unknown attribute types as a dotted OID).
//!
//! Not a certificate validator: no signature, time or extension checks; anything that is not
//! the expected shape is [`DerError`], never a panic. No allocation beyond the caller's output.

use std::fmt;

/// Why a certificate could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DerError {
    /// A length runs past its enclosing value, or uses more than 4 length bytes.
    Truncated,
    /// A value has another tag than the certificate structure puts there.
    UnexpectedTag { expected: u8, found: u8 },
}

impl fmt::Display for DerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DerError::Truncated => f.write_str("truncated DER value"),
            DerError::UnexpectedTag { expected, found } => {
                write!(f, "DER tag {found:#04x} where {expected:#04x} belongs")
            }
        }
    }
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const VERSION: u8 = 0xa0;

/// One tag-length-value: `value` is the content octets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tlv<'a> {
    pub tag: u8,
    pub value: &'a [u8],
}

/// Reads one TLV (single-byte tags, definite lengths of up to 4 bytes) and returns it with the
/// bytes after it.
pub fn read_tlv(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), DerError> {
    let [tag, first, rest @ ..] = input else {
        return Err(DerError::Truncated);
    };
    let (len, rest) = if first & 0x80 == 0 {
        (usize::from(*first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return Err(DerError::Truncated);
        }
        let len = rest[..count]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[count..])
    };
    if rest.len() < len {
        return Err(DerError::Truncated);
    }
    let (value, after) = rest.split_at(len);
    Ok((Tlv { tag: *tag, value }, after))
}

/// Reads one TLV that must carry `tag`.
fn expect(input: &[u8], tag: u8) -> Result<(&[u8], &[u8]), DerError> {
    let (tlv, rest) = read_tlv(input)?;
    if tlv.tag != tag {
        return Err(DerError::UnexpectedTag {
            expected: tag,
            found: tlv.tag,
        });
    }
    Ok((tlv.value, rest))
}

/// The DER encodings of a certificate's issuer and subject names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CertNames<'a> {
    pub issuer: &'a [u8],
    pub subject: &'a [u8],
}

/// Finds issuer and subject in a DER certificate (`Certificate ::= SEQUENCE { tbsCertificate
/// SEQUENCE { [0] version OPTIONAL, serialNumber, signature, issuer, validity, subject, ...}}`).
pub fn cert_names(der: &[u8]) -> Result<CertNames<'_>, DerError> {
    let (cert, _) = expect(der, SEQUENCE)?;
    let (tbs, _) = expect(cert, SEQUENCE)?;
    let (first, mut rest) = read_tlv(tbs)?;
    if first.tag == VERSION {
        (_, rest) = read_tlv(rest)?; // serialNumber
    }
    let (_, rest) = expect(rest, SEQUENCE)?; // signature algorithm
    let (issuer, rest) = expect(rest, SEQUENCE)?;
    let (_, rest) = expect(rest, SEQUENCE)?; // validity
    let (subject, _) = expect(rest, SEQUENCE)?;
    Ok(CertNames { issuer, subject })
}

/// Short names of the attribute types Suricata abbreviates (x509-parser's table) and a few
/// more it names by their registry short name.
const ATTRIBUTE_NAMES: &[(&[u8], &str)] = &[
    (&[0x55, 0x04, 0x03], "CN"),
    (&[0x55, 0x04, 0x06], "C"),
    (&[0x55, 0x04, 0x07], "L"),
    (&[0x55, 0x04, 0x08], "ST"),
    (&[0x55, 0x04, 0x0a], "O"),
    (&[0x55, 0x04, 0x0b], "OU"),
    (
        &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19],
        "DC",
    ),
    (
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01],
        "Email",
    ),
    (&[0x55, 0x04, 0x05], "serialNumber"),
    (&[0x55, 0x04, 0x04], "surname"),
    (&[0x55, 0x04, 0x2a], "givenName"),
    (&[0x55, 0x04, 0x0c], "title"),
    (&[0x55, 0x04, 0x09], "street"),
];

/// ASN.1 string types whose content is written as is.
fn is_string_tag(tag: u8) -> bool {
    matches!(
        tag,
        0x0c | 0x12 | 0x13 | 0x14 | 0x15 | 0x16 | 0x19 | 0x1a | 0x1b | 0x1e | 0x07
    )
}

/// Appends the dotted form of an OID's content octets.
fn write_oid(oid: &[u8], out: &mut Vec<u8>) {
    let mut value: u64 = 0;
    let mut first = true;
    for &byte in oid {
        value = (value << 7) | u64::from(byte & 0x7f);
        if byte & 0x80 != 0 {
            continue;
        }
        if first {
            let (a, b) = if value < 80 {
                (value / 40, value % 40)
            } else {
                (2, value - 80)
            };
            out.extend_from_slice(format_u64(a).as_bytes());
            out.push(b'.');
            out.extend_from_slice(format_u64(b).as_bytes());
            first = false;
        } else {
            out.push(b'.');
            out.extend_from_slice(format_u64(value).as_bytes());
        }
        value = 0;
    }
}

/// A small stack-formatted number (no allocation).
fn format_u64(value: u64) -> DecimalU64 {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut v = value;
    loop {
        at -= 1;
        digits[at] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    DecimalU64 { digits, start: at }
}

struct DecimalU64 {
    digits: [u8; 20],
    start: usize,
}

impl DecimalU64 {
    fn as_bytes(&self) -> &[u8] {
        &self.digits[self.start..]
    }
}

/// Formats a DER `Name` (the content of its SEQUENCE) into `out` (cleared first).
pub fn format_name(name: &[u8], out: &mut Vec<u8>) -> Result<(), DerError> {
    out.clear();
    let mut rdns = name;
    let mut first_rdn = true;
    while !rdns.is_empty() {
        let (rdn, rest) = expect(rdns, SET)?;
        rdns = rest;
        if !first_rdn {
            out.extend_from_slice(b", ");
        }
        first_rdn = false;
        let mut attributes = rdn;
        let mut first_attribute = true;
        while !attributes.is_empty() {
            let (attribute, rest) = expect(attributes, SEQUENCE)?;
            attributes = rest;
            let (oid, rest) = expect(attribute, OID)?;
            let (value, _) = read_tlv(rest)?;
            if !first_attribute {
                out.extend_from_slice(b" + ");
            }
            first_attribute = false;
            match ATTRIBUTE_NAMES.iter().find(|(encoded, _)| *encoded == oid) {
                Some((_, short)) => out.extend_from_slice(short.as_bytes()),
                None => write_oid(oid, out),
            }
            out.push(b'=');
            if is_string_tag(value.tag) {
                out.extend_from_slice(value.value);
            } else {
                for byte in value.value {
                    out.extend_from_slice(&HEX_UPPER[usize::from(*byte)]);
                }
            }
        }
    }
    Ok(())
}

/// Upper-case hex of every byte value.
static HEX_UPPER: [[u8; 2]; 256] = {
    let digits = b"0123456789ABCDEF";
    let mut table = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = [digits[i >> 4], digits[i & 15]];
        i += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::super::tls::build::{
        certificate_with_names as certificate, name, tlv, C, CN, O, ST,
    };
    use super::*;

    fn names_of(cert: &[u8]) -> (String, String) {
        let names = cert_names(cert).unwrap();
        let mut subject = Vec::new();
        let mut issuer = Vec::new();
        format_name(names.subject, &mut subject).unwrap();
        format_name(names.issuer, &mut issuer).unwrap();
        (
            String::from_utf8(subject).unwrap(),
            String::from_utf8(issuer).unwrap(),
        )
    }

    #[test]
    fn subject_and_issuer_in_certificate_order() {
        let issuer = name(&[
            (C, 0x13, "US"),
            (O, 0x13, "Evil CA"),
            (CN, 0x0c, "Evil Root"),
        ]);
        let subject = name(&[
            (C, 0x13, "US"),
            (ST, 0x0c, "California"),
            (CN, 0x0c, "bad.example"),
        ]);
        let (subject, issuer) = names_of(&certificate(&issuer, &subject));
        assert_eq!(subject, "C=US, ST=California, CN=bad.example");
        assert_eq!(issuer, "C=US, O=Evil CA, CN=Evil Root");
    }

    #[test]
    fn multi_valued_rdn_joins_with_plus_and_unknown_oid_is_dotted() {
        let attribute = |oid: &[u8], value: &str| {
            tlv(
                SEQUENCE,
                &[tlv(OID, oid), tlv(0x0c, value.as_bytes())].concat(),
            )
        };
        let rdn = tlv(
            SET,
            &[attribute(O, "A"), attribute(&[0x2b, 0x06, 0x01], "x")].concat(),
        );
        let mut out = Vec::new();
        format_name(&rdn, &mut out).unwrap();
        assert_eq!(out, b"O=A + 1.3.6.1=x");
    }

    #[test]
    fn non_string_values_are_upper_hex() {
        let rdn = tlv(
            SET,
            &tlv(SEQUENCE, &[tlv(OID, CN), tlv(0x04, &[0xab, 0x01])].concat()),
        );
        let mut out = Vec::new();
        format_name(&rdn, &mut out).unwrap();
        assert_eq!(out, b"CN=AB01");
    }

    #[test]
    fn version_is_optional() {
        let issuer = name(&[(CN, 0x0c, "i")]);
        let subject = name(&[(CN, 0x0c, "s")]);
        let v3 = certificate(&issuer, &subject);
        // Rebuild without the [0] version: the walker finds the same names.
        let (cert, _) = expect(&v3, SEQUENCE).unwrap();
        let (tbs, after_tbs) = expect(cert, SEQUENCE).unwrap();
        let (_, without_version) = read_tlv(tbs).unwrap();
        let v1 = tlv(
            SEQUENCE,
            &[tlv(SEQUENCE, without_version), after_tbs.to_vec()].concat(),
        );
        assert_eq!(names_of(&v1), ("CN=s".into(), "CN=i".into()));
    }

    #[test]
    fn long_form_lengths() {
        let long = "x".repeat(300);
        let subject = name(&[(CN, 0x0c, &long)]);
        let (subject, _) = names_of(&certificate(&name(&[(CN, 0x0c, "i")]), &subject));
        assert_eq!(subject, format!("CN={long}"));
    }

    #[test]
    fn truncated_and_wrong_tags_are_errors() {
        let cert = certificate(&name(&[(CN, 0x0c, "i")]), &name(&[(CN, 0x0c, "s")]));
        for cut in [0, 1, 2, 10, cert.len() / 2] {
            assert!(cert_names(&cert[..cut]).is_err(), "cut at {cut}");
        }
        assert_eq!(
            cert_names(&tlv(SET, &[])),
            Err(DerError::UnexpectedTag {
                expected: SEQUENCE,
                found: SET
            })
        );
        assert_eq!(
            read_tlv(&[0x30, 0x85, 1, 1, 1, 1, 1]),
            Err(DerError::Truncated)
        );
        let mut out = Vec::new();
        assert!(format_name(&tlv(SEQUENCE, &[]), &mut out).is_err());
    }

    #[test]
    fn dotted_oid_handles_multi_byte_arcs() {
        let mut out = Vec::new();
        write_oid(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d], &mut out);
        assert_eq!(out, b"1.2.840.113549");
    }
}
