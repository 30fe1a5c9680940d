//! The load generator's HTTP/1.1 client: one kept-alive connection per client, requests written
//! from a prepared head in one write, answers framed by their `Content-Length` and their body
//! kept only when it is an error. The generator shares the machine with the server it measures,
//! so every cycle it spends is one the server does not get; a general client (connection pool,
//! header maps, URL parsing per request) cost about a third of the machine.

use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Headers of an answer read at most.
const HEADERS_MAX: usize = 32;
/// Bytes of an answer's head read at most.
const HEAD_BYTES_MAX: usize = 64 * 1024;

/// Where requests go, and the headers every request carries.
#[derive(Clone, Debug)]
pub struct Endpoint {
    address: SocketAddr,
    /// `Host` and `Authorization` lines, each ending in CRLF.
    common: String,
}

impl Endpoint {
    /// `base` is `http://host:port` (no path, no TLS); `key` the Basic credentials.
    pub fn new(base: &str, key: (&str, &str)) -> Result<Endpoint, String> {
        use base64::Engine;
        let authority = base
            .strip_prefix("http://")
            .ok_or_else(|| format!("{base}: the load generator speaks plain http:// only"))?
            .trim_end_matches('/');
        if authority.contains('/') {
            return Err(format!("{base}: give the server's address without a path"));
        }
        let address = std::net::ToSocketAddrs::to_socket_addrs(authority)
            .map_err(|e| format!("{authority}: {e}"))?
            .next()
            .ok_or_else(|| format!("{authority}: no address"))?;
        let credentials = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", key.0, key.1));
        Ok(Endpoint { address, common: format!("Host: {authority}\r\nAuthorization: Basic {credentials}\r\n") })
    }
}

/// One kept-alive connection; it reconnects for the next request after any failure.
pub struct Connection {
    endpoint: Endpoint,
    stream: Option<TcpStream>,
    out: Vec<u8>,
    input: Vec<u8>,
}

/// A request's answer: its status and, for an error, its body.
pub struct Answer {
    pub status: u16,
    pub error_body: Vec<u8>,
}

impl Connection {
    pub fn new(endpoint: Endpoint) -> Connection {
        Connection { endpoint, stream: None, out: Vec::with_capacity(1024), input: Vec::with_capacity(4096) }
    }

    /// POSTs a JSON body to `path` and reads the whole answer.
    pub async fn post(&mut self, path: &str, body: &[u8]) -> Result<Answer, String> {
        self.post_keyed(path, body, None).await
    }

    /// POSTs a JSON body to `path` under an `Idempotency-Key`, if given, and reads the whole answer.
    pub async fn post_keyed(&mut self, path: &str, body: &[u8], key: Option<&str>) -> Result<Answer, String> {
        let answer = self.exchange(path, Some((body, key))).await;
        if answer.is_err() {
            self.stream = None;
        }
        answer
    }

    /// GETs `path` and reads the whole answer.
    pub async fn get(&mut self, path: &str) -> Result<Answer, String> {
        let answer = self.exchange(path, None).await;
        if answer.is_err() {
            self.stream = None;
        }
        answer
    }

