//! The sandbox a first start creates, so that a newcomer can move money at once: a correspondent
//! with sandbox fixtures, a funded firm account holding shares, two customers, and priced assets.
//! Its ids are printed and written to `sandbox.json` in the data directory.

use cashier_core::*;
use cashier_store::{Sequencer, SubmitError};
use serde::Serialize;
use std::path::Path;

/// The file, in the data directory, that lists what the sandbox created.
pub const FILE_NAME: &str = "sandbox.json";

/// Cash the sandbox firm account starts with: $1,000,000.00.
const FIRM_FUNDING_CENTS: i64 = 100_000_000;
/// Shares of each fractionable asset the firm account starts with.
const FIRM_SHARES: i64 = 1_000;

/// (symbol, name, exchange, fractionable, price in cents)
const ASSETS: &[(&str, &str, &str, bool, i64)] = &[
    ("AAPL", "Apple Inc. Common Stock", "NASDAQ", true, 19_000),
    ("TSLA", "Tesla, Inc. Common Stock", "NASDAQ", true, 25_000),
    ("SPY", "SPDR S&P 500 ETF Trust", "ARCA", true, 52_000),
    ("BRK.A", "Berkshire Hathaway Inc. Class A", "NYSE", false, 60_000_000),
];

#[derive(Debug, Serialize)]
pub struct Sandbox {
    /// HTTP Basic credentials: the correspondent's, for the Broker API, and an operator's.
    pub api_key: String,
    pub api_secret: String,
    pub operator_key: String,
    pub operator_secret: String,
    pub correspondent_id: String,
    pub correspondent_code: String,
    pub firm_account_id: String,
    pub customer_account_ids: Vec<String>,
    pub business_date: String,
    pub assets: Vec<String>,
}

/// Creates the sandbox through the sequencer.
pub async fn bootstrap(sequencer: &Sequencer) -> Result<Sandbox, SubmitError> {
    let ops = Actor::Operator("sandbox".into());
    let code = "SANDBOX";
    let outcome = sequencer
        .submit(Command::CreateCorrespondent {
            code: code.into(),
            name: "Sandbox Securities".into(),
            config: CorrespondentConfig::default(),
        })
        .await?;
    let correspondent = outcome.correspondents[0].id;
    let (api_key, api_secret, hash) = crate::auth::mint("CK");
    sequencer
        .submit(Command::IssueApiKey {
            key_id: api_key.clone(),
            name: None,
            owner: KeyOwner::Correspondent(correspondent),
            secret_sha256: hash,
        })
        .await?;
    let (operator_key, operator_secret, hash) = crate::auth::mint("OK");
    sequencer
        .submit(Command::IssueApiKey {
            key_id: operator_key.clone(),
            name: Some("sandbox operator".into()),
            owner: KeyOwner::Operator,
            secret_sha256: hash,
        })
        .await?;
    let open = |kind| Command::open_account(ops.clone(), correspondent, kind, String::new());
    let firm = sequencer.submit(open(AccountKind::Firm)).await?.accounts[0].id;
    let mut customers = Vec::new();
    for _ in 0..2 {
        customers.push(sequencer.submit(open(AccountKind::Customer)).await?.accounts[0].id);
    }
    let fund = Command::wire_in(ops.clone(), firm, FIRM_FUNDING_CENTS);
    let business_date = sequencer.submit(fund).await?.business_date;
    let mut symbols = Vec::new();
    for &(text, name, exchange, fractionable, cents) in ASSETS {
        let symbol = Symbol::parse(text).expect("a valid symbol");
        let price = Some(cents * 10_000_000);
        let list =
            Command::ListAsset { symbol, name: name.into(), exchange: exchange.into(), class: "us_equity".into(), fractionable, price };
        sequencer.submit(list).await?;
        let qty = if fractionable { FIRM_SHARES } else { 1 } * 1_000_000_000;
        sequencer.submit(Command::DepositSecurities { account: firm, symbol, qty, price: None }).await?;
        symbols.push(text.to_owned());
    }
    Ok(Sandbox {
        api_key,
        api_secret,
        operator_key,
        operator_secret,
        correspondent_id: correspondent.to_string(),
        correspondent_code: code.into(),
        firm_account_id: firm.to_string(),
        customer_account_ids: customers.iter().map(ToString::to_string).collect(),
        business_date: business_date.to_string(),
        assets: symbols,
    })
}

/// The file, in the data directory, that holds the first operator key of a ledger started
/// without a sandbox.
pub const OPERATOR_KEY_FILE: &str = "operator-key.json";

/// A ledger started empty without a sandbox gets one operator key, so that operations can sign
/// in: printed once and written, readable by its owner only, to `operator-key.json`.
pub async fn first_operator_key(sequencer: &Sequencer, data_dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let (key_id, secret, hash) = crate::auth::mint("OK");
    sequencer
        .submit(Command::IssueApiKey {
            key_id: key_id.clone(),
            name: Some("first operator".into()),
            owner: KeyOwner::Operator,
            secret_sha256: hash,
        })
        .await?;
    let path = data_dir.join(OPERATOR_KEY_FILE);
    let text = serde_json::to_string_pretty(&serde_json::json!({"operator_key": key_id, "operator_secret": secret}))? + "\n";
    write_private(&path, &text)?;
    // Service logs keep standard output: the secret is only in the file.
    println!("cashier: new ledger; its first operator key {key_id} and its secret are in {} (readable by its owner only)", path.display());
    Ok(())
}

/// Writes `text` to `path`, readable and writable by its owner only (an existing file too).
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        cashier_store_sqlite::private_dir(dir)?;
    }
    cashier_store_sqlite::private_file(path)?;
    std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?.write_all(text.as_bytes())
}

/// Makes the data directory and the key files in it readable by their owner only, as they are
/// created, and as earlier versions may have left them.
pub fn tighten(data_dir: &Path) -> std::io::Result<()> {
    cashier_store_sqlite::private_dir(data_dir)?;
    for name in [FILE_NAME, OPERATOR_KEY_FILE] {
        cashier_store_sqlite::private_file(&data_dir.join(name))?;
    }
    Ok(())
}

impl Sandbox {
    pub fn write(&self, data_dir: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        write_private(&data_dir.join(FILE_NAME), &(text + "\n"))
    }

    pub fn announce(&self, data_dir: &Path) {
        println!("cashier: sandbox created (also in {}):", data_dir.join(FILE_NAME).display());
        println!("  API key          {} secret {}", self.api_key, self.api_secret);
        println!("  operator key     {} secret {}", self.operator_key, self.operator_secret);
        println!("  correspondent    {} ({})", self.correspondent_id, self.correspondent_code);
        println!("  firm account     {} (funded with $1,000,000.00)", self.firm_account_id);
        for id in &self.customer_account_ids {
            println!("  customer account {id}");
        }
        println!("  assets           {}", self.assets.join(", "));
    }
}
