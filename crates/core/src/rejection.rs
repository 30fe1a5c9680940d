//! Business outcomes that refuse a command, as data.
//!
//! Every [`Code`] has a stable snake_case name that clients see as `reason`. Names are never
//! renamed or reused; new codes are added, old ones retired in place.
//!
//! **Precedence.** When a command breaks several rules, the one reported is the first in the
//! declaration order of [`Code`]: input shape, then idempotency, then existence, then direction,
//! then account status, then the asset, then funds, then the status machine. The executor checks
//! in that order, and the table tests pin it.

use std::fmt;

/// How a rejection is to be understood by the edge, which maps it to a transport status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// The request itself is wrong; fix it and send it again.
    Invalid,
    /// Something it names does not exist (or belongs to someone else).
    NotFound,
    /// The request is well formed but the ledger does not allow it now.
    Forbidden,
    /// It conflicts with an earlier request or with the object's current state.
    Conflict,
}

macro_rules! codes {
    ($( $variant:ident = $name:literal, $class:ident, $message:literal; )*) => {
        /// Rejection codes in precedence order (first declared, first reported).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code { $( $variant, )* }

        impl Code {
            /// Every code, in precedence order.
            pub const ALL: &'static [Code] = &[ $( Code::$variant, )* ];

            /// The stable snake_case name.
            pub fn as_str(self) -> &'static str {
                match self { $( Code::$variant => $name, )* }
            }

            pub fn class(self) -> Class {
                match self { $( Code::$variant => Class::$class, )* }
            }

            /// A sentence that says what is wrong and, where it can, what to do.
            pub fn message(self) -> &'static str {
                match self { $( Code::$variant => $message, )* }
            }

            pub fn parse(name: &str) -> Option<Code> {
                match name { $( $name => Some(Code::$variant), )* _ => None }
            }
        }
    };
}