    async fn exchange(&mut self, path: &str, body: Option<(&[u8], Option<&str>)>) -> Result<Answer, String> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(self.endpoint.address).await.map_err(|e| format!("transport: connect: {e}"))?;
            stream.set_nodelay(true).map_err(|e| format!("transport: {e}"))?;
            self.stream = Some(stream);
            self.input.clear();
        }
        let stream = self.stream.as_mut().expect("connected above");
        self.out.clear();
        self.out.extend_from_slice(if body.is_some() { b"POST " } else { b"GET " });
        self.out.extend_from_slice(path.as_bytes());
        self.out.extend_from_slice(b" HTTP/1.1\r\n");
        self.out.extend_from_slice(self.endpoint.common.as_bytes());
        match body {
            Some((body, key)) => {
                if let Some(key) = key {
                    self.out.extend_from_slice(b"Idempotency-Key: ");
                    self.out.extend_from_slice(key.as_bytes());
                    self.out.extend_from_slice(b"\r\n");
                }
                self.out.extend_from_slice(b"Content-Type: application/json\r\nContent-Length: ");
                self.out.extend_from_slice(body.len().to_string().as_bytes());
                self.out.extend_from_slice(b"\r\n\r\n");
                self.out.extend_from_slice(body);
            }
            None => self.out.extend_from_slice(b"\r\n"),
        }
        stream.write_all(&self.out).await.map_err(|e| format!("transport: write: {e}"))?;
        // The head.
        let (status, length, close, head_len) = loop {
            let mut headers = [httparse::EMPTY_HEADER; HEADERS_MAX];
            let mut response = httparse::Response::new(&mut headers);
            match response.parse(&self.input) {
                Ok(httparse::Status::Complete(head_len)) => {
                    let status = response.code.unwrap_or(0);
                    let mut length = None;
                    let mut close = false;
                    for header in response.headers.iter() {
                        if header.name.eq_ignore_ascii_case("content-length") {
                            length = std::str::from_utf8(header.value).ok().and_then(|v| v.trim().parse::<usize>().ok());
                        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
                            return Err("transport: the answer is chunked; the load generator reads Content-Length only".into());
                        } else if header.name.eq_ignore_ascii_case("connection") {
                            close = header.value.eq_ignore_ascii_case(b"close");
                        }
                    }
                    // Without a length the answer ends where the connection does: not reused.
                    break (status, length.unwrap_or(0), close || length.is_none(), head_len);
                }
                Ok(httparse::Status::Partial) if self.input.len() < HEAD_BYTES_MAX => read_more(stream, &mut self.input).await?,
                Ok(httparse::Status::Partial) => return Err("transport: an answer's head is too long".into()),
                Err(e) => return Err(format!("transport: a malformed answer: {e}")),
            }
        };
        // The body.
        while self.input.len() < head_len + length {
            read_more(stream, &mut self.input).await?;
        }
        let error_body = if status >= 400 { self.input[head_len..head_len + length].to_vec() } else { Vec::new() };
        self.input.drain(..head_len + length);
        if close {
            self.stream = None;
        }
        Ok(Answer { status, error_body })
    }
}

async fn read_more(stream: &mut TcpStream, input: &mut Vec<u8>) -> Result<(), String> {
    input.reserve(4096);
    let read = stream.read_buf(input).await.map_err(|e| format!("transport: read: {e}"))?;
    if read == 0 {
        return Err("transport: the server closed the connection".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against a real server: answers framed right on one kept-alive connection, error bodies
    /// kept, a refused key answered, a closed connection reopened.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn posts_over_one_kept_alive_connection() {
        let dir = std::env::temp_dir().join(format!("cashier-wire-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let running = cashier_server::start(cashier_server::Config::new(dir.clone(), "127.0.0.1:0".parse().unwrap())).await.unwrap();
        let sandbox: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("sandbox.json")).unwrap()).unwrap();
        let field = |name: &str| sandbox[name].as_str().unwrap().to_owned();
        let base = format!("http://{}", running.addr);
        let endpoint = Endpoint::new(&base, (&field("api_key"), &field("api_secret"))).unwrap();
        let mut connection = Connection::new(endpoint);
        let customer = sandbox["customer_account_ids"][0].as_str().unwrap().to_owned();
        let journal =
            format!(r#"{{"entry_type":"JNLC","from_account":"{}","to_account":"{customer}","amount":"1.25"}}"#, field("firm_account_id"));
        for _ in 0..3 {
            let answer = connection.post("/v1/journals", journal.as_bytes()).await.unwrap();
            assert_eq!(answer.status, 200);
            assert!(answer.error_body.is_empty());
        }
        let answer = connection.post("/v1/journals", b"{not json").await.unwrap();
        assert_eq!(answer.status, 400);
        let error: serde_json::Value = serde_json::from_slice(&answer.error_body).unwrap();
        assert_eq!(error["reason"], "malformed_json");
        // The same connection still answers after an error.
        assert_eq!(connection.post("/v1/journals", journal.as_bytes()).await.unwrap().status, 200);
        let mut stranger = Connection::new(Endpoint::new(&base, ("CKNOSUCHKEY", "secret")).unwrap());
        assert_eq!(stranger.post("/v1/journals", journal.as_bytes()).await.unwrap().status, 401);
        // A connection the server dropped is reopened for the next request.
        connection.stream = None;
        assert_eq!(connection.post("/v1/journals", journal.as_bytes()).await.unwrap().status, 200);
        assert!(Endpoint::new("https://example.com", ("a", "b")).is_err());
        running.stop().await.unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
