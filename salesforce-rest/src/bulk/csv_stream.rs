//! CSV both ways, streamed: records serialized lazily into upload chunks, and
//! result bodies parsed row by row on a blocking thread that hands typed rows
//! over a bounded queue.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;

use crate::error::Error;
use crate::http::transport_error;

/// The most bytes one job upload may carry (Salesforce's limit is 150 MB).
pub const MAX_UPLOAD_BYTES: u64 = 150 * 1024 * 1024;
const CHUNK: usize = 64 * 1024;
const ROWS_PER_CHUNK: usize = 1_000;
/// Rows handed over at once (one channel send per batch, not per row).
const ROW_BATCH: usize = 256;
/// Batches parsed ahead of the consumer, at most (so 1,024 rows).
const BATCH_QUEUE: usize = 4;
/// Body chunks received ahead of the parser, at most.
const CHUNK_QUEUE: usize = 8;

fn too_large() -> std::io::Error {
    std::io::Error::other(format!(
        "the upload passed {MAX_UPLOAD_BYTES} bytes, Salesforce's limit for one job: split the data over several jobs"
    ))
}

/// An async reader as upload chunks, stopped past [`MAX_UPLOAD_BYTES`].
pub(crate) fn reader_chunks<R>(
    reader: R,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static
where
    R: AsyncRead + Send + Unpin + 'static,
{
    futures_util::stream::unfold((reader, 0u64, false), |(mut r, sent, done)| async move {
        if done {
            return None;
        }
        let mut buf = vec![0u8; CHUNK];
        match r.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) if sent + n as u64 > MAX_UPLOAD_BYTES => {
                Some((Err(too_large()), (r, sent, true)))
            }
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), (r, sent + n as u64, false)))
            }
            Err(e) => Some((Err(e), (r, sent, true))),
        }
    })
}

