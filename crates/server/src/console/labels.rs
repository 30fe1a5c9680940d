//! Accounts as people read them: number, name and kind, with the id beside. Numbers, kinds and
//! correspondents come from the ledger; customers' names and emails from their opening data in
//! the store, read for the accounts a page shows and no others.

use super::html::esc;
use crate::App;
use cashier_core::{AccountId, AccountKind};
use std::collections::HashMap;
use std::fmt::Write;

struct Label {
    number: u64,
    kind: AccountKind,
    name: String,
    email: Option<String>,
}

/// The labels of the accounts one page shows.
pub(crate) struct Labels(HashMap<AccountId, Label>);

impl Labels {
    pub(crate) async fn of(app: &App, ids: impl IntoIterator<Item = AccountId>) -> Labels {
        let mut ids: Vec<AccountId> = ids.into_iter().collect();
        ids.sort();
        ids.dedup();
        let mut labels: HashMap<AccountId, Label> = app.sequencer.read(|s| {
            ids.iter()
                .filter_map(|&id| {
                    let a = s.account(id)?;
                    let code = s.correspondent(a.correspondent).map_or(String::new(), |c| c.code.clone());
                    let name = if a.kind == AccountKind::Firm { format!("{code} firm account") } else { String::new() };
                    Some((id, Label { number: a.account_number, kind: a.kind, name, email: None }))
                })
                .collect()
        });
        let customers: Vec<AccountId> = labels.iter().filter(|(_, l)| l.kind == AccountKind::Customer).map(|(id, _)| *id).collect();
        if !customers.is_empty() {
            // A page without names is still a page: a failed read shows numbers only.
            if let Ok(profiles) = app.read_tables(move |r| r.profiles_of(&customers)).await {
                for (id, profile) in profiles {
                    let (name, email) = name_and_email(&profile);
                    if let Some(label) = labels.get_mut(&id) {
                        (label.name, label.email) = (name, email);
                    }
                }
            }
        }
        Labels(labels)
    }

    /// `#100000002 Ada Lovelace (customer)`, linked to the account page, with the id beside.
    pub(crate) fn link(&self, id: AccountId) -> String {
        let Some(l) = self.0.get(&id) else {
            return format!(r#"<a class="id" href="/console/accounts/{id}">{id}</a>"#);
        };
        let mut text = format!("#{}", l.number);
        if !l.name.is_empty() {
            let _ = write!(text, " {}", esc(&l.name));
        }
        format!(
            r#"<a class="account" href="/console/accounts/{id}" title="{email}">{text}</a> <span class="kind">{kind}</span> <span class="id muted">{id}</span>"#,
            email = esc(l.email.as_deref().unwrap_or("")),
            kind = l.kind.as_str(),
        )
    }

    /// The account's name and email, for its own page.
    pub(crate) fn name_and_email(&self, id: AccountId) -> (String, String) {
        self.0.get(&id).map_or((String::new(), String::new()), |l| (l.name.clone(), l.email.clone().unwrap_or_default()))
    }
}

/// A customer's name and email from the Broker API opening data it was opened with.
fn name_and_email(profile: &str) -> (String, Option<String>) {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(profile) else { return (String::new(), None) };
    let part = |name: &str| v["identity"][name].as_str().unwrap_or("").trim().to_owned();
    let name = [part("given_name"), part("family_name")].into_iter().filter(|p| !p.is_empty()).collect::<Vec<_>>().join(" ");
    (name, v["contact"]["email_address"].as_str().map(str::to_owned))
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_come_from_the_identity_and_emails_from_the_contact() {
        let profile = r#"{"identity": {"given_name": "Ada", "family_name": "Lovelace"}, "contact": {"email_address": "ada@example.com"}}"#;
        assert_eq!(super::name_and_email(profile), ("Ada Lovelace".into(), Some("ada@example.com".into())));
        assert_eq!(super::name_and_email("{}"), (String::new(), None));
        assert_eq!(super::name_and_email("not json"), (String::new(), None));
    }
}
