//! `cashier ops`: the operations team's command line, talking to a running server over HTTP.
//! Tables for people; `--json` prints the server's answers as they are, for scripts.

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{json, Value};
use std::path::PathBuf;

#[derive(Args)]
pub struct OpsArgs {
    /// The server.
    #[arg(long, global = true, env = "CASHIER_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// API key id. Without one, the operator key in the data directory's sandbox.json or
    /// operator-key.json is used.
    #[arg(long, global = true, env = "CASHIER_KEY")]
    key: Option<String>,
    /// The key's secret.
    #[arg(long, global = true, env = "CASHIER_SECRET")]
    secret: Option<String>,
    /// Where to look for the operator key when --key is not given.
    #[arg(long, global = true, env = "CASHIER_DATA_DIR", default_value = "./cashier-data")]
    data_dir: PathBuf,
    /// Print the server's JSON instead of tables (anywhere on the command line).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: OpsCommand,
}

#[derive(Subcommand)]
enum TransferCommand {
    /// Transfers of every account, oldest first (QUEUED ones wait for operations).
    List {
        #[arg(long)]
        status: Option<String>,
    },
    /// The bank settled a queued transfer: the money moves.
    Complete {
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// The bank refused a queued transfer: nothing moves, an outgoing one's hold is released.
    Reject {
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// The bank sent a completed transfer back: the money moves back.
    Return {
        id: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Every key: owner, name, created, last used, revoked (never a secret).
    List,
    /// Mints an operator key for a named person; prints its secret once.
    MintOperator {
        /// Who it is for: the audit trail shows it, and four-eyes takes two different names.
        name: String,
        #[arg(long)]
        reason: String,
    },
    /// Mints a key for a correspondent; prints its secret once.
    Mint {
        correspondent: String,
        /// A label for the key.
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        reason: String,
    },
    /// Revokes a key at once: its next request answers 401 and its event streams close.
    Revoke {
        key_id: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand)]
enum OpsCommand {
    /// Lists and shows journals, and acts on them.
    #[command(subcommand)]
    Journals(JournalCommand),
    /// Lists, shows and opens accounts.
    #[command(subcommand)]
    Accounts(AccountCommand),
    /// Lists, mints and revokes API keys.
    #[command(subcommand)]
    Keys(KeyCommand),
    /// Every correspondent, by code.
    Correspondents,
    /// Every asset, by symbol, with its price.
    Assets,
    /// Lists transfers and records what the bank did with them.
    #[command(subcommand)]
    Transfers(TransferCommand),
    /// Records a wire received for a firm account: its cash rises at once.
    Fund {
        account: String,
        /// US dollars, such as 250000.00.
        amount: String,
        /// Why, for the audit trail (required): the wire's reference, say.
        #[arg(long)]
        reason: String,
    },
    /// Sandbox: ends the business day and starts the next business day (or --date).
    AdvanceDay {
        #[arg(long)]
        date: Option<String>,
    },
}

#[derive(Subcommand)]
enum JournalCommand {
    /// Journals, newest first.
    List {
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        entry_type: Option<String>,
        /// Journals from this account.
        #[arg(long)]
        from: Option<String>,
        /// Journals to this account.
        #[arg(long)]
        to: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// One journal.
    Show { id: String },
    /// Sends a pending journal on to clearing.
    Approve {
        id: String,
        /// Why, for the audit trail (required).
        #[arg(long)]
        reason: String,
    },
    /// Rejects a pending journal.
    Reject {
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// Cancels a pending or queued journal.
    Cancel {
        id: String,
        /// Why, for the audit trail (required).
        #[arg(long)]
        reason: String,
    },
    /// Moves an executed journal's amount back; the journal ends canceled.
    Reverse {
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// Undoes an executed journal's booking; the journal ends deleted.
    Delete {
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// Replaces an executed journal with a new one for another amount (JNLC) or qty (JNLS).
    Correct {
        id: String,
        #[arg(long, conflicts_with = "qty", required_unless_present = "qty")]
        amount: Option<String>,
        #[arg(long)]
        qty: Option<String>,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand)]
enum AccountCommand {
    /// Accounts, newest first.
    List {
        /// Matches account number, name, email or phone.
        #[arg(long)]
        query: Option<String>,
    },
    /// One account with its cash.
    Show { id: String },
    /// Opens a firm (sweep) account for a correspondent (operator key).
    CreateFirm {
        #[arg(long)]
        correspondent: String,
    },
    /// Opens a customer account (a correspondent's key: --key and --secret).
    CreateCustomer {
        #[arg(long)]
        email: String,
        #[arg(long)]
        given_name: String,
        #[arg(long)]
        family_name: String,
    },
}

struct Client {
    http: reqwest::Client,
    base: String,
    key: String,
    secret: String,
}

impl Client {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value, String> {
        let mut request = self.http.request(method.clone(), format!("{}{path}", self.base)).basic_auth(&self.key, Some(&self.secret));
        // Every write is JSON, a body or not: the server refuses any other (415).
        match body {
            Some(body) => request = request.json(&body),
            None if method != Method::GET && method != Method::DELETE => request = request.json(&serde_json::json!({})),
            None => {}
        }
        let response = request.send().await.map_err(|e| format!("cannot reach {}: {e}", self.base))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| e.to_string())?;
        let value: Value = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        if status.is_success() {
            Ok(value)
        } else {
            let reason = value["reason"].as_str().unwrap_or("error");
            let message = value["message"].as_str().map_or_else(|| value.to_string(), str::to_owned);
            Err(format!("{status}: {reason}: {message}"))
        }
    }
}

/// The operator key written by the server on first start, when none is given.
fn stored_key(data_dir: &std::path::Path) -> Option<(String, String)> {
    ["operator-key.json", "sandbox.json"].iter().find_map(|name| {
        let value: Value = serde_json::from_str(&std::fs::read_to_string(data_dir.join(name)).ok()?).ok()?;
        Some((value["operator_key"].as_str()?.to_owned(), value["operator_secret"].as_str()?.to_owned()))
    })
}

pub async fn run(args: OpsArgs) -> Result<(), String> {
    let (key, secret) = match (args.key, args.secret) {
        (Some(key), Some(secret)) => (key, secret),
        (Some(_), None) => return Err("--key needs --secret (or CASHIER_SECRET)".into()),
        (None, _) => stored_key(&args.data_dir).ok_or_else(|| {
            format!("no key: pass --key and --secret, or run where {} holds operator-key.json or sandbox.json", args.data_dir.display())
        })?,
    };
    let client = Client { http: reqwest::Client::new(), base: args.url.trim_end_matches('/').to_owned(), key, secret };
    let (value, shape) = match args.command {
        OpsCommand::Journals(command) => journals(&client, command).await?,
        OpsCommand::Accounts(command) => accounts(&client, command).await?,
        OpsCommand::Keys(command) => keys(&client, command).await?,
        OpsCommand::Correspondents => (
            client.call(Method::GET, "/admin/v1/correspondents", None).await?,
            Shape::Table(&["id", "code", "name", "jnlc_flow", "created_at"]),
        ),
        OpsCommand::Assets => (
            client.call(Method::GET, "/admin/v1/assets", None).await?,
            Shape::Table(&["symbol", "name", "exchange", "fractionable", "price"]),
        ),
        OpsCommand::Transfers(command) => transfers(&client, command).await?,
        OpsCommand::Fund { account, amount, reason } => {
            let body = json!({"amount": amount, "reason": reason});
            let value = client.call(Method::POST, &format!("/admin/v1/accounts/{account}/wires"), Some(body)).await?;
            (value, Shape::Record(&["id", "account_id", "type", "direction", "amount", "status", "created_at"]))
        }
        OpsCommand::AdvanceDay { date } => {
            let body = date.map(|d| json!({"date": d}));
            (client.call(Method::POST, "/admin/v1/business_day", body).await?, Shape::Record(&["business_date", "journals_changed"]))
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&value).map_err(|e| e.to_string())?);
    } else {
        print!("{}", shape.render(&value));
    }
    Ok(())
}

const TRANSFER_COLUMNS: &[&str] = &["id", "account_id", "type", "direction", "amount", "status", "created_at"];

async fn transfers(client: &Client, command: TransferCommand) -> Result<(Value, Shape), String> {
    let (id, action, reason) = match command {
        TransferCommand::List { status } => {
            let query = status.map_or(String::new(), |s| format!("?status={s}"));
            return Ok((client.call(Method::GET, &format!("/admin/v1/transfers{query}"), None).await?, Shape::Table(TRANSFER_COLUMNS)));
        }
        TransferCommand::Complete { id, reason } => (id, "complete", reason),
        TransferCommand::Reject { id, reason } => (id, "reject", reason),
        TransferCommand::Return { id, reason } => (id, "return", reason),
    };
    let path = format!("/admin/v1/transfers/{id}/{action}");
    Ok((client.call(Method::POST, &path, Some(json!({"reason": reason}))).await?, Shape::Record(TRANSFER_COLUMNS)))
}

const KEY_COLUMNS: &[&str] = &["key_id", "owner", "name", "correspondent_id", "created_at", "last_used_at", "revoked"];

async fn keys(client: &Client, command: KeyCommand) -> Result<(Value, Shape), String> {
    let minted = Shape::Record(&["key_id", "secret", "name"]);
    Ok(match command {
        KeyCommand::List => (client.call(Method::GET, "/admin/v1/keys", None).await?, Shape::Table(KEY_COLUMNS)),
        KeyCommand::MintOperator { name, reason } => {
            (client.call(Method::POST, "/admin/v1/keys", Some(json!({"name": name, "reason": reason}))).await?, minted)
        }
        KeyCommand::Mint { correspondent, name, reason } => {
            let path = format!("/admin/v1/correspondents/{correspondent}/keys");
            (client.call(Method::POST, &path, Some(json!({"name": name, "reason": reason}))).await?, minted)
        }
        KeyCommand::Revoke { key_id, reason } => {
            let path = format!("/admin/v1/keys/{key_id}/revoke");
            (client.call(Method::POST, &path, Some(json!({"reason": reason}))).await?, Shape::Record(KEY_COLUMNS))
        }
    })
}

const JOURNAL_COLUMNS: &[&str] = &["id", "created_at", "entry_type", "from_account", "to_account", "amount", "status"];

async fn journals(client: &Client, command: JournalCommand) -> Result<(Value, Shape), String> {
    let (id, action, body) = match command {
        JournalCommand::List { status, entry_type, from, to, limit } => {
            let mut query = vec![format!("limit={limit}")];
            for (name, value) in [("status", status), ("entry_type", entry_type), ("from_account", from), ("to_account", to)] {
                if let Some(value) = value {
                    query.push(format!("{name}={value}"));
                }
            }
            let list = client.call(Method::GET, &format!("/v1/journals?{}", query.join("&")), None).await?;
            return Ok((list, Shape::Table(JOURNAL_COLUMNS)));
        }
        JournalCommand::Show { id } => {
            let journal = client.call(Method::GET, &format!("/v1/journals/{id}"), None).await?;
            return Ok((journal, Shape::Record(&[])));
        }
        JournalCommand::Approve { id, reason } => (id, "approve", json!({"reason": reason})),
        JournalCommand::Reject { id, reason } => (id, "reject", json!({"reason": reason})),
        JournalCommand::Cancel { id, reason } => (id, "cancel", json!({"reason": reason})),
        JournalCommand::Reverse { id, reason } => (id, "reverse", json!({"reason": reason})),
        JournalCommand::Delete { id, reason } => (id, "delete", json!({"reason": reason})),
        JournalCommand::Correct { id, amount, qty, reason } => (id, "correct", json!({"reason": reason, "amount": amount, "qty": qty})),
    };
    let answer = client.call(Method::POST, &format!("/admin/v1/journals/{id}/{action}"), Some(body)).await?;
    Ok((answer, Shape::Action))
}

async fn accounts(client: &Client, command: AccountCommand) -> Result<(Value, Shape), String> {
    const COLUMNS: &[&str] = &["id", "account_number", "kind", "status", "created_at"];
    match command {
        AccountCommand::List { query } => {
            let path = query.map_or("/v1/accounts".to_owned(), |q| format!("/v1/accounts?query={}", q.replace(' ', "%20")));
            let mut list = client.call(Method::GET, &path, None).await?;
            // Each account's correspondent, by code, where an operator key can read them.
            let codes: std::collections::HashMap<String, String> = match client.call(Method::GET, "/admin/v1/correspondents", None).await {
                Ok(Value::Array(all)) => all.iter().map(|c| (text(&c["id"]), text(&c["code"]))).collect(),
                _ => Default::default(),
            };
            for account in list.as_array_mut().into_iter().flatten() {
                let id = text(&account["correspondent_id"]);
                account["correspondent"] = json!(codes.get(&id).cloned().unwrap_or(id));
            }
            Ok((list, Shape::Table(&["id", "account_number", "correspondent", "kind", "status", "created_at"])))
        }
        AccountCommand::Show { id } => {
            let mut account = client.call(Method::GET, &format!("/v1/accounts/{id}"), None).await?;
            let trade = client.call(Method::GET, &format!("/v1/trading/accounts/{id}/account"), None).await?;
            for field in ["cash", "cash_transferable", "cash_withdrawable", "equity"] {
                account[field] = trade[field].clone();
            }
            Ok((
                account,
                Shape::Record(&[
                    "id",
                    "account_number",
                    "kind",
                    "status",
                    "cash",
                    "cash_transferable",
                    "cash_withdrawable",
                    "equity",
                    "created_at",
                ]),
            ))
        }
        AccountCommand::CreateFirm { correspondent } => {
            let path = format!("/admin/v1/correspondents/{correspondent}/firm_accounts");
            Ok((client.call(Method::POST, &path, None).await?, Shape::Record(&["id", "account_number", "kind", "status"])))
        }
        AccountCommand::CreateCustomer { email, given_name, family_name } => {
            let body = json!({"contact": {"email_address": email}, "identity": {"given_name": given_name, "family_name": family_name}});
            Ok((client.call(Method::POST, "/v1/accounts", Some(body)).await?, Shape::Record(COLUMNS)))
        }
    }
}

/// How an answer is shown to people.
enum Shape {
    /// A list of objects, one row each, in these columns.
    Table(&'static [&'static str]),
    /// One object, a field a line (these fields, or all when empty).
    Record(&'static [&'static str]),
    /// What a journal action did.
    Action,
}

fn text(value: &Value) -> String {
    match value {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A journal's amount: cash, or qty and symbol.
fn cell(row: &Value, column: &str) -> String {
    if column == "amount" && row.get("entry_type").is_some() {
        return match row["net_amount"].as_str() {
            Some(amount) => format!("{amount} {}", text(&row["currency"])),
            None => format!("{} {}", text(&row["qty"]), text(&row["symbol"])),
        };
    }
    text(&row[column])
}

impl Shape {
    fn render(&self, value: &Value) -> String {
        // Any operator action four-eyes held for a second operator.
        if let Some(asked) = value.get("awaiting_confirmation").filter(|a| a.is_object()) {
            let what = asked.get("detail").map_or_else(|| text(&asked["action"]), text);
            return format!("{what}: recorded, awaiting a second operator (four-eyes): asked by {}\n", text(&asked["requested_by"]));
        }
        match self {
            Shape::Table(columns) => table(columns, value.as_array().map(Vec::as_slice).unwrap_or_default()),
            Shape::Record(fields) => {
                let names: Vec<&str> = match (fields.is_empty(), value.as_object()) {
                    (true, Some(object)) => object.keys().map(String::as_str).collect(),
                    _ => fields.to_vec(),
                };
                let width = names.iter().map(|n| n.len()).max().unwrap_or(0);
                names.iter().map(|name| format!("{name:<width$}  {}\n", cell(value, name))).collect()
            }
            Shape::Action => table(JOURNAL_COLUMNS, value["journals"].as_array().map(Vec::as_slice).unwrap_or_default()),
        }
    }
}

fn table(columns: &[&str], rows: &[Value]) -> String {
    let cells: Vec<Vec<String>> = rows.iter().map(|row| columns.iter().map(|c| cell(row, c)).collect()).collect();
    let widths: Vec<usize> =
        columns.iter().enumerate().map(|(i, c)| cells.iter().map(|r| r[i].chars().count()).max().unwrap_or(0).max(c.len())).collect();
    let line = |values: Vec<String>| {
        let padded: Vec<String> = values.iter().zip(&widths).map(|(v, w)| format!("{v:<w$}")).collect();
        padded.join("  ").trim_end().to_owned() + "\n"
    };
    let mut out = line(columns.iter().map(|c| c.to_uppercase()).collect());
    for row in cells {
        out.push_str(&line(row));
    }
    if rows.is_empty() {
        out.push_str("(none)\n");
    }
    out
}
