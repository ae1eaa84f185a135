//! Stopping on Ctrl-C or SIGTERM without leaving anything behind, within two seconds.
//!
//! The signals are taken from the first instant of the process (so an early Ctrl-C, during a
//! bundle's decompression, is handled too) by one watcher task. On a signal it:
//! 1. says so, and wakes [`block_on`], which drops the command's work: the copy engine's tasks
//!    are aborted, their temporary files and directories removed as they are dropped, and each
//!    open upload session gets a cancelling `DELETE` (counted by the clients' [`Cleanups`]);
//! 2. waits for those cancellations, 1.5 s at most;
//! 3. removes this run's private temporary directory, where everything irel puts under
//!    `$TMPDIR` lives (an extraction still running in a blocking thread included);
//! 4. exits with status 130.
//!
//! A run killed without a chance to clean up (SIGKILL, power loss) leaves its directory; the
//! next run removes every such directory whose owner no longer holds its lock
//! ([`LockedDir`]).

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use irel::copy::Cleanups;
use irel::layout::locked_dir::LockedDir;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::Notify;

use super::Failure;

/// Exit status after an interrupt (128 + SIGINT), as shells report it.
const INTERRUPTED: i32 = 130;
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
/// A daemon waits between runs: a signal then ends the wait instead of the process.
const IDLE: u8 = 1;
/// A signal came while idle: the daemon ends normally, with its own exit status.
const ENDING: u8 = 2;
/// A signal came while work was under way: the work is dropped and the watcher exits.
const STOPPING: u8 = 3;
static STOP: Notify = Notify::const_new();
static CLEANUPS: Mutex<Vec<Cleanups>> = Mutex::new(Vec::new());
static RUN_DIR: Mutex<Option<LockedDir>> = Mutex::new(None);

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

/// Removes this run's temporary directory (at the end of a run that was not interrupted).
pub(super) fn finish() {
    drop(RUN_DIR.lock().ok().and_then(|mut d| d.take()));
}

/// Counts `cleanups` among those an interrupt waits for.
pub(super) fn track(cleanups: Cleanups) {
    if let Ok(mut all) = CLEANUPS.lock() {
        all.push(cleanups);
    }
}

/// Runs `work` to its end, or until a signal: then `work` is dropped here (its tasks are
/// aborted and their guards run) and this never returns; the watcher ends the process.
/// Stopping mid-copy is safe: tags are written last, so an interrupted copy never leaves a
/// tag on an incomplete image, and a rerun sends only the blobs that are still missing.
pub(super) fn block_on<F: std::future::Future>(work: F) -> F::Output {
    let runtime = RUNTIME.get().expect("interrupt::install ran first");
    runtime.block_on(async {
        let stopped = async {
            let notified = STOP.notified();
            if STATE.load(Ordering::SeqCst) != STOPPING {
                notified.await;
            }
        };
        tokio::select! {
            done = work => done,
            () = stopped => std::future::pending().await,
        }
    })
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

pub(super) fn runtime() -> Result<Runtime, Failure> {
    Ok(Runtime)
}

/// Runs the command's async work (see [`block_on`]: Ctrl-C and SIGTERM stop it).
pub(super) struct Runtime;

impl Runtime {
    pub(super) fn block_on<F: std::future::Future>(&self, work: F) -> F::Output {
        block_on(work)
    }
}

async fn watch(mut interrupt: tokio::signal::unix::Signal, mut terminate: tokio::signal::unix::Signal) {
    loop {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        // Idle between a daemon's runs: end the wait; the daemon ends by itself. The watcher
        // stays, so a later signal (the daemon slow to end) still stops the process.
        if STATE
            .compare_exchange(IDLE, ENDING, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            STOP.notify_waiters();
            continue;
        }
        break;
    }
    STATE.store(STOPPING, Ordering::SeqCst);
    super::progress::clear();
    errln!("irel: interrupted; cancelling what was under way (nothing further is written; rerun to finish)");
    STOP.notify_waiters();
    // The aborted tasks are dropped by the runtime's workers; give them a moment to start
    // their cancellations, then wait for those.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let all: Vec<Cleanups> = CLEANUPS.lock().map(|c| c.clone()).unwrap_or_default();
    let settled = futures_settled(all);
    let _ = tokio::time::timeout(CLEANUP_GRACE, settled).await;
    finish();
    std::process::exit(INTERRUPTED);
}

async fn futures_settled(all: Vec<Cleanups>) {
    for cleanups in all {
        cleanups.settled().await;
    }
}
