//! Distinguished names as RFC 4514 strings, most specific first, UTF-8 unescaped (the
//! form `openssl x509 -nameopt RFC2253,-esc_msb` prints).

use x509_parser::der_parser::asn1_rs::Tag;
use x509_parser::x509::{AttributeTypeAndValue, X509Name};

fn short_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.4" => "SN",
        "2.5.4.5" => "serialNumber",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "street",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.12" => "title",
        "2.5.4.42" => "GN",
        "2.5.4.97" => "organizationIdentifier",
        "1.2.840.113549.1.9.1" => "emailAddress",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        _ => return None,
    })
}

/// The text of an attribute value, when it is a string type.
pub fn value_text(atv: &AttributeTypeAndValue) -> Option<String> {
    let any = atv.attr_value();
    if any.tag() == Tag::BmpString {
        let units: Vec<u16> = any
            .data
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        return String::from_utf16(&units).ok();
    }
    atv.as_str().ok().map(str::to_string)
}

fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let n = value.chars().count();
    for (i, c) in value.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == '#' || c == ' '))
            || (i + 1 == n && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// RFC 4514 form of a name.
pub fn rfc4514(name: &X509Name) -> String {
    let rdns: Vec<String> = name
        .iter_rdn()
        .map(|rdn| {
            rdn.iter()
                .map(|atv| {
                    let oid = atv.attr_type().to_id_string();
                    let key = short_name(&oid).map(str::to_string).unwrap_or(oid);
                    match value_text(atv) {
                        Some(v) => format!("{key}={}", escape(&v)),
                        None => format!("{key}=#{}", hex::encode(atv.attr_value().data)),
                    }
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    rdns.into_iter().rev().collect::<Vec<_>>().join(",")
}

/// The first value of an attribute (by OID), e.g. the CN.
pub fn first(name: &X509Name, oid: &str) -> Option<String> {
    name.iter_attributes()
        .find(|a| a.attr_type().to_id_string() == oid)
        .and_then(value_text)
}

/// OID of commonName.
pub const CN: &str = "2.5.4.3";
/// OID of organizationName.
pub const O: &str = "2.5.4.10";
/// OID of organizationalUnitName.
pub const OU: &str = "2.5.4.11";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_the_rfc4514_specials() {
        assert_eq!(escape("a,b"), "a\\,b");
        assert_eq!(escape(" x "), "\\ x\\ ");
        assert_eq!(escape("#1"), "\\#1");
        assert_eq!(escape("张三"), "张三");
    }
}
