//! Reads of the committed tables apart from the writer: event stream replays, account opening
//! data, reconciliation. A few plain threads each own a reader (a read-only SQLite connection or
//! a PostgreSQL connection, whose synchronous client must not run on the async runtime's
//! threads) and take jobs from one queue.

use crate::{ApiError, LogOpener};
use cashier_store::sql::LogReader;
use cashier_store::StoreError;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

/// Threads reading the tables.
const READER_THREADS: usize = 2;

type Job = Box<dyn FnOnce(&mut Option<Box<dyn LogReader>>, &LogOpener) + Send>;

/// The queue of reads and the threads that serve it; they end when it is dropped.
pub struct TableReaders {
    jobs: Mutex<mpsc::Sender<Job>>,
}

impl TableReaders {
    pub fn start(open: LogOpener) -> TableReaders {
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for i in 0..READER_THREADS {
            let (receiver, open) = (receiver.clone(), open.clone());
            let spawned = std::thread::Builder::new().name(format!("cashier-reader-{i}")).spawn(move || {
                let mut reader: Option<Box<dyn LogReader>> = None;
                loop {
                    let job = receiver.lock().unwrap_or_else(std::sync::PoisonError::into_inner).recv();
                    match job {
                        Ok(job) => job(&mut reader, &open),
                        Err(_) => return,
                    }
                }
            });
            if let Err(error) = spawned {
                tracing::error!(%error, "cannot start a table reader thread");
            }
        }
        TableReaders { jobs: Mutex::new(sender) }
    }

    /// Runs `read` on a reader thread. A reader that failed is dropped and opened anew next time.
    pub async fn read<T: Send + 'static>(
        &self,
        read: impl FnOnce(&mut dyn LogReader) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |slot, open| {
            let result = match slot.take() {
                Some(reader) => Ok(reader),
                None => open(),
            }
            .and_then(|mut reader| {
                let value = read(reader.as_mut())?;
                *slot = Some(reader);
                Ok(value)
            });
            let _ = answer.send(result);
        });
        self.jobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .send(job)
            .map_err(|_| ApiError::internal("the table readers stopped"))?;
        answered.await.map_err(|_| ApiError::internal("a table reader stopped"))?.map_err(ApiError::internal)
    }
}
