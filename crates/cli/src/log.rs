//! Log lines written by a thread of their own: a request's handler formats its line and hands it
//! over, and the writer thread writes them out in batches every 10 ms. Nothing is dropped: when the writer falls 65,536 lines behind, handing a line over
//! waits. [`Background::flush`] writes out what was handed over, before the process exits.

use std::io::Write;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

const LINES_BEHIND_MAX: usize = 65_536;

enum Message {
    Line(Vec<u8>),
    Flushed(SyncSender<()>),
}

/// The writer for `tracing_subscriber`: each event's line, whole, to the writer thread.
#[derive(Clone)]
pub struct Background {
    tx: SyncSender<Message>,
}

impl Background {
    /// Starts a writer thread that writes to `sink`.
    pub fn to(sink: impl Write + Send + 'static) -> Background {
        let (tx, rx) = sync_channel(LINES_BEHIND_MAX);
        std::thread::Builder::new().name("cashier-log".into()).spawn(move || write_out(rx, sink)).expect("a log thread");
        Background { tx }
    }

    /// Returns once every line handed over before the call is written and flushed.
    pub fn flush(&self) {
        let (done, wait) = sync_channel(1);
        if self.tx.send(Message::Flushed(done)).is_ok() {
            let _ = wait.recv();
        }
    }
}

/// How long the writer sleeps between draining what was handed over. It polls rather than
/// waits on the channel, so that handing a line over never has to wake it (a futex call a line).
const DRAIN_EVERY: std::time::Duration = std::time::Duration::from_millis(10);

fn write_out(rx: Receiver<Message>, sink: impl Write) {
    use std::sync::mpsc::TryRecvError;
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, sink);
    loop {
        loop {
            match rx.try_recv() {
                Ok(Message::Line(line)) => drop(out.write_all(&line)),
                Ok(Message::Flushed(done)) => {
                    drop(out.flush());
                    let _ = done.send(());
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    drop(out.flush());
                    return;
                }
            }
        }
        drop(out.flush());
        std::thread::sleep(DRAIN_EVERY);
    }
}

/// One event's line, handed over when the formatter is done with it.
pub struct Line {
    bytes: Vec<u8>,
    tx: SyncSender<Message>,
}

impl Write for Line {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.bytes.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        if !self.bytes.is_empty() {
            drop(self.tx.send(Message::Line(std::mem::take(&mut self.bytes))));
        }
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Background {
    type Writer = Line;

    fn make_writer(&'a self) -> Line {
        Line { bytes: Vec::with_capacity(256), tx: self.tx.clone() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::fmt::MakeWriter;

    /// A sink the test can read.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_is_written_whole_and_in_order_by_the_flush() {
        let sink = Shared::default();
        let writer = Background::to(sink.clone());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let writer = writer.clone();
                std::thread::spawn(move || {
                    for i in 0..5_000 {
                        let mut line = writer.make_writer();
                        // Written in pieces, as a formatter does: the line stays whole.
                        write!(line, "thread {t} ").unwrap();
                        writeln!(line, "line {i}").unwrap();
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        writer.flush();
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 20_000);
        for t in 0..4 {
            let mine: Vec<&str> = text.lines().filter(|l| l.starts_with(&format!("thread {t} "))).collect();
            let expected: Vec<String> = (0..5_000).map(|i| format!("thread {t} line {i}")).collect();
            assert_eq!(mine, expected, "thread {t}'s lines, whole and in order");
        }
    }
}
