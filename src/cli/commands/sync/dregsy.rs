//! `irel sync --config FILE`: a dregsy configuration run as dregsy runs it. The whole file is
//! validated first; then the one-off tasks run in file order, then the periodic ones (each
//! once at start, then every `interval` seconds until Ctrl-C or SIGTERM; `--once` stops after
//! the first round). A failed task does not stop the others; the exit status is 1 when any
//! task's last run failed.

use std::path::Path;
use std::time::Duration;

use irel::sync::tasks::{Runner, SyncConfig, TaskReport, TaskState, ValidTask};
use irel::sync::ItemOutcome;

use crate::cli::args::SyncArgs;
use crate::cli::client::{base_builder, copy_options, finish_client};
use crate::cli::hints::{explain_in, Terms};
use crate::cli::interrupt::{self, block_on, Interrupted};
use crate::cli::{output, Cli, Failure};

pub(super) fn run_config(cli: &Cli, args: &SyncArgs, path: &Path) -> Result<(), Failure> {
    let flags = [
        (args.no_scope, "--no-scope"),
        (cli.flags.creds.is_some(), "--creds"),
        (args.src_creds.is_some(), "--src-creds"),
        (args.dest_creds.is_some(), "--dest-creds"),
        (args.src_tls_verify.is_some(), "--src-tls-verify"),
        (args.dest_tls_verify.is_some(), "--dest-tls-verify"),
        (args.src_cert_dir.is_some(), "--src-cert-dir"),
        (args.dest_cert_dir.is_some(), "--dest-cert-dir"),
    ];
    if let Some((_, flag)) = flags.iter().find(|(given, _)| *given) {
        return Err(Failure::usage(format!(
            "sync --config: {flag} does not apply; a task's source and target settings (auth, skip-tls-verify) come from the file"
        )));
    }
    let config = SyncConfig::load(path)
        .and_then(|c| c.validate())
        .map_err(|e| Failure::new(e.to_string()))?;
    let selected = match args.run_tasks.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        None => None,
        Some(r) => Some(
            irel::sync::tasks::goregex::Filter::new(r)
                .map_err(|e| Failure::usage(format!("--run {r:?}: invalid task filter: {e}")))?,
        ),
    };
    for note in &config.notes {
        errln!("irel: note: {note}");
    }
    // Each task has a client per side: a source and a target on one registry may hold
    // different credentials, as with dregsy.
    let mut tasks = Vec::new();
    for task in &config.tasks {
        if selected.as_ref().is_some_and(|f| !f.matches(&task.name)) {
            continue;
        }
        let source = finish_client(cli, task.source_client(base_builder(cli)?)?)?;
        let target = finish_client(cli, task.target_client(base_builder(cli)?)?)?;
        tasks.push((task, source, target, TaskState::default()));
    }
    let options = copy_options(cli).referrers(args.referrers);
    // dregsy: one-off tasks first, in file order, then every periodic task fires once.
    let mut order: Vec<usize> = (0..tasks.len()).filter(|&i| tasks[i].0.interval == 0).collect();
    order.extend((0..tasks.len()).filter(|&i| tasks[i].0.interval > 0));
    let mut failed = vec![false; tasks.len()];
    // Each run blocks on the runtime anew: after a signal it returns at once, and the
    // daemon ends instead of starting the next task.
    let mut run_one =
        |i: usize, tasks: &mut Vec<(&ValidTask, irel::Client, irel::Client, TaskState)>| -> Result<(), Interrupted> {
            let (task, source, target, state) = &mut tasks[i];
            let runner = Runner {
                source: source.registry(),
                target: target.registry(),
                jobs: args.jobs,
                options: &options,
                dry_run: args.dry_run,
            };
            let report = block_on(task.run(&runner, state))?;
            failed[i] = report.failed();
            print_report(cli, task, &report, args.dry_run);
            Ok(())
        };
    for &i in &order {
        run_one(i, &mut tasks)?;
    }
    let periodic: Vec<usize> = order.iter().copied().filter(|&i| tasks[i].0.interval > 0).collect();
    if !(args.once || args.dry_run || periodic.is_empty()) {
        let start = tokio::time::Instant::now();
        let mut due: Vec<_> = periodic
            .iter()
            .map(|&i| start + Duration::from_secs(tasks[i].0.interval))
            .collect();
        loop {
            let (k, &when) = due
                .iter()
                .enumerate()
                .min_by_key(|(_, w)| **w)
                .expect("a periodic task");
            if !interrupt::idle_until(when) {
                break;
            }
            let i = periodic[k];
            run_one(i, &mut tasks)?;
            // As dregsy's ticker: ticks missed during a long run are dropped, and one less
            // than half an interval after the run ended is skipped.
            let every = Duration::from_secs(tasks[i].0.interval);
            let now = tokio::time::Instant::now();
            let mut next = when + every;
            while next < now + every / 2 {
                next += every;
            }
            due[k] = next;
        }
    }
    let bad: Vec<&str> = (0..tasks.len())
        .filter(|&i| failed[i])
        .map(|i| tasks[i].0.name.as_str())
        .collect();
    if bad.is_empty() {
        Ok(())
    } else {
        Err(Failure::new(format!(
            "{} of {} tasks had errors: {}",
            bad.len(),
            tasks.len(),
            bad.join(", ")
        )))
    }
}

