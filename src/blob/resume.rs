//! A blob download that survives its connection: when the body breaks off, the blob is asked
//! for again from where it stopped (`Range: bytes=N-`), or, from a server that ignores ranges,
//! from the start with the bytes already delivered skipped. Whoever reads the body sees one
//! unbroken stream, so the size and digest checks around it (and an upload it feeds) carry on
//! as if nothing happened.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http::header::CONTENT_RANGE;
use http::{Response, StatusCode};
use http_body::{Body as HttpBody, Frame, SizeHint};

use crate::error::Error;
use crate::session::layers::retry;
use crate::transport::{error_chain, BoxError, ResponseBody};

/// Asks for the blob again from a byte offset (sending `Range` when the offset is not 0).
pub(crate) type Reopen = Box<dyn Fn(u64) -> ReopenFuture + Send + Sync>;
type ReopenFuture = Pin<Box<dyn Future<Output = Result<Response<ResponseBody>, Error>> + Send>>;

/// A body of `size` bytes that reopens itself up to `retries` times.
pub(crate) struct ResumingBody {
    state: State,
    reopen: Reopen,
    size: u64,
    /// Bytes delivered so far.
    delivered: u64,
    /// Bytes of the current response to drop (a server that answered a range with 200).
    skip: u64,
    retries_left: u32,
    attempt: u32,
}

enum State {
    Streaming(ResponseBody),
    /// The mutex only makes the body `Sync` (as boxed bodies must be); it is reached through
    /// `&mut`, never locked.
    Reopening(std::sync::Mutex<ReopenFuture>, BrokenOff),
    Done,
}

/// A download that broke off: how, and the error that did it, if one did (its source). While
/// it is asked for again this is why; when no attempt is left, it is the body's error, saying
/// how many attempts were made.
#[derive(Debug, Default, thiserror::Error)]
#[error("{}{}", self.told(), self.attempts.map(|n| format!(" (after {n} resumed attempts)")).unwrap_or_default())]
pub(crate) struct BrokenOff {
    why: String,
    #[source]
    cause: Option<BoxError>,
    /// How many times it was asked for again, once it gave up for lack of attempts left.
    attempts: Option<u32>,
}

impl BrokenOff {
    fn new(why: String, cause: Option<BoxError>) -> BrokenOff {
        BrokenOff {
            why,
            cause,
            attempts: None,
        }
    }

    /// `why` and the cause's messages as one line (for a break that a later one follows: the
    /// later error is the cause then).
    fn told(&self) -> String {
        match &self.cause {
            Some(c) => format!("{}: {}", self.why, error_chain(c.as_ref())),
            None => self.why.clone(),
        }
    }
}

impl ResumingBody {
    pub(crate) fn new(body: ResponseBody, size: u64, retries: u32, reopen: Reopen) -> Self {
        ResumingBody {
            state: State::Streaming(body),
            reopen,
            size,
            delivered: 0,
            skip: 0,
            retries_left: retries,
            attempt: 0,
        }
    }

    /// Starts asking again after a break, or gives up with it.
    fn reopen_or_fail(&mut self, mut why: BrokenOff) -> Option<BoxError> {
        if self.retries_left == 0 {
            self.state = State::Done;
            why.attempts = Some(self.attempt);
            return Some(Box::new(why));
        }
        self.retries_left -= 1;
        self.attempt += 1;
        let wait = retry::backoff(self.attempt, None);
        let reopened = (self.reopen)(self.delivered);
        self.state = State::Reopening(
            std::sync::Mutex::new(Box::pin(async move {
                tokio::time::sleep(wait).await;
                reopened.await
            })),
            why,
        );
        None
    }

    /// Takes a fresh response: 206 from our offset continues, 200 restarts with a skip.
    fn resume_with(&mut self, resp: Response<ResponseBody>) -> Result<(), BoxError> {
        let offset = self.delivered;
        match resp.status() {
            StatusCode::PARTIAL_CONTENT => {
                let range = resp.headers().get(CONTENT_RANGE).and_then(|v| v.to_str().ok());
                match range {
                    Some(range) if range.starts_with(&format!("bytes {offset}-")) => {}
                    Some(range) => {
                        return Err(
                            format!("asked to resume at byte {offset}, the server sent the range {range:?}").into(),
                        )
                    }
                    None => {
                        return Err(format!(
                            "asked to resume at byte {offset}, the server answered 206 without a Content-Range"
                        )
                        .into())
                    }
                }
                self.skip = 0;
            }
            StatusCode::OK => self.skip = offset,
            other => return Err(format!("asked to resume at byte {offset}, the server answered {other}").into()),
        }
        self.state = State::Streaming(resp.into_body());
        Ok(())
    }
}

impl HttpBody for ResumingBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        loop {
            match &mut this.state {
                State::Done => return Poll::Ready(None),
                State::Reopening(fut, why) => {
                    let fut = fut.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner);
                    let result = ready!(fut.as_mut().poll(cx));
                    let why = std::mem::take(why);
                    match result {
                        Ok(resp) => {
                            if let Err(e) = this.resume_with(resp) {
                                this.state = State::Done;
                                let why = BrokenOff::new(format!("{}; {e}", why.told()), None);
                                return Poll::Ready(Some(Err(Box::new(why))));
                            }
                        }
                        Err(e) => {
                            let why = BrokenOff::new(format!("{}; resuming", why.told()), Some(Box::new(e)));
                            if let Some(e) = this.reopen_or_fail(why) {
                                return Poll::Ready(Some(Err(e)));
                            }
                        }
                    }
                }
                State::Streaming(body) => match ready!(Pin::new(body).poll_frame(cx)) {
                    Some(Ok(frame)) => {
                        let Ok(mut data) = frame.into_data() else { continue };
                        if this.skip > 0 {
                            let drop = this.skip.min(data.len() as u64);
                            this.skip -= drop;
                            data = data.slice(drop as usize..);
                            if data.is_empty() {
                                continue;
                            }
                        }
                        this.delivered += data.len() as u64;
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                    Some(Err(e)) => {
                        let why = BrokenOff::new(
                            format!("the download broke off after {} bytes", this.delivered),
                            Some(e),
                        );
                        if let Some(e) = this.reopen_or_fail(why) {
                            return Poll::Ready(Some(Err(e)));
                        }
                    }
                    None if this.delivered < this.size => {
                        // A connection closed cleanly but early (no Content-Length framing).
                        let why = BrokenOff::new(
                            format!("the download ended after {} of {} bytes", this.delivered, this.size),
                            None,
                        );
                        if let Some(e) = this.reopen_or_fail(why) {
                            return Poll::Ready(Some(Err(e)));
                        }
                    }
                    None => {
                        this.state = State::Done;
                        return Poll::Ready(None);
                    }
                },
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.size.saturating_sub(self.delivered))
    }
}
