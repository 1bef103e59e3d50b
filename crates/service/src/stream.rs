//! Server streams shared by the roles: a stream fed by a task, and a stream that follows an
//! append-only log from a cursor (the coordinator's notification queues, the node's hits).

use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio_stream::Stream;
use tonic::Status;

pub type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// A server stream fed by a task; the task ends when the client goes away.
pub fn spawn_stream<T, F, Fut>(body: F) -> BoxStream<T>
where
    T: Send + 'static,
    F: FnOnce(mpsc::Sender<Result<T, Status>>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(body(tx));
    Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))
}

/// Parses a cursor this role issued; empty means "from the start".
pub fn parse_cursor(cursor: &str, field: &str) -> Result<i64, Status> {
    if cursor.is_empty() {
        return Ok(0);
    }
    cursor
        .parse::<i64>()
        .ok()
        .filter(|c| *c >= 0)
        .ok_or_else(|| Status::invalid_argument(format!("{field}: not a cursor this role issued")))
}

/// Follows a log after `cursor`: sends every entry `fetch(after, page)` returns, then waits for
/// `published` to move (or polls every 5 s in case a wake-up was missed). `position` gives an
/// entry's own cursor.
pub fn follow<T, E, F, Fut>(
    mut cursor: i64,
    mut published: watch::Receiver<i64>,
    page: i64,
    mut fetch: F,
    position: fn(&T) -> Option<i64>,
) -> BoxStream<T>
where
    T: Send + 'static,
    E: Display + Send,
    F: FnMut(i64, i64) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Vec<T>, E>> + Send,
{
    spawn_stream(move |tx| async move {
        loop {
            let batch = match fetch(cursor, page).await {
                Ok(batch) => batch,
                Err(e) => {
                    tracing::error!(error = %e, "reading a followed log failed");
                    let _ = tx
                        .send(Err(Status::unavailable(
                            "temporarily unavailable; reconnect",
                        )))
                        .await;
                    return;
                }
            };
            let full = i64::try_from(batch.len()).unwrap_or(i64::MAX) >= page;
            for entry in batch {
                cursor = position(&entry).unwrap_or(cursor);
                if tx.send(Ok(entry)).await.is_err() {
                    return;
                }
            }
            if !full {
                let _ = tokio::time::timeout(Duration::from_secs(5), published.changed()).await;
            }
        }
    })
}
