//! Text every store keeps byte for byte.
//!
//! Group commit writes many callers' commands in one transaction, so a text one backend cannot
//! store would fail every one of them. PostgreSQL's `text` holds any UTF-8 but U+0000; SQLite
//! holds that too, so the two would disagree. One rule, checked before any other, refuses
//! such text in every field of every command: [`Code::TextNotStorable`], naming the field.
//! Fields that a store indexes are also bounded, since an index entry has a size limit.

use crate::command::{BatchEntry, Command, JournalRequest, TEXT_CHARS_MAX};
use crate::model::{Actor, Audit, Transmitter};
use crate::rejection::{Code, Rejection};

/// Whether every store keeps `text` as it is.
pub fn storable(text: &str) -> bool {
    !text.as_bytes().contains(&0)
}

/// Refuses a command with a text field no store keeps as sent, naming the field.
pub(crate) fn check(command: &Command) -> Result<(), Rejection> {
    match command {
        Command::CreateCorrespondent { code, name, .. } => {
            field("code", code)?;
            field("name", name)
        }
        Command::OpenAccount { actor, profile, email, .. } => {
            actor_name(actor)?;
            field("profile", profile)?;
            if let Some(email) = email {
                field("contact.email_address", email)?;
                // The email is indexed (unique within a correspondent).
                if email.chars().count() > TEXT_CHARS_MAX {
                    return Err(Rejection::field(Code::TextTooLong, "contact.email_address"));
                }
            }
            Ok(())
        }
        Command::SetAccountStatus { actor, .. } | Command::CreateTransfer { actor, .. } | Command::CancelTransfer { actor, .. } => {
            actor_name(actor)
        }
        Command::ListAsset { name, exchange, class, .. } => {
            field("name", name)?;
            field("exchange", exchange)?;
            field("class", class)
        }
        Command::CreateJournal { actor, request, key } => {
            actor_name(actor)?;
            journal_request(request)?;
            key_text(key.as_deref())
        }
        Command::CreateBatch { actor, entries, key, .. } | Command::CreateReverseBatch { actor, entries, key, .. } => {
            actor_name(actor)?;
            for (i, entry) in entries.iter().enumerate() {
                batch_entry(entry).map_err(|r| Rejection { entry: Some(i as u32), ..r })?;
            }
            key_text(key.as_deref())
        }
        Command::CancelJournal { actor, reason, .. } => {
            actor_name(actor)?;
            field("reason", reason)
        }
        Command::ApproveJournal { audit, .. }
        | Command::RejectJournal { audit, .. }
        | Command::ReverseJournal { audit, .. }
        | Command::DeleteJournal { audit, .. }
        | Command::CorrectJournal { audit, .. } => audit_text(audit),
        Command::FourEyes { action, .. } => check(action),
        Command::Audited { audit, action } => {
            audit_text(audit)?;
            check(action)
        }
        Command::IssueApiKey { key_id, name, .. } => {
            field("key_id", key_id)?;
            name.as_deref().map_or(Ok(()), |n| field("name", n))
        }
        Command::RevokeApiKey { key_id } => field("key_id", key_id),
        Command::ConfigureCorrespondent { .. }
        | Command::SetAccountBlocks { .. }
        | Command::SetAccountLimits { .. }
        | Command::SetOverdraft { .. }
        | Command::DepositSecurities { .. }
        | Command::CompleteTransfer { .. }
        | Command::RejectTransfer { .. }
        | Command::ReturnTransfer { .. }
        | Command::SendToClearing { .. }
        | Command::Clear { .. }
        | Command::BookJournal { .. }
        | Command::CreateActivity { .. }
        | Command::AdvanceBusinessDay { .. }
        | Command::ExpireIdempotencyKeys { .. } => Ok(()),
    }
}

fn field(name: &'static str, text: &str) -> Result<(), Rejection> {
    if storable(text) {
        Ok(())
    } else {
        Err(Rejection::field(Code::TextNotStorable, name))
    }
}

fn actor_name(actor: &Actor) -> Result<(), Rejection> {
    match actor {
        Actor::Operator(name) => field("operator", name),
        Actor::Correspondent(_) | Actor::System => Ok(()),
    }
}

fn audit_text(audit: &Audit) -> Result<(), Rejection> {
    actor_name(&audit.actor)?;
    field("reason", &audit.reason)
}

fn key_text(key: Option<&str>) -> Result<(), Rejection> {
    key.map_or(Ok(()), |key| field("Idempotency-Key", key))
}

fn journal_request(request: &JournalRequest) -> Result<(), Rejection> {
    field("description", &request.description)?;
    request.transmitter.as_deref().map_or(Ok(()), transmitter)
}

fn batch_entry(entry: &BatchEntry) -> Result<(), Rejection> {
    field("description", &entry.description)?;
    entry.transmitter.as_deref().map_or(Ok(()), transmitter)
}

fn transmitter(t: &Transmitter) -> Result<(), Rejection> {
    for (name, value) in [
        ("transmitter_name", &t.name),
        ("transmitter_account_number", &t.account_number),
        ("transmitter_address", &t.address),
        ("transmitter_financial_institution", &t.financial_institution),
    ] {
        if let Some(value) = value {
            field(name, value)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_is_the_only_character_refused() {
        assert!(storable("café \u{1F600} \u{7f} \t\n"));
        assert!(!storable("a\0b"));
    }
}
