//! Request bodies, read field by field so that every error names its field.

use crate::ApiError;
use axum::http::StatusCode;
use cashier_core::*;
use serde_json::{Map, Value};

/// A query's `YYYY-MM-DD` (the whole day: `end` picks its last instant) or RFC 3339 time.
pub(crate) fn instant(name: &str, text: &str, end: bool) -> Result<Timestamp, ApiError> {
    if let Ok(date) = Date::parse(text) {
        let day = i64::from(date.0) * 86_400_000_000;
        return Ok(Timestamp(if end { day + 86_400_000_000 - 1 } else { day }));
    }
    Timestamp::parse(text).map_err(|_| bad_request("malformed_date", format!("{name} must be a YYYY-MM-DD date or an RFC 3339 time")))
}

pub(crate) fn bad_request(reason: &'static str, message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, reason, message)
}

/// A query parameter an endpoint filters by: absent is no filter, but given empty
/// (`?to_account=`) it is a mistake, refused with a 400 that names it.
pub(crate) fn param<'q>(query: &'q std::collections::HashMap<String, String>, name: &str) -> Result<Option<&'q str>, ApiError> {
    match query.get(name).map(String::as_str) {
        Some(value) if value.trim().is_empty() => {
            Err(bad_request("empty_parameter", format!("{name}: the parameter is empty; leave it out or give it a value")))
        }
        other => Ok(other),
    }
}

/// A JSON object body, read field by field so that every error names its field.
pub(crate) struct Fields(pub(crate) Map<String, Value>);

impl Fields {
    /// A JSON object body. A key given twice in one object, at any depth, is refused: which of
    /// the two counts would be a guess (`"amount":"1","amount":"40"`).
    pub(crate) fn parse(body: &[u8]) -> Result<Fields, ApiError> {
        match serde_json::from_slice::<Unique>(body) {
            Ok(Unique(Value::Object(map))) => Ok(Fields(map)),
            Ok(_) => Err(bad_request("malformed_json", "the body must be a JSON object".into())),
            Err(e) if e.is_data() && e.to_string().starts_with(DUPLICATE) => {
                let key = e.to_string()[DUPLICATE.len()..].split(" at line").next().unwrap_or_default().to_owned();
                Err(bad_request("duplicate_key", format!("{key}: the key appears more than once in an object of the body")))
            }
            Err(e) => Err(bad_request("malformed_json", format!("the body is not valid JSON: {e}"))),
        }
    }

    pub(crate) fn present(&self, name: &str) -> Option<&Value> {
        self.0.get(name).filter(|v| !v.is_null())
    }

    pub(crate) fn string(&self, name: &str) -> Result<Option<&str>, ApiError> {
        match self.present(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(bad_request("wrong_type", format!("{name} must be a string"))),
        }
    }

