//! Stopping on Ctrl-C or SIGTERM without leaving anything behind, within two seconds.
//!
//! The signals are taken from the first instant of the process (so an early Ctrl-C, during a
//! bundle's decompression, is handled too) by one watcher task. On the first signal it takes
//! the progress bars down, says so once, and wakes [`block_on`], which gives up the command's
//! work and returns [`Interrupted`]. Nothing ends the process from inside; instead:
//! 1. the work future is dropped in [`block_on`]: the copy engine's tasks are aborted, their
//!    temporary files and directories removed as they are dropped, and each open upload
//!    session gets a cancelling `DELETE` (counted by the clients' [`Cleanups`]);
//! 2. the command passes [`Interrupted`] up like a failure, so every guard on the way up runs
//!    too (a layout that `layout add` created is removed again, as when it fails);
//! 3. `main` sees [`stopped`], waits for the cancellations ([`settle`], 1.5 s at most), removes
//!    this run's private temporary directory ([`finish`]), where everything irel puts under
//!    `$TMPDIR` lives (an extraction still running in a blocking thread included), and
//!    returns 130.
//!
//! A second signal ends the process at once, as people who press Ctrl-C twice expect. A run
//! killed without a chance to clean up (that, SIGKILL, power loss) leaves its directory; the
//! next run removes every such directory whose owner no longer holds its lock ([`LockedDir`]).

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use irel::copy::Cleanups;
use irel::layout::locked_dir::LockedDir;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::Notify;

use super::failure::INTERRUPTED;
use super::Failure;

/// How long upload cancellations may take before irel exits anyway.
const CLEANUP_GRACE: Duration = Duration::from_millis(1500);
/// The names of runs' private temporary directories under `$TMPDIR`.
const RUN_DIR_PREFIX: &str = "irel-run-";

static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
/// Where the run is; changed by compare-and-swap, so that the watcher and a daemon waking up
/// never both decide what a signal means.
static STATE: AtomicU8 = AtomicU8::new(RUNNING);
/// Work under way (or nothing yet).
const RUNNING: u8 = 0;
/// A daemon waits between runs: a signal then ends the wait instead of the work.
const IDLE: u8 = 1;
/// A signal came while idle: the daemon ends normally, with its own exit status.
const ENDING: u8 = 2;
/// A signal came while work was under way: the work is given up, and the run ends with 130.
const STOPPING: u8 = 3;
static STOP: Notify = Notify::const_new();
static CLEANUPS: Mutex<Vec<Cleanups>> = Mutex::new(Vec::new());
static RUN_DIR: Mutex<Option<LockedDir>> = Mutex::new(None);

/// The command's work was given up on Ctrl-C or SIGTERM. It travels up to `main` as a
/// [`Failure`] does, but is not one: the watcher has said so already, and the exit status is
/// 130.
#[derive(Debug)]
pub(super) struct Interrupted;

