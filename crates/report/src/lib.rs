//! A diagnostic report ([`certkey_core::diagnose::Report`]) for people: the findings
//! with their fixes as terminal text, and the whole report as one standalone HTML page
//! (inline style, no script, no outside resource: it opens offline, from an e-mail
//! attachment too). Every word comes from the shared catalog, in the report's language.

use std::fmt::Write;

use certkey_core::diagnose::{Finding, Param, Report, Severity};
use certkey_i18n::{Catalog, FluentValue, Lang};

/// The severities, worst first, with their catalog ids.
const SEVERITIES: [(Severity, &str); 4] = [
    (Severity::Critical, "critical"),
    (Severity::Error, "error"),
    (Severity::Warning, "warning"),
    (Severity::Info, "info"),
];

fn t(lang: Lang, id: &str) -> String {
    Catalog::text(lang, id, &[])
}

/// A finding's message and its fix, in `lang`.
pub fn finding_text(lang: Lang, f: &Finding) -> (String, String) {
    let args: Vec<(&str, FluentValue<'_>)> = f
        .params
        .iter()
        .map(|(k, v)| {
            let value: FluentValue<'_> = match v {
                Param::Number(n) => (*n).into(),
                Param::Text(s) => s.as_str().into(),
            };
            (k.as_str(), value)
        })
        .collect();
    (
        Catalog::text(lang, &format!("diag-{}", f.code), &args),
        Catalog::text(lang, &format!("diag-{}-fix", f.code), &args),
    )
}

/// The severity's word.
pub fn severity_text(lang: Lang, s: Severity) -> String {
    let id = SEVERITIES
        .iter()
        .find(|(x, _)| *x == s)
        .map_or("info", |(_, id)| id);
    t(lang, &format!("diag-severity-{id}"))
}

fn count(report: &Report, s: Severity) -> i64 {
    report.findings.iter().filter(|f| f.severity == s).count() as i64
}

/// One line counting the findings by severity.
pub fn summary(lang: Lang, report: &Report) -> String {
    if report.findings.is_empty() {
        return t(lang, "diag-none");
    }
    Catalog::text(
        lang,
        "diag-summary",
        &[
            ("critical", count(report, Severity::Critical).into()),
            ("errors", count(report, Severity::Error).into()),
            ("warnings", count(report, Severity::Warning).into()),
            ("infos", count(report, Severity::Info).into()),
        ],
    )
}

/// The findings as terminal text: each with its severity, message and fix.
pub fn text(lang: Lang, report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", t(lang, "diag-title"));
    let _ = writeln!(out, "{}", summary(lang, report));
    let fix_label = t(lang, "diag-fix-label");
    let colon = t(lang, "diag-colon");
    for f in &report.findings {
        let (msg, fix) = finding_text(lang, f);
        // Device strings, module paths and server text reach the terminal: no control
        // sequence gets through.
        let (msg, fix) = (plain(&msg), plain(&fix));
        let _ = writeln!(out, "\n[{}] {msg}", severity_text(lang, f.severity));
        let _ = writeln!(out, "  {fix_label}{colon}{fix}");
    }
    let _ = writeln!(
        out,
        "\n{}",
        if report.redacted {
            t(lang, "diag-redacted")
        } else {
            t(lang, "diag-not-redacted")
        }
    );
    out
}