    pub(crate) fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.string(name)?.ok_or_else(|| bad_request("missing_field", format!("{name} is required")))
    }

    pub(crate) fn account(&self, name: &str) -> Result<AccountId, ApiError> {
        AccountId::parse(self.required(name)?).map_err(|code| ApiError::from(code).with_field(name))
    }

    /// An amount of US dollars, in cents: a string (strict) or a JSON number.
    pub(crate) fn usd(&self, name: &str) -> Result<Option<i64>, ApiError> {
        let usd = Currency::USD;
        self.decimal(name, |s| usd.parse_amount(s), |n| usd.parse_amount_number(n))
    }

    /// A decimal sent as a string (strict) or a JSON number (float noise rounded).
    pub(crate) fn decimal(
        &self,
        name: &str,
        strict: impl Fn(&str) -> Result<i64, Code>,
        number: impl Fn(&str) -> Result<i64, Code>,
    ) -> Result<Option<i64>, ApiError> {
        let parsed = match self.present(name) {
            None => return Ok(None),
            Some(Value::String(s)) => strict(s),
            Some(Value::Number(n)) => number(&n.to_string()),
            Some(_) => return Err(bad_request("wrong_type", format!("{name} must be a decimal string or a number"))),
        };
        parsed.map(Some).map_err(|code| ApiError::from(code).with_field(name))
    }

    fn entry_type(&self) -> Result<EntryType, ApiError> {
        match self.required("entry_type")? {
            "JNLC" => Ok(EntryType::Cash),
            "JNLS" => Ok(EntryType::Security),
            other => Err(bad_request("invalid_entry_type", format!("entry_type must be JNLC or JNLS, not {other:?}"))),
        }
    }

    pub(crate) fn journal_request(&self) -> Result<JournalRequest, ApiError> {
        let entry_type = self.entry_type()?;
        let (from, to) = (self.account("from_account")?, self.account("to_account")?);
        let e = self.entry(to)?;
        Ok(JournalRequest {
            entry_type,
            from,
            to,
            amount: e.amount,
            currency: e.currency,
            symbol: e.symbol,
            qty: e.qty,
            description: e.description,
            transmitter: e.transmitter,
        })
    }

    /// What moves: the fields a single journal and a batch entry share.
    fn entry(&self, account: AccountId) -> Result<BatchEntry, ApiError> {
        let currency = match self.string("currency")? {
            None => Currency::USD,
            Some(code) => Currency::parse(code).map_err(|c| ApiError::from(c).with_field("currency"))?,
        };
        let symbol = self.string("symbol")?.map(Symbol::parse).transpose().map_err(|c| ApiError::from(c).with_field("symbol"))?;
        Ok(BatchEntry {
            account,
            amount: self.decimal("amount", |s| currency.parse_amount(s), |n| currency.parse_amount_number(n))?,
            currency,
            symbol,
            qty: self.decimal("qty", money::parse_qty, money::parse_qty_number)?,
            description: self.string("description")?.unwrap_or_default().to_owned(),
            transmitter: self.transmitter()?,
        })
    }

    /// A batch's `entry_type` and `entries`, each entry naming its account in `account_field`.
    pub(crate) fn batch(&self, account_field: &str) -> Result<(EntryType, Vec<BatchEntry>), ApiError> {
        let entry_type = self.entry_type()?;
        let list = match self.present("entries") {
            Some(Value::Array(list)) => list,
            Some(_) => return Err(bad_request("wrong_type", "entries must be an array".into())),
            None => return Err(bad_request("missing_field", "entries is required".into())),
        };
        if list.len() > cashier_core::BATCH_ENTRIES_MAX {
            return Err(Code::BatchTooLarge.into());
        }
        let mut entries = Vec::with_capacity(list.len());
        for (i, value) in list.iter().enumerate() {
            let named = |e: ApiError| e.with_field(&format!("entries[{i}]"));
            let Value::Object(map) = value else { return Err(named(bad_request("wrong_type", "an entry must be an object".into()))) };
            let fields = Fields(map.clone());
            entries.push(fields.entry(fields.account(account_field).map_err(named)?).map_err(named)?);
        }
        Ok((entry_type, entries))
    }

    fn transmitter(&self) -> Result<Option<Box<Transmitter>>, ApiError> {
        let text = |name: &str| -> Result<Option<String>, ApiError> { Ok(self.string(name)?.map(str::to_owned)) };
        let timestamp = self
            .string("transmitter_timestamp")?
            .map(Timestamp::parse)
            .transpose()
            .map_err(|c| ApiError::from(c).with_field("transmitter_timestamp"))?;
        let t = Transmitter {
            name: text("transmitter_name")?,
            account_number: text("transmitter_account_number")?,
            address: text("transmitter_address")?,
            financial_institution: text("transmitter_financial_institution")?,
            timestamp,
        };
        Ok((t != Transmitter::default()).then(|| Box::new(t)))
    }
}

const DUPLICATE: &str = "duplicate key ";

/// A JSON value read with every object's keys unique.
struct Unique(Value);

impl<'de> serde::Deserialize<'de> for Unique {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Unique, D::Error> {
        deserializer.deserialize_any(UniqueVisitor)
    }
}

