//! Reading what has already arrived on a socket, without waiting: the
//! bridge handles a wakeup's messages together, then writes once.
//!
//! Not `now_or_never()`: that polls with a no-op waker, which the socket
//! keeps in place of the task's (tokio-tungstenite stores the last waker
//! it was polled with, twice), and the loop's next `select!` puts the
//! task's back: a waker clone and drop per swap, on both sockets, every
//! frame. Polling with the task's own context registers the waker the
//! socket already holds, so nothing changes hands; a `Pending` leaves it
//! registered, as the loop's `select!` would anyway.

use std::future::Future;
use std::task::Poll;

/// `fut`'s output if it is ready at the first poll, else `None` (and `fut`
/// is dropped: use it with cancel-safe futures, such as a stream's `next()`).
pub(super) async fn ready<F: Future>(fut: F) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(|cx| {
        Poll::Ready(match fut.as_mut().poll(cx) {
            Poll::Ready(output) => Some(output),
            Poll::Pending => None,
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;
    use tokio::sync::mpsc;
    use tokio_stream::wrappers::UnboundedReceiverStream;

    use super::*;

    #[tokio::test]
    async fn what_has_arrived_is_read_and_nothing_more_is_waited_for() {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut stream = UnboundedReceiverStream::new(rx);
        assert_eq!(ready(stream.next()).await, None, "nothing sent yet: no wait");
        tx.send(1).unwrap();
        tx.send(2).unwrap();
        assert_eq!(ready(stream.next()).await, Some(Some(1)));
        assert_eq!(ready(stream.next()).await, Some(Some(2)));
        assert_eq!(ready(stream.next()).await, None);
        drop(tx);
        assert_eq!(ready(stream.next()).await, Some(None), "the end of the stream is an answer too");
    }

    #[tokio::test]
    async fn a_pending_read_leaves_the_task_to_be_woken() {
        let (tx, rx) = mpsc::unbounded_channel::<u32>();
        let mut stream = UnboundedReceiverStream::new(rx);
        let task = tokio::spawn(async move {
            assert_eq!(ready(stream.next()).await, None);
            // Wait registering nothing: only the waker `ready` left with the
            // stream can wake the task (with a no-op waker it would sleep on).
            let mut first = true;
            std::future::poll_fn(
                |_| if std::mem::take(&mut first) { Poll::Pending } else { Poll::Ready(()) },
            )
            .await;
            ready(stream.next()).await
        });
        tokio::task::yield_now().await;
        tx.send(7).unwrap();
        let got = tokio::time::timeout(std::time::Duration::from_secs(5), task).await;
        assert_eq!(got.ok().and_then(Result::ok), Some(Some(Some(7))));
    }
}