/// Starts the runtime and the signal watcher, and gives this run its private temporary
/// directory (removing those of dead runs first). Called once, before anything else.
pub(super) fn install() -> Result<(), Failure> {
    if let Ok(dir) = LockedDir::new_in(&std::env::temp_dir(), RUN_DIR_PREFIX) {
        // The library and tempfile take $TMPDIR; set before any other thread exists.
        std::env::set_var("TMPDIR", dir.path());
        *RUN_DIR.lock().expect("run dir") = Some(dir);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    // Registered now, in the runtime's context: from here on the signals are irel's.
    let (interrupt, terminate) = runtime.block_on(async {
        Ok::<_, std::io::Error>((signal(SignalKind::interrupt())?, signal(SignalKind::terminate())?))
    })?;
    runtime.spawn(watch(interrupt, terminate));
    let _ = RUNTIME.set(runtime);
    Ok(())
}

/// Removes this run's temporary directory, at the end of every run.
pub(super) fn finish() {
    drop(RUN_DIR.lock().ok().and_then(|mut d| d.take()));
}

/// Counts `cleanups` among those an interrupt waits for.
pub(super) fn track(cleanups: Cleanups) {
    if let Ok(mut all) = CLEANUPS.lock() {
        all.push(cleanups);
    }
}

/// Whether Ctrl-C or SIGTERM stopped the work: the run then ends with 130, whatever the
/// command returned.
pub(super) fn stopped() -> bool {
    STATE.load(Ordering::SeqCst) == STOPPING
}

/// Runs `work` to its end, or until a signal: then `work` is dropped here (its tasks are
/// aborted and their guards run) and the caller gets [`Interrupted`] to pass up. After a
/// signal no work starts again: every later call returns [`Interrupted`] at once.
/// Stopping mid-copy is safe: tags are written last, so an interrupted copy never leaves a
/// tag on an incomplete image, and a rerun sends only the blobs that are still missing.
pub(super) fn block_on<F: std::future::Future>(work: F) -> Result<F::Output, Interrupted> {
    let runtime = RUNTIME.get().expect("interrupt::install ran first");
    runtime.block_on(async {
        let signalled = async {
            let notified = STOP.notified();
            if !stopped() {
                notified.await;
            }
        };
        tokio::select! {
            // A signal wins over work that is ready in the same instant: nothing further is
            // written once the watcher has said so.
            biased;
            () = signalled => Err(Interrupted),
            done = work => Ok(done),
        }
    })
}

/// [`block_on`] for work that is not a future (a bundle's decompression, a read from
/// stdin): it runs on a blocking thread, so that a signal gives it up too. The thread itself
/// cannot be stopped; it ends with the process, its files with this run's directory.
pub(super) fn block_on_blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Interrupted> {
    // Spawned from inside the runtime, which a blocking task needs.
    match block_on(async { tokio::task::spawn_blocking(work).await })? {
        Ok(done) => Ok(done),
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// Waits until `deadline` between a daemon's runs; `false` when Ctrl-C or SIGTERM came first
/// (nothing is under way then, so the caller ends normally, with its own exit status).
pub(super) fn idle_until(deadline: tokio::time::Instant) -> bool {
    let runtime = RUNTIME.get().expect("interrupt::install ran first");
    runtime.block_on(async {
        let notified = STOP.notified();
        if STATE
            .compare_exchange(RUNNING, IDLE, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return false;
        }
        tokio::select! {
            () = tokio::time::sleep_until(deadline) => {}
            () = notified => {}
        }
        // Back to work, unless the watcher took the signal while idle (then it is ENDING).
        STATE
            .compare_exchange(IDLE, RUNNING, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    })
}

/// After a signal: waits for the upload cancellations the dropped work started, for
/// [`CLEANUP_GRACE`] at most (a registry that does not answer must not hold up the exit).
pub(super) fn settle() {
    let Some(runtime) = RUNTIME.get() else { return };
    runtime.block_on(async {
        // The aborted tasks are dropped by the runtime's workers, not at once; give them a
        // moment to start their cancellations, then wait for those.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let all: Vec<Cleanups> = CLEANUPS.lock().map(|c| c.clone()).unwrap_or_default();
        let _ = tokio::time::timeout(CLEANUP_GRACE, futures_settled(all)).await;
    });
}

async fn watch(mut interrupt: tokio::signal::unix::Signal, mut terminate: tokio::signal::unix::Signal) {
    loop {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        // Idle between a daemon's runs: end the wait; the daemon ends by itself. A later
        // signal (the daemon slow to end) stops it as work under way.
        if STATE
            .compare_exchange(IDLE, ENDING, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            STOP.notify_waiters();
            continue;
        }
        if STATE.swap(STOPPING, Ordering::SeqCst) == STOPPING {
            // The second: whoever presses Ctrl-C again does not want to wait for the cleanup.
            std::process::exit(INTERRUPTED.into());
        }
        super::progress::clear();
        errln!("irel: interrupted; cancelling what was under way (nothing further is written; rerun to finish)");
        STOP.notify_waiters();
    }
}

async fn futures_settled(all: Vec<Cleanups>) {
    for cleanups in all {
        cleanups.settled().await;
    }
}
