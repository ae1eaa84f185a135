//! Work a copy leaves running when it is dropped: cancelling the upload sessions it had open
//! (a `DELETE` each, so the registry frees the partial blobs). Those requests outlive the copy
//! by design; a program that stops on Ctrl-C waits for them through [`Cleanups::settled`]
//! before it exits, instead of leaving the sessions to the registry's purge.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

/// The cleanups one client has in flight. Cheap to clone; clones count together.
///
/// ```no_run
/// # async fn demo(client: irel::Client) {
/// let cleanups = client.cleanups();
/// // … a copy is dropped half-way (Ctrl-C) …
/// let _ = tokio::time::timeout(std::time::Duration::from_millis(1500), cleanups.settled()).await;
/// # }
/// ```
#[derive(Clone, Default, Debug)]
pub struct Cleanups {
    inner: Arc<Inner>,
}

#[derive(Default, Debug)]
struct Inner {
    pending: AtomicUsize,
    settled: Notify,
}

/// One cleanup in flight, counted by its [`Cleanups`] until this is dropped.
#[derive(Debug)]
pub(crate) struct CleanupGuard(Arc<Inner>);

impl Cleanups {
    /// Counts a cleanup from now until the guard is dropped.
    pub(crate) fn enter(&self) -> CleanupGuard {
        self.inner.pending.fetch_add(1, Ordering::SeqCst);
        CleanupGuard(self.inner.clone())
    }

    /// How many cleanups are in flight.
    pub fn pending(&self) -> usize {
        self.inner.pending.load(Ordering::SeqCst)
    }

    /// Resolves once no cleanup is in flight.
    pub async fn settled(&self) {
        loop {
            // Created before the check, so a cleanup ending in between still wakes it.
            let notified = self.inner.settled.notified();
            if self.pending() == 0 {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for CleanupGuard {
    fn drop(&mut self) {
        if self.0.pending.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.settled.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn settles_when_the_last_cleanup_ends() {
        let cleanups = Cleanups::default();
        cleanups.settled().await;
        let (a, b) = (cleanups.enter(), cleanups.enter());
        assert_eq!(cleanups.pending(), 2);
        let waiter = tokio::spawn({
            let c = cleanups.clone();
            async move { c.settled().await }
        });
        drop(a);
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(b);
        tokio::time::timeout(std::time::Duration::from_secs(1), waiter)
            .await
            .expect("settled")
            .unwrap();
    }
}