fn print_report(cli: &Cli, task: &ValidTask, report: &TaskReport, dry_run: bool) {
    let name = &task.name;
    for e in &report.errors {
        if cli.flags.json {
            outln!("{}", serde_json::json!({"task": name, "error": e}));
        } else {
            errln!("irel: {e}");
        }
    }
    for w in &report.warnings {
        if cli.flags.json {
            outln!("{}", serde_json::json!({"task": name, "warning": w}));
        } else {
            errln!("irel: warning: {w}");
        }
    }
    for (from, to) in &report.planned {
        outln!("{from} -> {to}");
    }
    for (from, to, outcome) in &report.items {
        if cli.flags.json {
            let line = match outcome {
                ItemOutcome::Copied(r) => {
                    serde_json::json!({"task": name, "from": from, "to": to, "outcome": "copied", "report": r})
                }
                ItemOutcome::Skipped(r) => {
                    serde_json::json!({"task": name, "from": from, "to": to, "outcome": "skipped", "report": r})
                }
                ItemOutcome::Failed(e) => {
                    serde_json::json!({"task": name, "from": from, "to": to, "outcome": "failed", "error": explain_in(e, Terms::TaskFile)})
                }
                ItemOutcome::NotRun => serde_json::json!({"task": name, "from": from, "to": to, "outcome": "not-run"}),
            };
            outln!("{line}");
            continue;
        }
        match outcome {
            ItemOutcome::Copied(r) => outln!(
                "copied {from} to {to} with content digest {}",
                r.digest.as_ref().map(|d| d.to_string()).unwrap_or_default()
            ),
            ItemOutcome::Skipped(_) => outln!("skipped {from}: {to} is up to date"),
            ItemOutcome::Failed(e) => errln!(
                "irel: task '{name}': failed to sync {from} to {to}: {}",
                explain_in(e, Terms::TaskFile)
            ),
            // A task goes on past failures (as dregsy's relays do): nothing is left unrun.
            ItemOutcome::NotRun => {}
        }
    }
    let count = |f: fn(&ItemOutcome) -> bool| report.items.iter().filter(|(_, _, o)| f(o)).count();
    let copied = count(|o| matches!(o, ItemOutcome::Copied(_)));
    let skipped = count(|o| matches!(o, ItemOutcome::Skipped(_)));
    let failed = count(|o| matches!(o, ItemOutcome::Failed(_)));
    let bytes: u64 = report
        .items
        .iter()
        .map(|(_, _, o)| match o {
            ItemOutcome::Copied(r) | ItemOutcome::Skipped(r) => r.bytes_copied,
            ItemOutcome::Failed(_) | ItemOutcome::NotRun => 0,
        })
        .sum();
    if cli.flags.json {
        outln!(
            "{}",
            serde_json::json!({"summary": {"task": name, "copied": copied, "skipped": skipped,
                "failed": failed, "errors": report.errors.len(), "bytes": bytes, "planned": report.planned.len(),
                "invalid_names": report.warnings.len()}})
        );
    } else {
        let mut errors = match report.errors.len() {
            0 => String::new(),
            n => format!(", {n} errors"),
        };
        if !report.warnings.is_empty() {
            errors += &format!(", {} invalid names skipped", report.warnings.len());
        }
        if dry_run {
            outln!("sync (dry run): task '{name}': {} images{errors}", report.planned.len());
            return;
        }
        outln!(
            "sync task '{name}': {copied} copied, {skipped} skipped, {failed} failed, {} transferred{errors}",
            output::shown_bytes(bytes)
        );
    }
}
