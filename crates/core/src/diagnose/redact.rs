//! Personal data out of a report: holders' names (certificate subjects' CN, seal
//! names, and wherever those names appear again, a key's label say), Chinese
//! resident ID numbers, mobile phone numbers and e-mail addresses, in every string
//! of the report. Organisation names stay: help desks need them and they are not
//! personal.

use serde_json::Value;

/// A name kept to its first character: `张三` → `张*`.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => {
            let rest = chars.filter(|c| !c.is_whitespace()).count().max(1);
            format!("{first}{}", "*".repeat(rest))
        }
        None => String::new(),
    }
}

fn is_digit(c: char) -> bool {
    c.is_ascii_digit()
}

/// Replaces ID numbers (17 digits and a digit or X), mobile numbers (11 digits from
/// 13 to 19) and e-mail addresses in `text`; digits that belong to a longer number
/// are left alone.
pub fn scrub(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let boundary_before = i == 0 || !chars[i - 1].is_ascii_alphanumeric();
        if boundary_before && is_digit(chars[i]) {
            let mut j = i;
            while j < chars.len() && is_digit(chars[j]) {
                j += 1;
            }
            let digits = j - i;
            let x_end = j < chars.len() && matches!(chars[j], 'X' | 'x');
            let end_ok = |k: usize| k >= chars.len() || !chars[k].is_ascii_alphanumeric();
            if digits == 17 && x_end && end_ok(j + 1) || digits == 18 && end_ok(j) {
                // Resident ID (18 characters): the region (first four digits) stays.
                out.extend(&chars[i..i + 4]);
                out.push_str(&"*".repeat(14));
                i += 18;
                continue;
            }
            // +86 and the mobile number run together.
            if digits == 13
                && chars[i] == '8'
                && chars[i + 1] == '6'
                && chars[i + 2] == '1'
                && ('3'..='9').contains(&chars[i + 3])
                && end_ok(j)
            {
                out.extend(&chars[i..i + 5]);
                out.push_str("****");
                out.extend(&chars[i + 9..j]);
                i = j;
                continue;
            }
            if digits == 11 && chars[i] == '1' && ('3'..='9').contains(&chars[i + 1]) && end_ok(j) {
                out.extend(&chars[i..i + 3]);
                out.push_str("****");
                out.extend(&chars[i + 7..j]);
                i = j;
                continue;
            }
            out.extend(&chars[i..j]);
            i = j;
            continue;
        }
        if chars[i] == '@' && i > 0 {
            // local@domain.tld: the local part goes.
            let mut start = i;
            while start > 0 && is_local(chars[start - 1]) {
                start -= 1;
            }
            let mut end = i + 1;
            while end < chars.len() && is_domain(chars[end]) {
                end += 1;
            }
            let domain: String = chars[i + 1..end].iter().collect();
            if start < i && domain.contains('.') {
                let local_len = i - start;
                // Drop what was already copied of the local part.
                for _ in 0..local_len {
                    out.pop();
                }
                out.push_str("***@");
                out.push_str(&domain);
                i = end;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

fn is_local(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-')
}

fn is_domain(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-')
}

/// Redacts every string of `value`: each of `names` (longest first) becomes its
/// masked form, then [`scrub`] runs.
pub fn redact_value(value: &mut Value, names: &[String], home: Option<&str>) {
    let mut all: Vec<String> = Vec::new();
    for n in names {
        for part in name_parts(n) {
            // RFC 4514 escapes these in subjects; the escaped form is masked too.
            let escaped: String = part
                .chars()
                .flat_map(|c| {
                    let esc = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';');
                    esc.then_some('\\').into_iter().chain(std::iter::once(c))
                })
                .collect();
            all.push(part);
            all.push(escaped);
        }
    }
    all.sort_by(|a, b| b.chars().count().cmp(&a.chars().count()).then(a.cmp(b)));
    all.dedup();
    let home = home.filter(|h| h.len() > 1 && h.starts_with('/'));
    walk(value, &all, home);
}

/// The parts of a name worth masking: the whole, and the pieces of a composite CN
/// (`041@Z0001@张三@0001`). Too short or plain ASCII short pieces are left alone, so
/// that codes and dates in the report stay readable.
fn name_parts(name: &str) -> Vec<String> {
    let keep = |p: &str| {
        let n = p.chars().count();
        if p.is_ascii() {
            n >= 4 && p.chars().any(|c| c.is_ascii_alphabetic())
        } else {
            n >= 2
        }
    };
    let mut out = Vec::new();
    let whole = name.trim();
    if keep(whole) {
        out.push(whole.to_string());
    }
    for p in whole.split(['@', ',', ';', '/', '|']).map(str::trim) {
        if p != whole && keep(p) && !p.chars().all(|c| c.is_ascii_digit()) {
            out.push(p.to_string());
        }
    }
    out
}

fn walk(value: &mut Value, names: &[String], home: Option<&str>) {
    match value {
        Value::String(s) => {
            let mut t = s.clone();
            if let Some(h) = home {
                if t.contains(h) {
                    t = t.replace(h, "~");
                }
            }
            for n in names {
                if t.contains(n.as_str()) {
                    t = t.replace(n.as_str(), &mask_name(n));
                }
            }
            *s = scrub(&t);
        }
        Value::Array(items) => items.iter_mut().for_each(|v| walk(v, names, home)),
        Value::Object(map) => map.values_mut().for_each(|v| walk(v, names, home)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_ids_phones_and_mail_are_masked() {
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_name("欧阳娜娜"), "欧***");
        assert_eq!(
            scrub("ID 110101199001011234 end"),
            "ID 1101************** end"
        );
        assert_eq!(
            scrub("x11010119900101123X"),
            "x11010119900101123X",
            "not at a boundary"
        );
        assert_eq!(scrub("11010119900101123X"), "1101**************");
        assert_eq!(scrub("tel:13800001111;"), "tel:138****1111;");
        assert_eq!(scrub("12800001111"), "12800001111", "not a mobile number");
        assert_eq!(
            scrub("138000011112"),
            "138000011112",
            "part of a longer number"
        );
        assert_eq!(
            scrub("mail zhang.san+x@example.com.cn now"),
            "mail ***@example.com.cn now"
        );
        assert_eq!(scrub("user@localhost"), "user@localhost");
        assert_eq!(
            scrub("serial 0x1234, 2026-12-03"),
            "serial 0x1234, 2026-12-03"
        );
    }

    #[test]
    fn every_string_of_a_report_is_redacted() {
        let mut v = serde_json::json!({
            "subject": "CN=张三,O=广东测试有限公司,C=CN",
            "label": "张三的Key",
            "nested": [{"note": "联系 13912345678 或 zs@corp.cn，+8613800001111"}],
            "module": "/home/zs/lib/libx.so",
            "code": "self_test_ok",
            "count": 3
        });
        redact_value(
            &mut v,
            &[
                "041@Z0001@张三@0001".to_string(),
                "ok".to_string(),
                " ".to_string(),
            ],
            Some("/home/zs"),
        );
        let text = v.to_string();
        assert!(!text.contains("张三"), "{text}");
        assert!(text.contains("广东测试有限公司"), "organisations stay");
        assert!(text.contains("139****5678"));
        assert!(text.contains("***@corp.cn"));
        assert!(!text.contains("zs@"));
        assert_eq!(v["count"], 3);
        assert!(text.contains("+86138****1111"), "{text}");
        assert_eq!(v["module"], "~/lib/libx.so");
        assert_eq!(v["code"], "self_test_ok", "short names leave codes alone");
    }
}