codes! {
    // Input shape.
    MalformedDecimal = "malformed_decimal", Invalid, "a decimal amount must look like 123.45";
    TooPrecise = "too_precise", Invalid, "the amount has more decimal places than its unit allows (cents for cash, 9 places for quantities)";
    AmountTooLarge = "amount_too_large", Invalid, "the amount is too large";
    MalformedId = "malformed_id", Invalid, "an id must be a UUID such as 3f1c2a34-5b6d-4e7f-8a9b-0c1d2e3f4a5b";
    MalformedDate = "malformed_date", Invalid, "a date must be YYYY-MM-DD and a time RFC 3339";
    MalformedSymbol = "malformed_symbol", Invalid, "a symbol is 1 to 15 characters: A-Z, 0-9, '.', '/' or '-'";
    UnsupportedCurrency = "unsupported_currency", Invalid, "the currency is not a supported ISO 4217 code";
    AmountRequired = "amount_required", Invalid, "a JNLC journal needs an amount";
    AmountNotAllowed = "amount_not_allowed", Invalid, "a JNLS journal takes symbol and qty, not amount";
    SymbolRequired = "symbol_required", Invalid, "a JNLS journal needs a symbol";
    QtyRequired = "qty_required", Invalid, "a JNLS journal needs a qty";
    SymbolNotAllowed = "symbol_not_allowed", Invalid, "a JNLC journal takes an amount, not symbol or qty";
    AmountNotPositive = "amount_not_positive", Invalid, "the amount must be greater than zero";
    QtyNotPositive = "qty_not_positive", Invalid, "the qty must be greater than zero";
    DescriptionTooLong = "description_too_long", Invalid, "the description is longer than 1024 characters";
    TextTooLong = "text_too_long", Invalid, "a text field is longer than 255 characters";
    TextNotStorable = "text_not_storable", Invalid, "text cannot contain the NUL character (U+0000)";
    SameAccount = "same_account", Invalid, "from_account and to_account must differ";
    BatchEmpty = "batch_empty", Invalid, "a batch needs at least one entry";
    BatchTooLarge = "batch_too_large", Invalid, "a batch has more entries than allowed";
    BatchEntryTypeUnsupported = "batch_entry_type_unsupported", Invalid, "batches move cash only: entry_type must be JNLC";
    IdempotencyKeyInvalid = "idempotency_key_invalid", Invalid, "an Idempotency-Key is 1 to 128 visible ASCII characters";
    LimitNegative = "limit_negative", Invalid, "a limit or overdraft cannot be negative";
    ReasonRequired = "reason_required", Invalid, "this operation needs a reason";
    KeyIdInvalid = "key_id_invalid", Invalid, "an API key id is 8 to 64 characters A-Z or 0-9";
    InvalidName = "invalid_name", Invalid, "a code is 2 to 8 characters A-Z or 0-9, and a name 1 to 255 characters";
    // Idempotency.
    IdempotencyKeyReused = "idempotency_key_reused", Conflict, "this Idempotency-Key was used for a different request";
    // Existence.
    CorrespondentNotFound = "correspondent_not_found", NotFound, "correspondent not found";
    AccountNotFound = "account_not_found", NotFound, "account not found";
    AssetNotFound = "asset_not_found", Invalid, "unknown symbol: the asset is not in the asset table";
    JournalNotFound = "journal_not_found", NotFound, "journal not found";
    TransferNotFound = "transfer_not_found", NotFound, "transfer not found";
    ApiKeyNotFound = "api_key_not_found", NotFound, "API key not found";
    AlreadyExists = "already_exists", Conflict, "an object with this id or code already exists";
    EmailInUse = "email_in_use", Conflict, "another account of this correspondent has this email address";
    // Direction.
    CustomerToCustomer = "customer_to_customer", Forbidden, "journals cannot move money from one customer to another; go through a firm account";
    FirmToFirm = "firm_to_firm", Forbidden, "journals move between a firm account and a customer account, not between two firm accounts";
    SecuritiesDirection = "securities_direction", Forbidden, "JNLS journals move securities from a firm account to a customer account only";
    NotFirmAccount = "not_firm_account", Forbidden, "this operation needs a firm account";
    OperatorOnly = "operator_only", Forbidden, "only operations can do this";
    CorrespondentOnly = "correspondent_only", Forbidden, "journals are created with a correspondent's key; operators act on them under /admin/v1";
    // Account status.
    AccountBlocked = "account_blocked", Forbidden, "the account is blocked";
    TransfersBlocked = "transfers_blocked", Forbidden, "transfers are blocked on the account";
    FromAccountInactive = "from_account_inactive", Forbidden, "from_account must be ACTIVE or ACCOUNT_CLOSED";
    ToAccountInactive = "to_account_inactive", Forbidden, "to_account must be ACTIVE";
    AccountInactive = "account_inactive", Forbidden, "the account must be ACTIVE";
    // The asset.
    NotFractionable = "not_fractionable", Invalid, "the asset is not fractionable: qty must be a whole number";
    PriceUnavailable = "price_unavailable", Forbidden, "the asset has no price to book at";
    // Funds.
    InsufficientFunds = "insufficient_funds", Forbidden, "the amount is not available: cash_transferable is too low";
    InsufficientQty = "insufficient_qty", Forbidden, "the qty is not available in the source account";
    // The status machine and the clock.
    InvalidTransition = "invalid_transition", Conflict, "the journal or transfer is not in a status that allows this";
    JournalHeld = "journal_held", Conflict, "the journal is held by a fixture and cannot be cleared";
    CorrectionUnchanged = "correction_unchanged", Invalid, "a correction must change the amount or qty";
    BusinessDateNotAfter = "business_date_not_after", Conflict, "the next business date must be after the current one";
    SecondOperatorRequired = "second_operator_required", Conflict, "four-eyes: a different operator must confirm this action";
    NotFourEyes = "not_four_eyes", Invalid, "four-eyes and operator audits apply to operator actions only";
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refused command: its code, for batches the zero-based entry that failed first, and the
/// field it is about where one field is at fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub code: Code,
    pub entry: Option<u32>,
    pub field: Option<&'static str>,
}

impl Rejection {
    pub fn entry(code: Code, index: usize) -> Rejection {
        Rejection { code, entry: Some(u32::try_from(index).unwrap_or(u32::MAX)), field: None }
    }

    pub fn field(code: Code, field: &'static str) -> Rejection {
        Rejection { code, entry: None, field: Some(field) }
    }
}

impl From<Code> for Rejection {
    fn from(code: Code) -> Rejection {
        Rejection { code, entry: None, field: None }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.entry, self.field) {
            (Some(index), Some(field)) => write!(f, "entries[{index}].{field}: {}", self.code.message()),
            (None, Some(field)) => write!(f, "{field}: {}", self.code.message()),
            (Some(index), None) => write!(f, "entry {index}: {}", self.code.message()),
            (None, None) => f.write_str(self.code.message()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_snake_case_and_parse_back() {
        let mut seen = std::collections::HashSet::new();
        for &code in Code::ALL {
            let name = code.as_str();
            assert!(seen.insert(name), "duplicate {name}");
            assert!(name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{name}");
            assert_eq!(Code::parse(name), Some(code));
            assert!(!code.message().is_empty());
        }
    }

    #[test]
    fn precedence_is_declaration_order() {
        assert!(Code::MalformedDecimal < Code::IdempotencyKeyReused);
        assert!(Code::IdempotencyKeyReused < Code::AccountNotFound);
        assert!(Code::AccountNotFound < Code::CustomerToCustomer);
        assert!(Code::CustomerToCustomer < Code::AccountBlocked);
        assert!(Code::AccountBlocked < Code::InsufficientFunds);
        assert!(Code::InsufficientFunds < Code::InvalidTransition);
    }
}
