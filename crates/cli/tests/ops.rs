//! `cashier ops` against a running `cashier serve`: tables for people, `--json` for scripts,
//! the operator key found in the data directory, errors in words and a failing exit code.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

struct Server {
    child: Child,
    url: String,
    dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn serve(name: &str, extra: &[&str]) -> Server {
    let dir = std::env::temp_dir().join(format!("cashier-ops-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut child = Command::new(env!("CARGO_BIN_EXE_cashier"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&dir)
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("cashier starts");
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = lines
        .map_while(Result::ok)
        .find_map(|line| line.strip_prefix("cashier: listening on ").map(str::to_owned))
        .expect("cashier prints where it listens");
    Server { child, url, dir }
}

/// Runs `cashier ops` with the server's URL and data directory: (success, stdout, stderr).
fn ops(server: &Server, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_cashier"))
        .args(["ops", "--url", &server.url, "--data-dir"])
        .arg(&server.dir)
        .args(args)
        .env_remove("CASHIER_KEY")
        .env_remove("CASHIER_SECRET")
        .output()
        .expect("cashier ops runs");
    (output.status.success(), String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned())
}

fn json(server: &Server, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let (ok, out, err) = ops(server, &all);
    assert!(ok, "cashier ops {args:?} failed: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

fn sandbox(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("sandbox.json")).unwrap()).unwrap()
}

/// A journal from the sandbox firm to its first customer, with the correspondent's key.
fn pay(server: &Server, amount: &str) -> String {
    let s = sandbox(&server.dir);
    let body = format!(
        r#"{{"entry_type":"JNLC","from_account":"{}","to_account":"{}","amount":"{amount}"}}"#,
        s["firm_account_id"].as_str().unwrap(),
        s["customer_account_ids"][0].as_str().unwrap()
    );
    let output = Command::new("curl")
        .args(["-s", "-u"])
        .arg(format!("{}:{}", s["api_key"].as_str().unwrap(), s["api_secret"].as_str().unwrap()))
        .args(["-X", "POST", &format!("{}/v1/journals", server.url), "-H", "Content-Type: application/json", "-d", &body])
        .output()
        .expect("curl runs");
    let journal: Value = serde_json::from_slice(&output.stdout).unwrap();
    journal["id"].as_str().unwrap_or_else(|| panic!("{journal}")).to_owned()
}

fn wait_for_status(server: &Server, id: &str, status: &str) {
    for _ in 0..200 {
        if json(server, &["journals", "show", id])["status"] == status {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("journal {id} never reached {status}");
}

#[test]
fn operators_list_show_act_fund_and_advance_the_day() {
    let server = serve("sandbox", &["--four-eyes-over", "1000"]);
    let s = sandbox(&server.dir);
    let (firm, customer) = (s["firm_account_id"].as_str().unwrap(), s["customer_account_ids"][0].as_str().unwrap());
    // Approve a pending journal, as a table and as JSON.
    let held = pay(&server, "80");
    let (ok, table, _) = ops(&server, &["journals", "list", "--status", "pending"]);
    assert!(ok);
    let header = table.lines().next().unwrap();
    assert!(header.starts_with("ID") && header.contains("AMOUNT") && header.contains("STATUS"), "{table}");
    assert!(table.contains(&held) && table.contains("80 USD") && table.contains("pending"), "{table}");
    let (ok, out, _) = ops(&server, &["journals", "approve", &held, "--reason", "known customer"]);
    assert!(ok && out.contains("queued"), "{out}");
    wait_for_status(&server, &held, "executed");
    // Reverse needs a reason; the server's refusal is shown and the exit code fails.
    let (ok, _, err) = ops(&server, &["journals", "reverse", &held, "--reason", " "]);
    assert!(!ok && err.contains("reason_required"), "{err}");
    let (ok, out, _) = ops(&server, &["journals", "correct", &held, "--amount", "70", "--reason", "fee"]);
    assert!(ok && out.contains("correct") && out.contains("executed"), "the original and its replacement: {out}");
    // Fund the firm account, and see it in the account.
    let before: f64 = json(&server, &["accounts", "show", firm])["cash"].as_str().unwrap().parse().unwrap();
    let wire = json(&server, &["fund", firm, "500", "--reason", "wire ref 1"]);
    assert_eq!((wire["status"].as_str(), wire["direction"].as_str()), (Some("COMPLETE"), Some("INCOMING")));
    let after: f64 = json(&server, &["accounts", "show", firm])["cash"].as_str().unwrap().parse().unwrap();
    assert_eq!(after - before, 500.0);
    // Past what one operator may move alone in a day ($1,000: $80 approved, $80 corrected, $500
    // wired), a wire waits for a second operator.
    let (ok, out, _) = ops(&server, &["fund", firm, "250000", "--reason", "wire ref 3"]);
    assert!(ok && out.contains("awaiting a second operator") && out.contains("250000.00 USD"), "{out}");
    let unchanged: f64 = json(&server, &["accounts", "show", firm])["cash"].as_str().unwrap().parse().unwrap();
    assert_eq!(unchanged, after);
    let (ok, _, err) = ops(&server, &["fund", customer, "10", "--reason", "wire ref 2"]);
    assert!(!ok && err.contains("not_firm_account"), "{err}");
    // Four-eyes over $1,000: the first operator's action is recorded, not done.
    let large = pay(&server, "2000");
    let answer = json(&server, &["journals", "approve", &large, "--reason", "large but known"]);
    assert_eq!(answer["awaiting_confirmation"]["action"], "approve", "{answer}");
    let (ok, _, err) = ops(&server, &["journals", "approve", &large, "--reason", "large but known"]);
    assert!(!ok && err.contains("second_operator_required"), "{err}");
    // Accounts: a firm account for the correspondent, listed.
    let opened = json(&server, &["accounts", "create-firm", "--correspondent", s["correspondent_id"].as_str().unwrap()]);
    assert_eq!(opened["kind"], "firm");
    let (ok, table, _) = ops(&server, &["accounts", "list"]);
    assert!(ok && table.contains(opened["id"].as_str().unwrap()), "{table}");
    let code = s["correspondent_code"].as_str().unwrap();
    assert!(table.lines().next().unwrap().contains("CORRESPONDENT"), "{table}");
    assert!(table.lines().filter(|l| l.contains(opened["id"].as_str().unwrap())).all(|l| l.contains(code)), "by code: {table}");
    // Correspondents and assets are listed; --json goes anywhere on the line.
    let (ok, table, _) = ops(&server, &["correspondents"]);
    assert!(ok && table.contains(code), "{table}");
    let (ok, table, _) = ops(&server, &["assets"]);
    assert!(ok && table.contains("AAPL") && table.contains("PRICE"), "{table}");
    let (ok, out, err) = ops(&server, &["journals", "list", "--status", "pending", "--json"]);
    assert!(ok, "{err}");
    assert!(serde_json::from_str::<Value>(&out).unwrap().is_array(), "{out}");
    // A customer account, with a correspondent's key.
    let output = Command::new(env!("CARGO_BIN_EXE_cashier"))
        .args([
            "ops",
            "--url",
            &server.url,
            "--json",
            "--key",
            s["api_key"].as_str().unwrap(),
            "--secret",
            s["api_secret"].as_str().unwrap(),
        ])
        .args(["accounts", "create-customer", "--email", "ada@example.com", "--given-name", "Ada", "--family-name", "Lovelace"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let customer: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!((customer["kind"].as_str(), customer["status"].as_str()), (Some("customer"), Some("ACTIVE")));
    let (ok, table, _) = ops(&server, &["accounts", "list", "--query", "Lovelace"]);
    assert!(ok && table.contains(customer["id"].as_str().unwrap()) && !table.contains(firm), "{table}");
    // The business day: the next weekday.
    let day = json(&server, &["advance-day"]);
    let date = cashier_core::Date::parse(day["business_date"].as_str().unwrap()).unwrap();
    assert!(cashier_core::calendar::weekday(date) < 5, "{day}");
    let (ok, _, err) = ops(&server, &["advance-day", "--date", "2099-01-03"]);
    assert!(!ok && err.contains("not_a_business_day"), "{err}");
}

#[test]
fn without_a_sandbox_the_first_start_writes_an_operator_key_and_the_day_is_not_advanced_by_hand() {
    let server = serve("production", &["--no-sandbox", "--holidays", "2099-01-05"]);
    let key: Value = serde_json::from_str(&std::fs::read_to_string(server.dir.join("operator-key.json")).unwrap()).unwrap();
    assert!(key["operator_key"].as_str().unwrap().starts_with("OK"));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(server.dir.join("operator-key.json")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "readable by its owner only");
    // The key found in the data directory works.
    let (ok, table, err) = ops(&server, &["accounts", "list"]);
    assert!(ok, "{err}");
    assert!(table.contains("(none)"), "a new ledger has no accounts: {table}");
    let (ok, _, err) = ops(&server, &["advance-day"]);
    assert!(!ok && err.contains("sandbox_only"), "{err}");
    // A wrong key is refused.
    let output = Command::new(env!("CARGO_BIN_EXE_cashier"))
        .args(["ops", "--url", &server.url, "--key", "OKNOTAKEY00", "--secret", "nope", "accounts", "list"])
        .output()
        .unwrap();
    assert!(!output.status.success() && String::from_utf8_lossy(&output.stderr).contains("401"));
}