/// Records as CSV upload chunks of [`ROWS_PER_CHUNK`] rows, serialized as
/// the body is sent; the header comes from the first record's field names.
pub(crate) fn record_chunks<I, T>(
    records: I,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static
where
    I: Iterator<Item = T> + Send + 'static,
    T: Serialize,
{
    let buffer = SharedBuf::default();
    let writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(buffer.clone());
    futures_util::stream::unfold(
        (records, writer, 0u64, false),
        move |(mut records, mut writer, sent, done)| {
            let buffer = buffer.clone();
            async move {
                if done {
                    return None;
                }
                let mut rows = 0;
                for record in records.by_ref() {
                    if let Err(e) = writer.serialize(record) {
                        let e = std::io::Error::other(format!(
                            "a record does not serialize as a CSV row: {e}"
                        ));
                        return Some((Err(e), (records, writer, sent, true)));
                    }
                    rows += 1;
                    if rows == ROWS_PER_CHUNK {
                        break;
                    }
                }
                if let Err(e) = writer.flush() {
                    return Some((Err(e), (records, writer, sent, true)));
                }
                let chunk = buffer.take();
                if chunk.is_empty() {
                    return None;
                }
                let sent = sent + chunk.len() as u64;
                if sent > MAX_UPLOAD_BYTES {
                    return Some((Err(too_large()), (records, writer, sent, true)));
                }
                Some((Ok(Bytes::from(chunk)), (records, writer, sent, false)))
            }
        },
    )
}

/// The CSV writer's output, taken chunk by chunk.
#[derive(Clone, Default)]
struct SharedBuf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl SharedBuf {
    fn take(&self) -> Vec<u8> {
        std::mem::take(
            &mut *self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

impl std::io::Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Typed rows of a CSV result, in order; an error ends the stream.
/// Dropping it stops the download.
#[derive(Debug)]
pub struct Rows<T> {
    rx: mpsc::Receiver<Result<Vec<T>, Error>>,
    ready: std::collections::VecDeque<T>,
}

impl<T> Rows<T> {
    fn new(rx: mpsc::Receiver<Result<Vec<T>, Error>>) -> Self {
        Self {
            rx,
            ready: std::collections::VecDeque::new(),
        }
    }
}

impl<T: Unpin> Stream for Rows<T> {
    type Item = Result<T, Error>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(row) = self.ready.pop_front() {
                return Poll::Ready(Some(Ok(row)));
            }
            match self.rx.poll_recv(cx) {
                Poll::Ready(Some(Ok(batch))) => self.ready = batch.into(),
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// A blocking `Read` over body chunks handed from the async side.
struct ChunkReader {
    rx: mpsc::Receiver<Result<Bytes, Error>>,
    current: Bytes,
    failed: Option<Error>,
}

impl std::io::Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(e)) => {
                    let message = e.to_string();
                    self.failed = Some(e);
                    return Err(std::io::Error::other(message));
                }
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        let head = self.current.split_to(n);
        buf.get_mut(..n)
            .ok_or_else(|| std::io::Error::other("short buffer"))?
            .copy_from_slice(&head);
        Ok(n)
    }
}

type MapRow<T, U> = fn(&HashMap<String, String>, T) -> Option<U>;

/// Parses one CSV body into `out`, on a blocking thread; returns when the
/// body is read, the consumer is gone, or a row fails.
async fn parse_into<T, U>(
    response: reqwest::Response,
    out: mpsc::Sender<Result<Vec<U>, Error>>,
    map: MapRow<T, U>,
) -> bool
where
    T: DeserializeOwned + Send + 'static,
    U: Send + 'static,
{
    let (chunk_tx, chunk_rx) = mpsc::channel::<Result<Bytes, Error>>(CHUNK_QUEUE);
    let parser = tokio::task::spawn_blocking(move || {
        let mut reader = csv::ReaderBuilder::new().from_reader(ChunkReader {
            rx: chunk_rx,
            current: Bytes::new(),
            failed: None,
        });
        let headers = match reader.headers() {
            Ok(h) => h.clone(),
            Err(e) => {
                let _ = out.blocking_send(Err(csv_error(0, &e)));
                return false;
            }
        };
        // `sf__Id`, `sf__Created`, `sf__Error` are Salesforce's; the rest is the row.
        let has_sf = headers.iter().any(|h| h.starts_with("sf__"));
        let ours: Vec<usize> = (0..headers.len())
            .filter(|&i| !headers.get(i).is_some_and(|h| h.starts_with("sf__")))
            .collect();
        let own_headers: csv::StringRecord = ours.iter().filter_map(|&i| headers.get(i)).collect();
        let no_fields = HashMap::new();
        let mut record = csv::StringRecord::new();
        let mut batch = Vec::with_capacity(ROW_BATCH);
        let mut n = 0u64;
        loop {
            let more = match reader.read_record(&mut record) {
                Ok(more) => more,
                Err(e) => {
                    let err = reader
                        .get_mut()
                        .failed
                        .take()
                        .unwrap_or_else(|| csv_error(n + 1, &e));
                    if !batch.is_empty() {
                        let _ = out.blocking_send(Ok(std::mem::take(&mut batch)));
                    }
                    let _ = out.blocking_send(Err(err));
                    return false;
                }
            };
            if !more {
                return batch.is_empty() || out.blocking_send(Ok(batch)).is_ok();
            }
            n += 1;
            let row = if has_sf {
                let fields: HashMap<String, String> = headers
                    .iter()
                    .zip(record.iter())
                    .filter(|(h, _)| h.starts_with("sf__"))
                    .map(|(h, v)| (h.to_owned(), v.to_owned()))
                    .collect();
                let own: csv::StringRecord = ours.iter().filter_map(|&i| record.get(i)).collect();
                own.deserialize::<T>(Some(&own_headers))
                    .map_err(|e| csv_error(n, &e))
                    .map(|t| map(&fields, t))
            } else {
                record
                    .deserialize::<T>(Some(&headers))
                    .map_err(|e| csv_error(n, &e))
                    .map(|t| map(&no_fields, t))
            };
            match row {
                Ok(Some(row)) => batch.push(row),
                Ok(None) => {
                    let _ = out.blocking_send(Err(Error::unexpected(
                        200,
                        format!("result row {n} lacks Salesforce's sf__ columns"),
                        b"",
                    )));
                    return false;
                }
                Err(e) => {
                    if !batch.is_empty() {
                        let _ = out.blocking_send(Ok(std::mem::take(&mut batch)));
                    }
                    let _ = out.blocking_send(Err(e));
                    return false;
                }
            }
            if batch.len() == ROW_BATCH
                && out
                    .blocking_send(Ok(std::mem::replace(
                        &mut batch,
                        Vec::with_capacity(ROW_BATCH),
                    )))
                    .is_err()
            {
                return false;
            }
        }
    });
    let mut response = response;
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if chunk_tx.send(Ok(chunk)).await.is_err() {
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => {
                let _ = chunk_tx.send(Err(transport_error(e))).await;
                break;
            }
        }
    }
    drop(chunk_tx);
    parser.await.unwrap_or(false)
}

fn csv_error(row: u64, e: &csv::Error) -> Error {
    Error::unexpected(
        200,
        format!("result row {row} is not the expected CSV: {e}"),
        b"",
    )
}

/// The rows of one result body.
pub(crate) fn rows<T, U>(response: reqwest::Response, map: MapRow<T, U>) -> Rows<U>
where
    T: DeserializeOwned + Send + 'static,
    U: Send + 'static,
{
    let (tx, rx) = mpsc::channel(BATCH_QUEUE);
    tokio::spawn(parse_into(response, tx, map));
    Rows::new(rx)
}

/// The rows of every page: `fetch(locator)` gives a page and the next
/// page's locator.
pub(crate) fn paged<T, F, Fut>(fetch: F) -> Rows<T>
where
    T: DeserializeOwned + Send + 'static,
    F: Fn(Option<String>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(reqwest::Response, Option<String>), Error>> + Send,
{
    let (tx, rx) = mpsc::channel(BATCH_QUEUE);
    tokio::spawn(async move {
        let mut locator = None;
        loop {
            let (response, next) = match fetch(locator).await {
                Ok(page) => page,
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            };
            if !parse_into(response, tx.clone(), |_, t: T| Some(t)).await {
                return;
            }
            match next {
                Some(n) => locator = Some(n),
                None => return,
            }
        }
    });
    Rows::new(rx)
}
