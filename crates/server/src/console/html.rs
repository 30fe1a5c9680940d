//! The console's page layout and the small pieces of HTML its pages share.

use super::Operator;
use crate::App;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use cashier_core::{money, Asset, Journal, JournalStatus};
use std::fmt::Write;

const STYLE: &str = r#"
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1d2430;background:#f5f6f8}
header{display:flex;gap:1.2rem;align-items:center;padding:.55rem 1.2rem;background:#1d2a3a;color:#fff;flex-wrap:wrap}
header a{color:#d8e4f2;text-decoration:none}header a:hover,header a.on{color:#fff;text-decoration:underline}
header .brand{font-weight:600;color:#fff}header .who{margin-left:auto;color:#aebdcc;font-size:13px}
header form{display:inline}header button{background:none;border:1px solid #6b7f95;color:#d8e4f2;padding:.15rem .6rem}
main{max-width:1280px;margin:0 auto;padding:1rem 1.2rem 3rem}h1{font-size:1.35rem;margin:.4rem 0 1rem}h2{font-size:1.05rem;margin:1.6rem 0 .5rem}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #d9dee5}th,td{padding:.35rem .55rem;border-bottom:1px solid #e6e9ee;text-align:left;vertical-align:top}
th{background:#eef1f5;font-weight:600;font-size:13px}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
code,.id{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px}a{color:#1f5fa8}
.flash{padding:.55rem .8rem;border-radius:4px;margin:0 0 1rem;background:#e5f4ea;border:1px solid #9fd1ae}.flash.error{background:#fbe9e9;border-color:#e3a3a3}
.status{display:inline-block;padding:0 .45rem;border-radius:9px;font-size:12px;background:#e8ebf0}
.s-executed,.s-activity_created{background:#dcf1e2}.s-pending{background:#fff0c9}.s-rejected,.s-refused,.s-canceled,.s-deleted,.s-correct{background:#f6dede}
.s-queued,.s-sent_to_clearing{background:#dde8f7}
form.inline{display:flex;gap:.35rem;align-items:center;flex-wrap:wrap;margin:0}input,select,button{font:inherit;padding:.25rem .45rem;border:1px solid #b9c2cd;border-radius:3px;background:#fff}
button{cursor:pointer;background:#f2f4f7}button.primary{background:#1f5fa8;color:#fff;border-color:#1f5fa8}button.danger{background:#b3261e;color:#fff;border-color:#b3261e}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;background:#fff;border:1px solid #d9dee5;padding:.8rem;margin:0}dt{color:#5b6676}dd{margin:0}
.filters{display:flex;gap:.6rem;flex-wrap:wrap;align-items:end;margin-bottom:1rem}.filters label{display:flex;flex-direction:column;font-size:12px;color:#5b6676}
.login{max-width:380px;margin:12vh auto}.login form{display:flex;flex-direction:column;gap:.8rem;background:#fff;padding:1.2rem;border:1px solid #d9dee5}
.login label{display:flex;flex-direction:column;gap:.2rem}.muted{color:#6b7684}.box{background:#fff;border:1px solid #d9dee5;padding:.8rem;margin:.6rem 0}
.ok{color:#1d7a3a}.bad{color:#b3261e;font-weight:600}
"#;

/// A console page: the layout around `body`, with the navigation when someone is signed in.
pub(crate) struct Page {
    title: String,
    body: String,
    nav: Option<String>,
}

impl Page {
    /// A page for the signed-in `operator`; `section` is the navigation entry it belongs to.
    pub(crate) fn new(app: &App, operator: &Operator, section: &str, title: &str, body: String) -> Page {
        let business_date = app.sequencer.read(|s| s.business_date());
        let mut nav = String::from(r#"<a class="brand" href="/console/pending">Cashier operations</a>"#);
        for (path, name) in [
            ("/console/pending", "Pending"),
            ("/console/journals", "Journals"),
            ("/console/accounts", "Accounts"),
            ("/console/events", "Live events"),
            ("/console/reconciliation", "Reconciliation"),
            ("/console/transfers", "Transfers"),
            ("/console/correspondents", "Correspondents"),
            ("/console/assets", "Assets"),
            ("/console/keys", "Keys"),
        ] {
            let on = if name == section { r#" class="on""# } else { "" };
            let _ = write!(nav, r#"<a href="{path}"{on}>{name}</a>"#);
        }
        let mode = if app.config.sandbox { " (sandbox)" } else { "" };
        let _ = write!(
            nav,
            r#"<span class="who">Business day <strong id="business-date">{business_date}</strong>{mode} · {key}</span>
<form method="post" action="/console/logout"><input type="hidden" name="csrf" value="{csrf}"><button type="submit">Sign out</button></form>"#,
            key = esc(&operator.key_id),
            csrf = operator.csrf,
        );
        let flash = match &operator.flash {
            Some((error, text)) => {
                let class = if *error { "flash error" } else { "flash" };
                format!(r#"<p class="{class}" role="{}">{}</p>"#, if *error { "alert" } else { "status" }, esc(text))
            }
            None => String::new(),
        };
        Page { title: title.to_owned(), body: format!("<main><h1>{}</h1>{flash}{body}</main>", esc(title)), nav: Some(nav) }
    }

    /// A page without navigation: sign-in and errors before sign-in.
    pub(crate) fn bare(title: &str, body: String) -> Page {
        Page { title: title.to_owned(), body, nav: None }
    }
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let nav = self.nav.map_or(String::new(), |n| format!("<header>{n}</header>"));
        let html = format!(
            r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{} · Cashier</title><style>{STYLE}</style></head><body>{nav}{}</body></html>"#,
            esc(&self.title),
            self.body
        );
        let mut response = Html(html).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, "no-store".parse().expect("a valid header"));
        headers.insert("x-frame-options", "DENY".parse().expect("a valid header"));
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline' 'self'; frame-ancestors 'none'; form-action 'self'"
                .parse()
                .expect("a valid header"),
        );
        response
    }
}

/// An error as a page of its own, with its status.
pub(crate) fn error_page(status: StatusCode, message: &str) -> Response {
    let body = format!(
        r#"<main><h1>{}</h1><p class="flash error" role="alert">{}</p><p><a href="/console/pending">Back to the console</a></p></main>"#,
        status.canonical_reason().unwrap_or("Error"),
        esc(message)
    );
    (status, Page::bare("Error", body)).into_response()
}

/// Text made safe for HTML, in elements and in quoted attributes.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An amount of an asset: `1,234.50 USD`, `0.5 AAPL`.
pub(crate) fn units(asset: Asset, units: i64) -> String {
    match asset {
        Asset::Cash(currency) => format!("{} {currency}", cash(units, currency.scale())),
        Asset::Security(symbol) => format!("{} {symbol}", money::format_qty(units)),
    }
}

/// Cash with every minor digit and thousands separators: `1,234.50`.
fn cash(units: i64, scale: u32) -> String {
    let divisor = 10u64.pow(scale);
    let (whole, fraction) = (units.unsigned_abs() / divisor, units.unsigned_abs() % divisor);
    let digits = whole.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if units < 0 { "-" } else { "" };
    if scale == 0 {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}.{fraction:0width$}", width = scale as usize)
    }
}

pub(crate) fn status(status: JournalStatus) -> String {
    format!(r#"<span class="status s-{0}">{0}</span>"#, status.as_str())
}

/// A time as people read it, to the second with its zone (`2026-12-03 10:19:05 UTC`); the exact
/// value on hover.
pub(crate) fn time(at: cashier_core::Timestamp) -> String {
    let exact = at.to_string();
    let readable = match (exact.get(..10), exact.get(11..19)) {
        (Some(day), Some(clock)) => format!("{day} {clock} UTC"),
        _ => exact.clone(),
    };
    format!(r#"<time datetime="{exact}" title="{exact}">{readable}</time>"#)
}

pub(crate) fn journal_link(journal: &Journal) -> String {
    format!(r#"<a class="id" href="/console/journals/{0}">{0}</a>"#, journal.id)
}

/// The hidden CSRF field every form carries.
pub(crate) fn csrf(operator: &Operator) -> String {
    format!(r#"<input type="hidden" name="csrf" value="{}">"#, operator.csrf)
}

#[cfg(test)]
mod tests {
    #[test]
    fn cash_shows_every_minor_digit_and_groups_thousands() {
        assert_eq!(super::cash(100_000_000, 2), "1,000,000.00");
        assert_eq!(super::cash(-12_345, 2), "-123.45");
        assert_eq!(super::cash(5, 2), "0.05");
        assert_eq!(super::cash(1_234, 0), "1,234");
        assert_eq!(super::esc("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }
}
