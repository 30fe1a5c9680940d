//! `cashier serve` as a process: it starts on the embedded store, prints where it listens and
//! what the sandbox holds, answers, and exits cleanly on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn http_get(addr: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connects");
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// The server process, killed if the test fails before it stops it (so that no server outlives
/// the test, holding its output pipe open).
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serve_starts_answers_and_stops_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("cashier-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut server = Server(
        Command::new(env!("CARGO_BIN_EXE_cashier"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&dir)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .spawn()
            .expect("cashier starts"),
    );
    let child = &mut server.0;
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let started = Instant::now();
    let mut printed = Vec::new();
    let addr = loop {
        let line = lines.next().expect("cashier prints where it listens").unwrap();
        printed.push(line.clone());
        if let Some(addr) = line.strip_prefix("cashier: listening on http://") {
            break addr.to_owned();
        }
        assert!(started.elapsed() < Duration::from_secs(60), "no address after {printed:?}");
    };
    assert!(printed.iter().any(|l| l.contains("firm account")), "the sandbox is announced: {printed:?}");
    assert!(dir.join("sandbox.json").exists());
    let response = http_get(&addr, "/healthz");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    // Secrets and the store are the owner's alone.
    for (path, mode) in
        [(dir.clone(), 0o700), (dir.join("sandbox.json"), 0o600), (dir.join("cashier.db"), 0o600), (dir.join("cashier.db-wal"), 0o600)]
    {
        assert_eq!(mode_of(&path), mode, "{}", path.display());
    }
    // One server a store: a second one on the same data directory refuses to start, naming the
    // process that holds it.
    let second = Command::new(env!("CARGO_BIN_EXE_cashier"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&dir)
        .output()
        .expect("runs");
    let said = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success(), "a second server on {} started: {said}", dir.display());
    assert!(said.contains(&format!("in use by process {} (", child.id())), "the refusal names the first server: {said}");
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "cashier did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "cashier exits cleanly on SIGTERM: {exit}");
    // The log's writer thread wrote out every line before the process ended: the request's
    // line, and the last words of the stop.
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(rest.iter().any(|l| l.contains("request") && l.contains("/healthz") && l.contains("status=200")), "{rest:?}");
    // The log went to a pipe: plain text, no terminal colour codes. (Its writer thread may write
    // a line after what the process printed directly.)
    let all: Vec<&String> = printed.iter().chain(&rest).collect();
    assert!(all.iter().any(|l| l.contains("INFO") && l.contains("cashier is listening")), "{all:?}");
    assert!(all.iter().all(|l| !l.contains('\u{1b}')), "colour codes in a piped log: {all:?}");
    // The full check of the whole log, on demand: the store reconciles; a balance edited in
    // place is named, and the command fails.
    let verify = || Command::new(env!("CARGO_BIN_EXE_cashier")).args(["verify", "--data-dir"]).arg(&dir).output().expect("runs");
    let clean = verify();
    let said = String::from_utf8_lossy(&clean.stdout);
    assert!(clean.status.success() && said.contains("reconciles"), "{said} {}", String::from_utf8_lossy(&clean.stderr));
    let db = rusqlite::Connection::open(dir.join("cashier.db")).unwrap();
    db.execute("UPDATE balances SET posted = posted + 7 WHERE asset = 'cash:USD' AND posted > 0", []).unwrap();
    drop(db);
    let tampered = verify();
    let said = String::from_utf8_lossy(&tampered.stderr);
    assert!(!tampered.status.success() && said.contains("balance of") && said.contains("USD"), "{said}");
    let missing = Command::new(env!("CARGO_BIN_EXE_cashier")).args(["verify", "--data-dir"]).arg(dir.join("nothing")).output().unwrap();
    assert!(!missing.status.success() && String::from_utf8_lossy(&missing.stderr).contains("no store in"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_log_level_is_a_flag() {
    let dir = std::env::temp_dir().join(format!("cashier-cli-level-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let run = |level: &str| {
        let mut server = Server(
            Command::new(env!("CARGO_BIN_EXE_cashier"))
                .args(["serve", "--listen", "127.0.0.1:0", "--log-level", level, "--data-dir"])
                .arg(&dir)
                .env("RUST_LOG", "debug")
                .stdout(Stdio::piped())
                .spawn()
                .expect("cashier starts"),
        );
        let mut lines = BufReader::new(server.0.stdout.take().unwrap()).lines();
        let addr = loop {
            let line = lines.next().expect("cashier prints where it listens").unwrap();
            if let Some(addr) = line.strip_prefix("cashier: listening on http://") {
                break addr.to_owned();
            }
        };
        assert!(http_get(&addr, "/healthz").starts_with("HTTP/1.1 200"));
        Command::new("kill").args(["-TERM", &server.0.id().to_string()]).status().unwrap();
        let rest: Vec<String> = lines.map_while(Result::ok).collect();
        server.0.wait().unwrap();
        rest
    };
    // The flag wins over RUST_LOG: at warn, no line per request.
    let quiet = run("warn");
    assert!(!quiet.iter().any(|l| l.contains("/healthz")), "{quiet:?}");
    let chatty = run("info");
    assert!(chatty.iter().any(|l| l.contains("/healthz")), "{chatty:?}");
    let refused = Command::new(env!("CARGO_BIN_EXE_cashier")).args(["serve", "--log-level", "loud=="]).output().unwrap();
    assert!(!refused.status.success() && String::from_utf8_lossy(&refused.stderr).contains("--log-level"));
    let _ = std::fs::remove_dir_all(&dir);
}

fn mode_of(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

/// A first start without a sandbox writes its operator key to a file only its owner reads and
/// prints where, never the secret; a store left readable by others is tightened at start.
#[test]
fn the_first_operator_secret_is_not_printed() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("cashier-cli-nosandbox-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut server = Server(
        Command::new(env!("CARGO_BIN_EXE_cashier"))
            .args(["serve", "--no-sandbox", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&dir)
            .stdout(Stdio::piped())
            .spawn()
            .expect("cashier starts"),
    );
    let mut lines = BufReader::new(server.0.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    loop {
        let line = lines.next().expect("cashier prints where it listens").unwrap();
        printed.push(line.clone());
        if line.starts_with("cashier: listening on http://") {
            break;
        }
    }
    let key: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("operator-key.json")).unwrap()).unwrap();
    let secret = key["operator_secret"].as_str().unwrap();
    let out = printed.join("\n");
    assert!(!out.contains(secret), "the secret was printed: {out}");
    assert!(out.contains("operator-key.json"), "the log says where the key is: {out}");
    assert_eq!(mode_of(&dir), 0o700, "an existing data directory is tightened");
    assert_eq!(mode_of(&dir.join("operator-key.json")), 0o600);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
