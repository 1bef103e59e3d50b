//! Server streams shared by the roles: a stream fed by a task, and a stream that follows an
//! append-only log from a cursor (the coordinator's notification queues, the node's hits).

use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio_stream::{Stream, StreamExt};
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

/// What [`next_batch`] took from a client stream.
pub struct Batch<T> {
    pub items: Vec<T>,
    /// The stream broke off after `items`: answer them, then stop.
    pub broken: Option<Status>,
}

/// Waits for the next item of a client stream, then takes every item that has already arrived
/// after it, up to `max` in all, so that work can be done (and committed) per batch. `None`
/// when the stream has ended. An error ends the batch.
///
/// While a batch is worked on, nothing reads the stream: HTTP/2 flow control pauses the client
/// once a stream's window is full (see `crate::flow_control`, sized so that this happens before
/// h2's budget for small unread frames runs out). A reader task draining the stream into a
/// queue would not change that bound, only move the backlog into the queue.
pub async fn next_batch<T, S>(input: &mut S, max: usize) -> Option<Batch<T>>
where
    S: Stream<Item = Result<T, Status>> + Unpin,
{
    let mut batch = Batch {
        items: Vec::new(),
        broken: None,
    };
    let mut arrived = Poll::Ready(Some(input.next().await?));
    while let Poll::Ready(Some(item)) = arrived {
        match item {
            Ok(item) => batch.items.push(item),
            Err(status) => {
                batch.broken = Some(status);
                break;
            }
        }
        if batch.items.len() >= max {
            break;
        }
        arrived = std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *input).poll_next(cx))).await;
    }
    Some(batch)
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_stream::wrappers::ReceiverStream;

    #[tokio::test]
    async fn a_batch_is_what_has_arrived_up_to_max_and_ends_at_an_error() {
        let (tx, rx) = mpsc::channel(16);
        let mut input = ReceiverStream::new(rx);
        for i in 0..3 {
            tx.send(Ok(i)).await.expect("receiver alive");
        }
        let ids = |b: Batch<i32>| {
            let mut out: Vec<Option<i32>> = b.items.into_iter().map(Some).collect();
            out.extend(b.broken.map(|_| None));
            out
        };
        assert_eq!(
            next_batch(&mut input, 2).await.map(ids),
            Some(vec![Some(0), Some(1)])
        );
        // Only what has arrived: the third item, not a wait for a fourth.
        assert_eq!(
            next_batch(&mut input, 10).await.map(ids),
            Some(vec![Some(2)])
        );
        tx.send(Ok(3)).await.expect("receiver alive");
        tx.send(Err(Status::cancelled("gone")))
            .await
            .expect("receiver alive");
        tx.send(Ok(4)).await.expect("receiver alive");
        assert_eq!(
            next_batch(&mut input, 10).await.map(ids),
            Some(vec![Some(3), None])
        );
        drop(tx);
        assert_eq!(
            next_batch(&mut input, 10).await.map(ids),
            Some(vec![Some(4)])
        );
        assert!(next_batch(&mut input, 10).await.is_none());
    }
}
