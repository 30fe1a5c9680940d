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
    // The log went to a pipe: plain text, no terminal colour codes.
    assert!(printed.iter().any(|l| l.contains("INFO") && l.contains("cashier is listening")), "{printed:?}");
    assert!(printed.iter().all(|l| !l.contains('\u{1b}')), "colour codes in a piped log: {printed:?}");
    assert!(dir.join("sandbox.json").exists());
    let response = http_get(&addr, "/healthz");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
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
    let _ = std::fs::remove_dir_all(&dir);
}
