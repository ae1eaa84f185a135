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

use std::sync::atomic::{AtomicBool, Ordering};
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
static STOPPING: AtomicBool = AtomicBool::new(false);
static STOP: Notify = Notify::const_new();
/// Set while a daemon waits between runs: a signal then ends the wait instead of the process.
static IDLE: AtomicBool = AtomicBool::new(false);
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
            if !STOPPING.load(Ordering::SeqCst) {
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
        IDLE.store(true, Ordering::SeqCst);
        let reached = if STOPPING.load(Ordering::SeqCst) {
            false
        } else {
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => true,
                () = notified => false,
            }
        };
        IDLE.store(false, Ordering::SeqCst);
        reached && !STOPPING.load(Ordering::SeqCst)
    })
}

async fn watch(mut interrupt: tokio::signal::unix::Signal, mut terminate: tokio::signal::unix::Signal) {
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
    if IDLE.load(Ordering::SeqCst) {
        STOPPING.store(true, Ordering::SeqCst);
        STOP.notify_waiters();
        return;
    }
    super::progress::clear();
    errln!("irel: interrupted; cancelling what was under way (nothing further is written; rerun to finish)");
    STOPPING.store(true, Ordering::SeqCst);
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
