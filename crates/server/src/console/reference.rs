//! The console's reference pages: correspondents (with their accounts and keys) and assets
//! (with their prices).

use super::html::{self, esc, Page};
use super::Operator;
use crate::App;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use cashier_core::*;
use std::fmt::Write;
use std::sync::Arc;

pub(crate) async fn correspondents(State(app): State<Arc<App>>, operator: Operator) -> Response {
    let mut rows: Vec<(Correspondent, usize, usize, usize)> = app.sequencer.read(|s| {
        s.correspondents()
            .map(|c| {
                let mine = s.accounts().filter(|a| a.correspondent == c.id);
                let (firm, customers) = mine.fold((0, 0), |(f, k), a| if a.kind == AccountKind::Firm { (f + 1, k) } else { (f, k + 1) });
                let keys = s.api_keys().filter(|k| k.owner == KeyOwner::Correspondent(c.id) && !k.revoked).count();
                (c.clone(), firm, customers, keys)
            })
            .collect()
    });
    rows.sort_by(|x, y| x.0.code.cmp(&y.0.code));
    let mut body = String::from(
        r#"<table id="correspondents"><tr><th>Code</th><th>Name</th><th>Id</th><th>JNLC flow</th><th>Firm accounts</th><th>Customers</th><th>Live keys</th><th>Added</th><th>Journals</th></tr>"#,
    );
    for (c, firm, customers, keys) in &rows {
        let _ = write!(
            body,
            r#"<tr data-correspondent="{code}"><td>{code}</td><td>{name}</td><td class="id">{id}</td><td>{flow}</td><td class="num">{firm}</td><td class="num">{customers}</td><td class="num">{keys}</td><td>{added}</td><td><a href="/console/journals?correspondent={code}">journals</a> · <a href="/console/pending?correspondent={code}">pending</a></td></tr>"#,
            code = esc(&c.code),
            name = esc(&c.name),
            id = c.id,
            flow = c.config.jnlc_flow.as_str(),
            added = html::time(c.created_at),
        );
    }
    body.push_str("</table>");
    Page::new(&app, &operator, "Correspondents", "Correspondents", body).into_response()
}

pub(crate) async fn assets(State(app): State<Arc<App>>, operator: Operator) -> Response {
    let mut assets: Vec<AssetInfo> = app.sequencer.read(|s| s.assets().cloned().collect());
    assets.sort_by_key(|a| a.symbol);
    let mut body = String::from(
        r#"<table id="assets"><tr><th>Symbol</th><th>Name</th><th>Exchange</th><th>Class</th><th>Fractionable</th><th>Price</th></tr>"#,
    );
    for a in &assets {
        let price = a.price.map_or_else(|| "no price".to_owned(), |p| format!("{} USD", decimal::format(p, money::PRICE_SCALE)));
        let _ = write!(
            body,
            r#"<tr data-symbol="{symbol}"><td>{symbol}</td><td>{name}</td><td>{exchange}</td><td>{class}</td><td>{fractionable}</td><td class="num">{price}</td></tr>"#,
            symbol = a.symbol.as_str(),
            name = esc(&a.name),
            exchange = esc(&a.exchange),
            class = esc(&a.class),
            fractionable = if a.fractionable { "yes" } else { "no" },
            price = esc(&price),
        );
    }
    body.push_str("</table>");
    Page::new(&app, &operator, "Assets", "Assets", body).into_response()
}
