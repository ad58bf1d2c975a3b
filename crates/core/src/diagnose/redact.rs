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
pub fn redact_value(value: &mut Value, names: &[String]) {
    let mut names: Vec<&String> = names.iter().filter(|n| !n.trim().is_empty()).collect();
    names.sort_by_key(|n| std::cmp::Reverse(n.chars().count()));
    names.dedup();
    walk(value, &names);
}

fn walk(value: &mut Value, names: &[&String]) {
    match value {
        Value::String(s) => {
            let mut t = s.clone();
            for n in names {
                if t.contains(n.as_str()) {
                    t = t.replace(n.as_str(), &mask_name(n));
                }
            }
            *s = scrub(&t);
        }
        Value::Array(items) => items.iter_mut().for_each(|v| walk(v, names)),
        Value::Object(map) => map.values_mut().for_each(|v| walk(v, names)),
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
            "nested": [{"note": "联系 13912345678 或 zs@corp.cn"}],
            "count": 3
        });
        redact_value(&mut v, &["张三".to_string(), " ".to_string()]);
        let text = v.to_string();
        assert!(!text.contains("张三"), "{text}");
        assert!(text.contains("广东测试有限公司"), "organisations stay");
        assert!(text.contains("139****5678"));
        assert!(text.contains("***@corp.cn"));
        assert!(!text.contains("zs@"));
        assert_eq!(v["count"], 3);
    }
}
