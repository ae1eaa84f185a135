//! `irel sync`: mirrors images registry to registry, registry to `dir:`, `dir:` or OCI layout
//! to registry, from a skopeo source file, or as dregsy tasks ([`dregsy`]). Locations are
//! read in irel's spelling or skopeo's ([`skopeo`]), checked before any request, planned, then
//! copied with each image reported as it ends.

use std::path::PathBuf;

use irel::auth::CredentialSource as _;
use irel::Reference;

use crate::cli::args::SyncArgs;
use crate::cli::client::{base_builder, copy_options, credential, finish_client};
use crate::cli::hints::explain;
use crate::cli::interrupt::block_on;
use crate::cli::operands::bare_registry_advice;
use crate::cli::{output, Cli, Failure};

pub(crate) mod dregsy;
pub(crate) mod skopeo;

pub(crate) fn run(cli: &Cli, args: &SyncArgs) -> Result<(), Failure> {
    use irel::sync::{Naming, SourceDefaults, SourceYaml, SyncPlan, Target};
    let request = sync_request(args)?;
    if let Some(path) = &args.config {
        return dregsy::run_config(cli, args, path);
    }
    check_sync_locations(&request)?;
    let endpoints = &request.endpoints;
    let sk = &args.skopeo;
    let mut builder = base_builder(cli)?;
    let mut creds = irel::auth::StaticCredentials::default();
    let (src_host, dst_host) = match (endpoints.len(), &request.yaml) {
        (2, _) => (registry_host(&endpoints[0]), registry_host(&endpoints[1])),
        (1, Some(_)) => (None, registry_host(&endpoints[0])),
        _ => (None, None),
    };
    let src_credential = skopeo::side_credential(
        "src",
        args.src_creds.as_deref(),
        sk.src_username.as_deref(),
        sk.src_password.as_deref(),
        sk.src_registry_token.as_deref(),
    )
    .map_err(Failure::usage)?;
    let dest_credential = skopeo::side_credential(
        "dest",
        args.dest_creds.as_deref(),
        sk.dest_username.as_deref(),
        sk.dest_password.as_deref(),
        sk.dest_registry_token.as_deref(),
    )
    .map_err(Failure::usage)?;
    let src_verify = args.src_tls_verify.or(sk.tls_verify);
    let dest_verify = args.dest_tls_verify.or(sk.tls_verify);
    let sides = [
        (
            &src_host,
            &src_credential,
            src_verify,
            &args.src_cert_dir,
            "--src-cert-dir",
        ),
        (
            &dst_host,
            &dest_credential,
            dest_verify,
            &args.dest_cert_dir,
            "--dest-cert-dir",
        ),
    ];
    for (host, credential, verify, cert_dir, cert_flag) in sides {
        let Some(host) = host else {
            if cert_dir.is_some() && request.yaml.is_some() && cert_flag == "--src-cert-dir" {
                errln!("irel: warning: {cert_flag} does not apply to a source file's registries (as in skopeo); give each registry its cert-dir");
            }
            continue;
        };
        if let Some(dir) = cert_dir {
            builder = builder.cert_dir(host, dir)?;
        }
        match verify {
            Some(false) => builder = builder.insecure_registry(host),
            Some(true) => builder = builder.secure_registry(host),
            None => {}
        }
        if let Some(c) = credential {
            creds.insert(host, c.clone());
        }
    }
    for path in [&sk.src_authfile, &sk.dest_authfile].into_iter().flatten() {
        builder = builder.credentials(irel::auth::ContainersAuth::load(path)?);
    }
    let yaml = request.yaml.as_deref().map(SourceYaml::load).transpose()?;
    if let Some(y) = &yaml {
        let defaults = SourceDefaults {
            tls_verify: src_verify,
            credential: src_credential.clone(),
        };
        let (b, yaml_creds) = y.configure(builder, &defaults)?;
        builder = b.credentials(yaml_creds);
    }
    // --creds: for the registries the command names (both sides), where no side's flag gave one.
    if let Some(c) = &cli.flags.creds {
        for (host, side) in [(&src_host, &src_credential), (&dst_host, &dest_credential)] {
            if let (Some(host), None) = (host, side) {
                if creds.credential(host).is_none() {
                    creds.insert(host, credential("--creds", c)?);
                }
            }
        }
    }
    let client = finish_client(cli, builder.credentials(creds))?;
    let naming = match (sk.scoped, args.no_scope, request.skopeo) {
        (true, _, _) => Naming::Scoped,
        (_, true, _) | (_, _, true) => Naming::Base,
        _ => Naming::HostScoped,
    };
    let destination = endpoints.last().cloned();
    let target = || -> Result<Target, irel::Error> {
        let endpoint = destination.clone().expect("a destination unless --config");
        let mut t = Target::new(endpoint)?;
        if request.skopeo {
            t = t.refusing_existing_dirs();
        }
        if let Some(suffix) = &sk.append_suffix {
            t = t.with_tag_suffix(suffix);
        }
        Ok(t)
    };
    let plan = block_on(async {
        match &yaml {
            Some(y) => SyncPlan::from_yaml(client.registry(), y, &target()?, naming).await,
            None => SyncPlan::from_endpoint(client.registry(), &endpoints[0], &target()?, naming).await,
        }
    })??;
    for w in &plan.warnings {
        errln!("irel: warning: {w}");
    }
    let mut plan = plan;
    if args.referrers {
        plan.skip_referrer_indexes();
    }
    let dir = |p: &irel::sync::Place| matches!(p, irel::sync::Place::Dir(_));
    if let Some(item) = plan
        .items
        .iter()
        .find(|i| args.referrers && (dir(&i.source) || dir(&i.destination)))
    {
        return Err(Failure::new(format!(
            "sync --referrers: a dir: tree holds no referrers ({} -> {}); drop --referrers, or use oci: layouts",
            item.from, item.to
        )));
    }
    if args.dry_run && cli.flags.json {
        for item in &plan.items {
            outln!(
                "{}",
                serde_json::json!({"from": item.from, "to": item.to, "outcome": "planned"})
            );
        }
        outln!(
            "{}",
            serde_json::json!({"summary": {"planned": plan.items.len(), "invalid_names": plan.invalid_names, "dry_run": true}})
        );
        return Ok(());
    }
    if args.dry_run {
        for item in &plan.items {
            outln!("{} -> {}", item.from, item.to);
        }
        match plan.invalid_names {
            0 => outln!("sync (dry run): {} images", plan.items.len()),
            n => outln!("sync (dry run): {} images, {n} invalid names skipped", plan.items.len()),
        }
        if request.skopeo {
            // skopeo's own summary, for scripts that read it.
            outln!(
                "Would have synced {} images from {} sources",
                plan.items.len(),
                plan.sources
            );
        }
        return Ok(());
    }
    let keep_going = !request.skopeo || sk.keep_going;
    let options = copy_options(cli).referrers(args.referrers);
    let report = block_on(
        client.sync_observed(&plan, args.jobs, &options, keep_going, |item, outcome| {
            report_sync_item(cli, &item.from, &item.to, outcome)
        }),
    )?;
    report_sync(cli, &plan, &report);
    if let Some(path) = &sk.digestfile {
        write_digestfile(path, &report)?;
    }
    if report.failed() > 0 {
        let stopped = match report.not_run() {
            0 => String::new(),
            n => format!("; stopped at the first failure, {n} not tried (--keep-going goes on past failures)"),
        };
        return Err(Failure::new(format!(
            "{} of {} images failed to sync{stopped}",
            report.failed(),
            report.items.len()
        )));
    }
    Ok(())
}