/// Text for a terminal: control characters (escape sequences) become U+FFFD.
pub fn plain(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() && c != '\n' {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}

/// HTML-escapes text for an element or a quoted attribute.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
:root { color-scheme: light; --ink: #1d2433; --muted: #5b6475; --line: #dfe3ea; --bg: #f6f7f9;
  --critical: #b3261e; --error: #c2410c; --warning: #a16207; --info: #2f5fb3; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 15px/1.55 "Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", system-ui, sans-serif; }
main { max-width: 980px; margin: 0 auto; padding: 28px 24px 48px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 32px 0 12px; padding-bottom: 6px; border-bottom: 1px solid var(--line); }
h3 { font-size: 15px; margin: 16px 0 8px; }
.meta { color: var(--muted); margin: 0 0 4px; }
.notice { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; margin: 16px 0; }
.summary { font-weight: 600; }
.finding { background: #fff; border: 1px solid var(--line); border-left: 6px solid var(--info);
  border-radius: 8px; padding: 12px 16px; margin: 10px 0; }
.finding.critical { border-left-color: var(--critical); }
.finding.error { border-left-color: var(--error); }
.finding.warning { border-left-color: var(--warning); }
.badge { display: inline-block; font-size: 12px; font-weight: 700; color: #fff; border-radius: 10px;
  padding: 1px 9px; margin-right: 8px; vertical-align: 1px; background: var(--info); }
.badge.critical { background: var(--critical); } .badge.error { background: var(--error); }
.badge.warning { background: var(--warning); }
.finding p { margin: 4px 0; }
.fix { color: var(--muted); }
.fix strong { color: var(--ink); }
.code { font: 12px ui-monospace, "DejaVu Sans Mono", monospace; color: var(--muted); }
table { width: 100%; border-collapse: collapse; background: #fff; border: 1px solid var(--line);
  border-radius: 8px; overflow: hidden; margin: 8px 0; }
th, td { text-align: left; vertical-align: top; padding: 6px 10px; border-bottom: 1px solid var(--line); }
th { width: 28%; color: var(--muted); font-weight: 600; }
thead th { width: auto; background: #eef1f5; }
td { word-break: break-word; }
details { margin: 8px 0; }
summary { cursor: pointer; color: var(--info); }
"#;

struct Page {
    lang: Lang,
    html: String,
}

impl Page {
    fn t(&self, id: &str) -> String {
        escape(&t(self.lang, id))
    }

    fn h2(&mut self, id: &str) {
        let _ = writeln!(self.html, "<h2>{}</h2>", self.t(id));
    }

    /// A two-column table of (catalog label id, value) rows; empty values are skipped.
    fn fields(&mut self, rows: &[(&str, String)]) {
        self.html.push_str("<table>\n");
        for (label, value) in rows {
            if value.is_empty() {
                continue;
            }
            let _ = writeln!(
                self.html,
                "<tr><th>{}</th><td>{}</td></tr>",
                self.t(label),
                escape(value)
            );
        }
        self.html.push_str("</table>\n");
    }

    fn yes_no(&self, v: bool) -> String {
        t(self.lang, if v { "diag-yes" } else { "diag-no" })
    }
}

/// The whole report as a standalone HTML page in `lang`.
pub fn html(lang: Lang, report: &Report) -> String {
    let mut p = Page {
        lang,
        html: String::new(),
    };
    let title = p.t("diag-title");
    let _ = write!(
        p.html,
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n<h1>{title}</h1>\n",
        lang.code()
    );
    let generated = Catalog::text(
        lang,
        "diag-generated",
        &[
            (
                "time",
                report
                    .generated_at
                    .replace('T', " ")
                    .replace('Z', " UTC")
                    .into(),
            ),
            (
                "version",
                report
                    .system
                    .app_version
                    .as_deref()
                    .unwrap_or("CertKey")
                    .into(),
            ),
        ],
    );
    let _ = writeln!(p.html, "<p class=\"meta\">{}</p>", escape(&generated));
    let privacy = if report.redacted {
        "diag-redacted"
    } else {
        "diag-not-redacted"
    };
    let _ = writeln!(
        p.html,
        "<p class=\"notice\" data-redacted=\"{}\">{}</p>",
        report.redacted,
        p.t(privacy)
    );

    // Findings, worst first.
    p.h2("diag-section-findings");
    let _ = writeln!(
        p.html,
        "<p class=\"summary\" id=\"summary\">{}</p>",
        escape(&summary(lang, report))
    );
    let fix_label = format!("{}{}", p.t("diag-fix-label"), p.t("diag-colon"));
    let offered = p.t("diag-fix-offered-note");
    for f in &report.findings {
        let (msg, fix) = finding_text(lang, f);
        let class = SEVERITIES
            .iter()
            .find(|(s, _)| *s == f.severity)
            .map_or("info", |(_, c)| c);
        let _ = writeln!(
            p.html,
            "<section class=\"finding {class}\" data-code=\"{code}\">\n\
             <p><span class=\"badge {class}\">{sev}</span>{msg}</p>\n\
             <p class=\"fix\"><strong>{fix_label}</strong>{fix}{extra}</p>\n\
             <p class=\"code\">{code}</p>\n</section>",
            code = escape(&f.code),
            sev = escape(&severity_text(lang, f.severity)),
            msg = escape(&msg),
            fix = escape(&fix),
            extra = if f.fix.is_some() {
                offered.clone()
            } else {
                String::new()
            },
        );
    }

    // The computer.
    p.h2("diag-section-system");
    let s = &report.system;
    let admin = p.yes_no(s.administrator);
    p.fields(&[
        ("diag-field-os", s.os.clone()),
        ("diag-field-arch", s.arch.clone()),
        ("diag-field-app", s.app_version.clone().unwrap_or_default()),
        ("diag-field-core", s.core_version.clone()),
        ("diag-field-locale", s.locale.clone().unwrap_or_default()),
        (
            "diag-field-time-zone",
            s.time_zone.clone().unwrap_or_default(),
        ),
        ("diag-field-admin", admin),
    ]);

    // USB and the smart-card service.
    p.h2("diag-section-usb");
    if report.usb.is_empty() {
        let _ = writeln!(p.html, "<p class=\"meta\">–</p>");
    } else {
        let _ = writeln!(
            p.html,
            "<table><thead><tr><th>USB</th><th>{}</th><th>{}</th></tr></thead>",
            p.t("diag-field-vendor"),
            p.t("diag-field-path")
        );
        for d in &report.usb {
            let name = [d.manufacturer.as_deref(), d.product.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            let _ = writeln!(
                p.html,
                "<tr><td>{}:{}</td><td>{}{}</td><td>{}</td></tr>",
                escape(&d.vendor_id),
                escape(&d.product_id),
                escape(&name),
                d.vendor
                    .as_deref()
                    .map(|v| format!(" ({})", escape(v)))
                    .unwrap_or_default(),
                escape(&d.bus_path)
            );
        }
        p.html.push_str("</table>\n");
    }
    p.h2("diag-section-pcsc");
    let running = p.yes_no(report.pcsc.running);
    p.fields(&[
        ("diag-field-running", running),
        ("diag-field-socket", report.pcsc.socket.clone()),
    ]);

    // Modules.
    p.h2("diag-section-modules");
    for m in &report.modules {
        let loaded = p.yes_no(m.loaded);
        let library = m
            .library
            .as_ref()
            .map(|l| {
                format!(
                    "{} {} ({}, Cryptoki {})",
                    l.manufacturer, l.description, l.version, l.cryptoki_version
                )
            })
            .unwrap_or_default();
        let error = m
            .error
            .as_ref()
            .map(|e| certkey_i18n::Catalog::error(lang, e))
            .unwrap_or_default();
        p.fields(&[
            ("diag-field-path", m.path.clone()),
            ("diag-field-loaded", loaded),
            ("diag-field-arch", m.arch.clone().unwrap_or_default()),
            ("diag-field-library", library),
            ("diag-field-error", error),
        ]);
    }

    // Keys.
    p.h2("diag-section-tokens");
    for tk in &report.tokens {
        let d = &tk.details;
        let pin = [
            (d.pin.locked, "CKF_USER_PIN_LOCKED"),
            (d.pin.final_try, "CKF_USER_PIN_FINAL_TRY"),
            (d.pin.count_low, "CKF_USER_PIN_COUNT_LOW"),
            (d.pin.to_be_changed, "CKF_USER_PIN_TO_BE_CHANGED"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join(", ");
        let pin = if pin.is_empty() {
            "OK".to_string()
        } else {
            pin
        };
        let certs = tk
            .certificates
            .iter()
            .filter_map(|c| c.info.as_ref().map(|i| (c, i)))
            .map(|(c, i)| {
                let seal = c
                    .seal
                    .as_ref()
                    .map(|s| {
                        format!(
                            "; seal: {}",
                            if s.valid {
                                "OK"
                            } else {
                                s.problem.as_deref().unwrap_or("?")
                            }
                        )
                    })
                    .unwrap_or_default();
                format!(
                    "{} — {} … {} ({} d){seal}",
                    i.subject, i.not_before, i.not_after, i.days_left
                )
            })
            .collect::<Vec<_>>()
            .join("\n");
        let vendor = match lang {
            Lang::ZhCn => tk.vendor_name_zh.clone().or(tk.vendor_name.clone()),
            Lang::En => tk.vendor_name.clone(),
        }
        .unwrap_or_default();
        let _ = writeln!(p.html, "<h3>{}</h3>", escape(&d.serial));
        p.fields(&[
            ("diag-field-serial", d.serial.clone()),
            ("diag-field-label", d.label.clone()),
            (
                "diag-field-vendor",
                format!("{} {}", d.manufacturer, vendor).trim().to_string(),
            ),
            ("diag-field-path", tk.module.clone()),
            ("diag-field-pin", pin),
            ("diag-field-certificates", certs),
        ]);
    }

    // CA services.
    p.h2("diag-section-services");
    for sv in &report.services {
        let tls = match (&sv.tls_trusted, &sv.tls_error) {
            (_, Some(e)) => e.clone(),
            (Some(true), None) => format!(
                "{} ({})",
                sv.tls_names.join(", "),
                sv.tls_not_after.clone().unwrap_or_default()
            ),
            _ => String::new(),
        };
        p.fields(&[
            ("diag-field-url", sv.url.clone()),
            ("diag-field-addresses", sv.addresses.join(", ")),
            ("diag-field-proxy", sv.proxy.clone().unwrap_or_default()),
            ("diag-field-tls", tls),
            ("diag-field-version", sv.version.clone().unwrap_or_default()),
            (
                "diag-field-clock",
                sv.clock_skew_s
                    .map(|s| format!("{s} s"))
                    .unwrap_or_default(),
            ),
            (
                "diag-field-error",
                [&sv.dns_error, &sv.tcp_error, &sv.api_error]
                    .into_iter()
                    .flatten()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
        ]);
    }

    if !report.probe_errors.is_empty() {
        p.h2("diag-section-probe-errors");
        for e in &report.probe_errors {
            let _ = writeln!(p.html, "<p>{}: {}</p>", escape(&e.probe), escape(&e.reason));
        }
    }

    // The call trace, folded.
    p.h2("diag-section-trace");
    let _ = writeln!(
        p.html,
        "<details><summary>{} ({})</summary>\n<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead>",
        p.t("diag-section-trace"),
        report.trace.len(),
        p.t("diag-field-path"),
        p.t("diag-field-function"),
        p.t("diag-field-result"),
        p.t("diag-field-time"),
    );
    for c in &report.trace {
        let _ = writeln!(
            p.html,
            "<tr><td>{}</td><td>{}{}</td><td>{}</td><td>{:.1}</td></tr>",
            escape(&c.module),
            escape(&c.function),
            c.slot.map(|s| format!(" (slot {s})")).unwrap_or_default(),
            escape(&c.rv),
            c.micros as f64 / 1000.0
        );
    }
    p.html
        .push_str("</table></details>\n</main>\n</body>\n</html>\n");
    p.html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_finding_has_a_message_and_a_fix_in_both_languages() {
        for code in certkey_core::diagnose::CODES {
            for lang in Lang::ALL {
                for id in [format!("diag-{code}"), format!("diag-{code}-fix")] {
                    assert!(Catalog::has(lang, &id), "{id} missing in {lang:?}");
                }
            }
        }
    }

    #[test]
    fn text_is_escaped_for_html() {
        assert_eq!(
            escape("<b a=\"x\">&'</b>"),
            "&lt;b a=&quot;x&quot;&gt;&amp;&#39;&lt;/b&gt;"
        );
        assert_eq!(escape("a\u{1b}[31m"), "a\u{FFFD}[31m");
        assert_eq!(
            plain("USB \u{1b}]0;owned\u{7}"),
            "USB \u{FFFD}]0;owned\u{FFFD}"
        );
    }
}