struct UniqueVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueVisitor {
    type Value = Unique;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Unique, E> {
        Ok(Unique(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Unique, E> {
        Ok(Unique(Value::from(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Unique, E> {
        Ok(Unique(Value::from(v)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Unique, E> {
        Ok(Unique(Value::from(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Unique, E> {
        Ok(Unique(Value::String(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Unique, E> {
        Ok(Unique(Value::String(v)))
    }
    fn visit_unit<E>(self) -> Result<Unique, E> {
        Ok(Unique(Value::Null))
    }
    fn visit_none<E>(self) -> Result<Unique, E> {
        Ok(Unique(Value::Null))
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Unique, D::Error> {
        serde::Deserialize::deserialize(d)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Unique, A::Error> {
        let mut list = Vec::new();
        while let Some(Unique(value)) = seq.next_element()? {
            list.push(value);
        }
        Ok(Unique(Value::Array(list)))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Unique, A::Error> {
        // With `arbitrary_precision`, serde_json hands a number over as a map of one private key.
        const NUMBER: &str = "$serde_json::private::Number";
        let mut object = Map::new();
        let mut next = map.next_key::<String>()?;
        if next.as_deref() == Some(NUMBER) {
            let text: String = map.next_value()?;
            return text.parse::<serde_json::Number>().map(|n| Unique(Value::Number(n))).map_err(serde::de::Error::custom);
        }
        while let Some(key) = next {
            if object.contains_key(&key) {
                return Err(serde::de::Error::custom(format!("{DUPLICATE}{key}")));
            }
            let Unique(value) = map.next_value()?;
            object.insert(key, value);
            next = map.next_key()?;
        }
        Ok(Unique(Value::Object(object)))
    }
}

impl ApiError {
    /// Names the field a value-level error is about.
    pub(crate) fn with_field(mut self, field: &str) -> ApiError {
        self.message = format!("{field}: {}", self.message);
        self
    }
}

impl Fields {
    fn object(&self, name: &str) -> Result<Fields, ApiError> {
        match self.present(name) {
            Some(Value::Object(map)) => Ok(Fields(map.clone())),
            Some(_) => Err(bad_request("wrong_type", format!("{name} must be an object"))),
            None => Err(bad_request("missing_field", format!("{name} is required"))),
        }
    }

    /// The opening data of a customer account, checked for what a broker must know, kept as
    /// JSON text, and its contact email.
    pub(crate) fn kyc_profile(&self) -> Result<(String, String), ApiError> {
        let contact = self.object("contact")?;
        let email = contact.required("email_address").map_err(|e| e.with_field("contact"))?.to_owned();
        if email.trim().is_empty() || !email.contains('@') {
            return Err(bad_request("invalid_email", "contact.email_address must be an email address".into()));
        }
        let identity = self.object("identity")?;
        for field in ["given_name", "family_name"] {
            identity.required(field).map_err(|e| e.with_field("identity"))?;
        }
        if let Some(date) = identity.string("date_of_birth")? {
            Date::parse(date).map_err(|c| ApiError::from(c).with_field("identity.date_of_birth"))?;
        }
        let kept: Map<String, Value> = ["contact", "identity", "disclosures", "agreements", "documents", "trusted_contact"]
            .iter()
            .filter_map(|k| self.0.get(*k).map(|v| ((*k).to_owned(), v.clone())))
            .collect();
        Ok((Value::Object(kept).to_string(), email))
    }

    /// An external transfer: its kind, direction and amount (USD).
    pub(crate) fn transfer(&self) -> Result<(TransferKind, TransferDirection, i64), ApiError> {
        let kind = match self.required("transfer_type")? {
            "ach" => TransferKind::Ach,
            "wire" => TransferKind::Wire,
            other => return Err(bad_request("invalid_transfer_type", format!("transfer_type must be ach or wire, not {other:?}"))),
        };
        let direction = match self.required("direction")? {
            "INCOMING" => TransferDirection::Incoming,
            "OUTGOING" => TransferDirection::Outgoing,
            other => return Err(bad_request("invalid_direction", format!("direction must be INCOMING or OUTGOING, not {other:?}"))),
        };
        if kind == TransferKind::Ach && self.present("additional_information").is_some() {
            let message = "additional_information is for wire transfers only";
            return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "wire_only_field", message));
        }
        let amount = self.usd("amount")?;
        let amount = amount.ok_or_else(|| bad_request("missing_field", "amount is required".into()))?;
        Ok((kind, direction, amount))
    }
}