/// What `irel sync` was asked: the source (a location, a source file or tasks), the
/// destination, and how names and failures go.
struct SyncRequest {
    endpoints: Vec<irel::sync::Endpoint>,
    yaml: Option<PathBuf>,
    /// skopeo's spelling (`--src`/`--dest`): skopeo's naming default, no image directory
    /// overwritten, stop at the first failure unless --keep-going.
    skopeo: bool,
}

/// Reads the locations as irel's spelling (`docker://…`, `dir:…`) or skopeo's (`--src T --dest T`
/// with bare locations).
fn sync_request(args: &SyncArgs) -> Result<SyncRequest, Failure> {
    use irel::sync::Endpoint;
    let sk = &args.skopeo;
    if let Some((flag, why)) = sk.refused.first() {
        return Err(Failure::usage(format!(
            "sync {flag}: irel does not take this skopeo flag: {why}"
        )));
    }
    match (sk.src, sk.dest) {
        (None, None) => {}
        (Some(_), None) => {
            return Err(Failure::usage(
                "sync --src: give --dest docker|dir too (skopeo's spelling names both transports)",
            ))
        }
        (None, Some(_)) => {
            return Err(Failure::usage(
                "sync --dest: give --src docker|dir|yaml too (skopeo's spelling names both transports)",
            ))
        }
        (Some(src), Some(dest)) => {
            if args.config.is_some() || args.source_yaml.is_some() {
                return Err(Failure::usage(
                    "sync --src/--dest: --config and --source-yaml are irel's spelling; with skopeo's, write --src yaml FILE DST",
                ));
            }
            if args.locations.len() != 2 {
                return Err(Failure::usage(format!(
                    "sync --src/--dest: exactly two arguments expected (SRC DST), got {}",
                    args.locations.len()
                )));
            }
            let destination = skopeo::destination_endpoint(dest, &args.locations[1]).ok_or_else(|| {
                Failure::usage("sync --dest oci: irel reads OCI layouts as a sync source only; sync to docker or dir")
            })?;
            if src == skopeo::SrcTransport::Dir && dest == skopeo::DestTransport::Dir {
                return Err(Failure::usage(
                    "sync from 'dir' to 'dir' is not a sync: copy the directory tree instead (cp -r, rsync)",
                ));
            }
            let (endpoints, yaml) = match skopeo::source_endpoint(src, &args.locations[0]) {
                Some(source) => (vec![source, destination], None),
                None => (vec![destination], Some(PathBuf::from(&args.locations[0]))),
            };
            return Ok(SyncRequest {
                endpoints,
                yaml,
                skopeo: true,
            });
        }
    }
    let wanted = match (&args.config, &args.source_yaml) {
        (Some(_), _) => 0,
        (None, Some(_)) => 1,
        (None, None) => 2,
    };
    if args.locations.len() != wanted {
        return Err(Failure::usage(format!(
            "sync: expected {}, got {} location(s)",
            ["no SRC/DST with --config", "only DST with --source-yaml", "SRC and DST"][wanted],
            args.locations.len()
        )));
    }
    let endpoints = args
        .locations
        .iter()
        .map(|l| l.parse::<Endpoint>().map_err(|e| Failure::usage(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(SyncRequest {
        endpoints,
        yaml: args.source_yaml.clone(),
        skopeo: false,
    })
}

/// What a sync's locations get wrong, refused before any request: a whole registry as the
/// source (Docker's rules would read `HOST:PORT` as an image on Docker Hub), and a tag on the
/// destination (images keep their own tags there).
fn check_sync_locations(request: &SyncRequest) -> Result<(), Failure> {
    use irel::sync::Endpoint;
    let n = request.endpoints.len();
    for (i, endpoint) in request.endpoints.iter().enumerate() {
        let Endpoint::Registry(text) = endpoint else { continue };
        let is_destination = i + 1 == n && (n == 2 || request.yaml.is_some());
        if is_destination {
            let path = text.split_once('/').map(|(_, p)| p).unwrap_or_default();
            if path
                .rsplit('/')
                .next()
                .is_some_and(|last| last.contains(':') || last.contains('@'))
            {
                return Err(Failure::usage(format!(
                    "sync destination docker://{text}: a destination is a registry and a namespace \
                     (docker://HOST[/NAMESPACE]); the images keep their own tags there, so drop the tag"
                )));
            }
        } else if text
            .parse::<Reference>()
            .is_ok_and(|r| bare_registry_advice(text, &r).is_some())
        {
            return Err(Failure::usage(format!(
                "sync source docker://{text}: a whole registry is not a sync source; name a repository \
                 (docker://{text}/REPOSITORY[:TAG]), or pick repositories from its catalog with --config"
            )));
        }
    }
    Ok(())
}

fn registry_host(endpoint: &irel::sync::Endpoint) -> Option<String> {
    let irel::sync::Endpoint::Registry(text) = endpoint else {
        return None;
    };
    let first = text.split('/').next().unwrap_or_default();
    let is_host = first.contains(['.', ':']) || first == "localhost";
    // As references read it: `busybox` and `library/busybox` are Docker Hub's.
    Some(match text.parse::<Reference>() {
        Ok(r) if !is_host || text.contains('/') => r.registry().to_string(),
        _ => first.to_string(),
    })
}

/// One image's line, printed as it ends.
fn report_sync_item(cli: &Cli, from: &str, to: &str, outcome: &irel::sync::ItemOutcome) {
    use irel::sync::ItemOutcome;
    if cli.flags.json {
        let line = match outcome {
            ItemOutcome::Copied(r) => serde_json::json!({"from": from, "to": to, "outcome": "copied", "report": r}),
            ItemOutcome::Skipped(r) => serde_json::json!({"from": from, "to": to, "outcome": "skipped", "report": r}),
            ItemOutcome::Failed(e) => {
                serde_json::json!({"from": from, "to": to, "outcome": "failed", "error": explain(e)})
            }
            ItemOutcome::NotRun => serde_json::json!({"from": from, "to": to, "outcome": "not-run"}),
        };
        outln!("{line}");
        return;
    }
    match outcome {
        ItemOutcome::Copied(r) => outln!(
            "copied {from} to {to} with content digest {}",
            r.digest.as_ref().map(|d| d.to_string()).unwrap_or_default()
        ),
        ItemOutcome::Skipped(_) => outln!("skipped {from}: {to} is up to date"),
        ItemOutcome::Failed(e) => errln!("irel: failed to sync {from} to {to}: {}", explain(e)),
        ItemOutcome::NotRun => {}
    }
}

/// The summary line after every image has reported.
fn report_sync(cli: &Cli, plan: &irel::sync::SyncPlan, report: &irel::sync::SyncReport) {
    let not_run = match report.not_run() {
        0 => String::new(),
        n => format!(", {n} not tried"),
    };
    if cli.flags.json {
        outln!(
            "{}",
            serde_json::json!({"summary": {"copied": report.copied(), "skipped": report.skipped(),
                "failed": report.failed(), "not_run": report.not_run(), "bytes": report.bytes(),
                "invalid_names": plan.invalid_names}})
        );
    } else {
        let invalid = match plan.invalid_names {
            0 => String::new(),
            n => format!(", {n} invalid names skipped"),
        };
        outln!(
            "sync: {} copied, {} skipped, {} failed, {} transferred{invalid}{not_run}",
            report.copied(),
            report.skipped(),
            report.failed(),
            output::shown_bytes(report.bytes())
        );
    }
}

/// skopeo's `--digestfile`: `DIGEST TRANSPORT:DESTINATION` for each image copied or already
/// there, the file written anew.
fn write_digestfile(path: &std::path::Path, report: &irel::sync::SyncReport) -> Result<(), Failure> {
    use irel::sync::ItemOutcome;
    let mut text = String::new();
    for (_, to, outcome) in &report.items {
        if let ItemOutcome::Copied(r) | ItemOutcome::Skipped(r) = outcome {
            if let Some(d) = &r.digest {
                text += &format!("{d} {to}\n");
            }
        }
    }
    std::fs::write(path, text).map_err(|e| Failure::new(format!("--digestfile {}: {e}", path.display())))
}
