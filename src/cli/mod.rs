//! Command-line parsing and output. Every command is one library call; this module only turns
//! arguments into configuration and results into lines.

use std::path::PathBuf;
use std::process::ExitCode;

use irel::auth::CredentialSource as _;
use irel::Reference;

use args::{Args, Cli, Command, LayoutCommand, RelocateArgs, SyncArgs};
use client::{base_builder, client_for, copy_options, credential, finish_client};
use failure::{naming_side, Failure, USAGE};
use operands::{bare_registry_advice, image_list, parse_ref, parse_ref_as_docker, writable_output};

#[macro_use]
mod output;
mod args;
mod bench;
mod client;
mod dregsy;
mod failure;
mod flags;
mod interrupt;
mod login;
mod operands;
mod progress;
mod query;
mod skopeo;

pub fn main() -> ExitCode {
    use clap::{CommandFactory as _, FromArgMatches as _};
    let matches = Args::command().mut_args(|a| a.hide(true)).get_matches();
    let args = Args::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let flags = match flags::merge_leading(&matches, &args.remote, &args.json, &args.quiet, args.command.groups()) {
        Ok(flags) => flags,
        Err(message) => {
            errln!("irel: {message}");
            return ExitCode::from(USAGE);
        }
    };
    if let Some((flag, why)) = args.skopeo.first_refused() {
        errln!("irel: {flag}: irel does not take this skopeo flag: {why}");
        return ExitCode::from(USAGE);
    }
    let cli = Cli {
        flags,
        command: args.command,
    };
    if cli.flags.debug || cli.flags.verbose {
        let level = if cli.flags.debug {
            tracing::Level::DEBUG
        } else {
            tracing::Level::INFO
        };
        // Colour only for a person at a terminal, and never against NO_COLOR (no-color.org).
        let colour = std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none();
        tracing_subscriber::fmt()
            .with_max_level(level)
            .with_target(false)
            .with_ansi(colour)
            .with_writer(std::io::stderr)
            .init();
    }
    if let Err(failure) = interrupt::install() {
        errln!("irel: {}", failure.message);
        return ExitCode::FAILURE;
    }
    let result = run(cli);
    interrupt::finish();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            errln!("irel: {}", failure.message);
            ExitCode::from(failure.exit)
        }
    }
}

fn runtime() -> Result<Runtime, Failure> {
    Ok(Runtime)
}

/// Runs the command's async work (see [`interrupt::block_on`]: Ctrl-C and SIGTERM stop it).
struct Runtime;

impl Runtime {
    fn block_on<F: std::future::Future>(&self, work: F) -> F::Output {
        interrupt::block_on(work)
    }
}

fn run(cli: Cli) -> Result<(), Failure> {
    match &cli.command {
        Command::Map {
            repository_prefix,
            reference,
            ..
        } => {
            // Go irel's output, byte for byte, whatever the input; a likely mistake gets a warning.
            let original = parse_ref_as_docker("image", reference)?;
            if let Some(advice) = bare_registry_advice(reference, &original) {
                errln!("irel: warning: image {reference}: {advice}");
            }
            let mapped = irel::mapping::flatten_repo_path_preserve_tag_digest(repository_prefix, &original)
                .map_err(|e| Failure::usage(e.to_string()))?;
            match cli.flags.json {
                true => outln!(
                    "{}",
                    serde_json::json!({"original": reference, "relocated": mapped.to_string()})
                ),
                false => outln!("{mapped}"),
            }
        }
        Command::Digest {
            reference, unverified, ..
        } => {
            let r = parse_ref("image", reference)?;
            let client = client_for(&cli, &[(&r, None, "--creds")])?;
            let sides = [("image", reference.as_str(), &r)];
            let digest = match unverified {
                true => runtime()?.block_on(client.registry_digest(&r)),
                false => runtime()?.block_on(client.digest(&r)),
            }
            .map_err(|e| naming_side(e, &sides))?;
            if cli.flags.json {
                outln!(
                    "{}",
                    serde_json::json!({"image": r.to_string(), "digest": digest.to_string(), "verified": !unverified})
                );
            } else {
                outln!("{digest}");
            }
        }
        Command::Layout(cmd) => return run_layout(&cli, cmd),
        Command::Sync(args) => return run_sync(&cli, args),
        Command::Bench(args) => return bench::run(&cli, args),
        Command::Tags { repository, .. } => return query::tags(&cli, repository),
        Command::Catalog { registry, .. } if registry.contains("://") => {
            return Err(Failure::usage(format!(
                "catalog {registry}: give the registry as HOST[:PORT], without a scheme (irel finds it)"
            )))
        }
        Command::Catalog { registry, .. } => return query::catalog(&cli, registry),
        Command::Manifest {
            reference, platform, ..
        } => return query::manifest(&cli, reference, platform.as_ref()),
        Command::Inspect { reference, .. } => return query::inspect(&cli, reference),
        Command::Referrers {
            reference,
            artifact_type,
            ..
        } => return query::referrers(&cli, reference, artifact_type.as_deref()),
        Command::Login {
            registry,
            username,
            password,
            password_stdin,
            ..
        } => return login::login(&cli, registry, username, password.as_deref(), *password_stdin),
        Command::Logout { registry } => return login::logout(registry),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            // Into memory first: a reader that goes away (`| head`) is not an error of irel's.
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut Args::command(), "irel", &mut script);
            let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), &script);
        }
        Command::Save {
            output,
            images,
            images_file,
            referrers,
            ..
        } => {
            let list = image_list(images, images_file.as_deref())?;
            if list.is_empty() {
                return Err(Failure::usage("save: name at least one image, or --images FILE"));
            }
            writable_output("-o", output)?;
            let refs = list
                .iter()
                .map(|i| parse_ref("image", i))
                .collect::<Result<Vec<_>, _>>()?;
            let named: Vec<_> = refs.iter().map(|r| (r, None, "--creds")).collect();
            let client = client_for(&cli, &named)?;
            let options = copy_options(&cli).referrers(*referrers);
            let digests = runtime()?.block_on(client.save(&refs, output, &options))?;
            for (r, d) in refs.iter().zip(digests) {
                match cli.flags.json {
                    true => outln!(
                        "{}",
                        serde_json::json!({"image": r.to_string(), "digest": d.to_string(), "bundle": output})
                    ),
                    false => outln!("saved {r} with digest {d} to {}", output.display()),
                }
            }
        }
        Command::Relocate(args) => return run_relocate(&cli, args),
        Command::Copy {
            source,
            destination,
            concurrency,
            src_creds,
            dest_creds,
            platform,
            referrers,
            ..
        } => {
            let src = parse_ref("source image", source)?;
            let dst = parse_ref("destination image", destination)?;
            let named = [
                (&src, src_creds.as_ref(), "--src-creds"),
                (&dst, dest_creds.as_ref(), "--dest-creds"),
            ];
            let client = client_for(&cli, &named)?;
            let options = copy_options(&cli).concurrency(*concurrency).referrers(*referrers);
            let rt = runtime()?;
            let sides = [
                ("source image", source.as_str(), &src),
                ("destination image", destination.as_str(), &dst),
            ];
            let src_resolved = match platform {
                Some(p) => rt
                    .block_on(client.resolve_platform(&src, p))
                    .map_err(|e| naming_side(e, &sides))?,
                None => src.clone(),
            };
            let report = rt
                .block_on(client.copy(&src_resolved, &dst, &options))
                .map_err(|e| naming_side(e, &sides))?;
            let src = src_resolved;
            if cli.flags.json {
                let mut v = serde_json::to_value(&report)?;
                v["source"] = src.to_string().into();
                v["destination"] = dst.to_string().into();
                outln!("{v}");
            } else {
                let digest = report.digest.map(|d| d.to_string()).unwrap_or_default();
                outln!("copied {src} to {dst} with content digest {digest}");
                if *referrers {
                    outln!("referrers copied: {}", report.referrers_copied);
                }
            }
        }
    }
    Ok(())
}

fn run_layout(cli: &Cli, cmd: &LayoutCommand) -> Result<(), Failure> {
    match cmd {
        LayoutCommand::Add {
            layout,
            reference,
            referrers,
            ..
        } => {
            let r = parse_ref("image", reference)?;
            let client = client_for(cli, &[(&r, None, "--creds")])?;
            // A layout this add creates is removed again if the add fails.
            let (layout_dir, creation) = irel::layout::OciLayout::create_undoable(layout)?;
            let options = copy_options(cli).referrers(*referrers);
            let digest = runtime()?.block_on(client.pull_to_layout(&r, &layout_dir, &options))?;
            creation.keep();
            match cli.flags.json {
                true => outln!(
                    "{}",
                    serde_json::json!({"image": r.to_string(), "digest": digest.to_string(), "layout": layout})
                ),
                false => outln!(
                    "added {r} with digest {digest} to OCI image layout at {}",
                    layout.display()
                ),
            }
        }
        LayoutCommand::Find { layout, reference, .. } => {
            let layout_dir = irel::layout::OciLayout::open(layout)?;
            let entry = layout_dir.find(reference)?.ok_or_else(|| {
                Failure::new(format!(
                    "{reference} is not in the OCI image layout at {}",
                    layout.display()
                ))
            })?;
            match cli.flags.json {
                true => outln!(
                    "{}",
                    serde_json::json!({"image": reference, "digest": entry.descriptor.digest.to_string(), "layout": layout})
                ),
                false => outln!(
                    "found {reference} with digest {} in OCI image layout at {}",
                    entry.descriptor.digest,
                    layout.display()
                ),
            }
        }
        LayoutCommand::Push {
            layout,
            digest,
            reference,
            referrers,
            ..
        } => {
            let d: irel::Digest = digest.parse().map_err(|e| {
                Failure::usage(format!(
                    "{e}; layout push takes the digest of an image in the layout (`irel layout find {} IMAGE` prints it)",
                    layout.display()
                ))
            })?;
            let r = parse_ref("destination image", reference)?;
            let layout_dir = irel::layout::OciLayout::open(layout)?;
            let client = client_for(cli, &[(&r, None, "--creds")])?;
            let options = copy_options(cli).referrers(*referrers);
            runtime()?.block_on(client.push_from_layout(&layout_dir, &d, &r, &options))?;
            match cli.flags.json {
                true => outln!(
                    "{}",
                    serde_json::json!({"image": r.to_string(), "digest": d.to_string(), "layout": layout})
                ),
                false => outln!(
                    "wrote image with digest {d} from OCI image layout at {} to {r}",
                    layout.display()
                ),
            }
        }
    }
    Ok(())
}

fn run_relocate(cli: &Cli, args: &RelocateArgs) -> Result<(), Failure> {
    use irel::relocate::RelocationSource;
    let RelocateArgs {
        repository_prefix: prefix,
        images,
        images_file,
        archive,
        layout,
        mapping_output,
        referrers,
        ..
    } = args;
    let mut list = image_list(images, images_file.as_deref())?;
    // What the command line got wrong is refused before any work (a bundle can take minutes
    // to decompress): the prefix, and where the mapping goes.
    let placeholder: Reference = "docker.io/library/busybox:1".parse().expect("a valid reference");
    irel::mapping::flatten_repo_path(prefix, &placeholder).map_err(|e| Failure::usage(e.to_string()))?;
    if let Some(path) = mapping_output {
        writable_output("--mapping-output", path)?;
    }
    let opened_archive = archive.as_deref().map(irel::layout::archive::open).transpose()?;
    let opened_layout = layout.as_deref().map(irel::layout::OciLayout::open).transpose()?;
    let bundle = opened_archive.as_ref().map(|a| a.layout()).or(opened_layout.as_ref());
    if list.is_empty() {
        match bundle {
            Some(b) => list = b.entries()?.into_iter().filter_map(|e| e.name).collect(),
            None => {
                return Err(Failure::usage(
                    "relocate: name images, or --images FILE, or --archive/--layout",
                ))
            }
        }
    }
    // Refuse a bad prefix before anything is copied.
    if let Some(first) = list.first() {
        irel::mapping::flatten_repo_path(prefix, &parse_ref("image", first)?)
            .map_err(|e| Failure::usage(e.to_string()))?;
    }
    let source = match bundle {
        Some(b) => RelocationSource::Layout(b),
        None => RelocationSource::Registries,
    };
    // --creds goes to the prefix's registry and, from registries, to each source's.
    // A prefix may be a registry's root (`lab:5000`): Docker's rules alone, no bare-registry check.
    let mut named_refs = vec![parse_ref_as_docker("repository prefix", prefix)?];
    if bundle.is_none() {
        for image in &list {
            named_refs.push(parse_ref("image", image)?);
        }
    }
    let named: Vec<_> = named_refs.iter().map(|r| (r, None, "--creds")).collect();
    let client = client_for(cli, &named)?;
    let options = copy_options(cli).referrers(*referrers);
    // Each image is reported as it ends, and the mapping kept current, so an interrupted
    // relocation has said (and written down) what landed.
    let seen = std::cell::Cell::new((0usize, 0usize));
    let mapping_error = std::cell::RefCell::new(None);
    let report = runtime()?.block_on(client.relocate_observed(prefix, &list, source, &options, |so_far| {
        let (relocated, failed) = seen.get();
        for r in &so_far.relocated[relocated..] {
            if cli.flags.json {
                outln!(
                    "{}",
                    serde_json::json!({"original": r.original, "relocated": r.relocated.to_string(), "digest": r.digest.to_string()})
                );
            } else {
                outln!("relocated {} to {} with content digest {}", r.original, r.relocated, r.digest);
            }
        }
        for (original, e) in &so_far.failed[failed..] {
            if cli.flags.json {
                outln!("{}", serde_json::json!({"original": original, "error": e.to_string()}));
            }
            errln!("irel: failed to relocate {original}: {e}");
        }
        if let (Some(path), true) = (mapping_output, so_far.relocated.len() > relocated) {
            if let Err(e) = so_far.write_mapping(path) {
                mapping_error.replace(Some(e));
            }
        }
        seen.set((so_far.relocated.len(), so_far.failed.len()));
    }));
    if let Some(e) = mapping_error.into_inner() {
        return Err(e.into());
    }
    if let Some(path) = mapping_output {
        report.write_mapping(path)?;
    }
    if report.failed.is_empty() {
        Ok(())
    } else {
        Err(Failure::new(format!(
            "{} of {} images were not relocated",
            report.failed.len(),
            list.len()
        )))
    }
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

fn run_sync(cli: &Cli, args: &SyncArgs) -> Result<(), Failure> {
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
    let rt = runtime()?;
    let plan = rt.block_on(async {
        match &yaml {
            Some(y) => SyncPlan::from_yaml(&client, y, &target()?, naming).await,
            None => SyncPlan::from_endpoint(&client, &endpoints[0], &target()?, naming).await,
        }
    })?;
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
    let report = rt.block_on(
        client.sync_observed(&plan, args.jobs, &options, keep_going, |item, outcome| {
            report_sync_item(cli, &item.from, &item.to, outcome)
        }),
    );
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

/// One image's line, printed as it ends.
fn report_sync_item(cli: &Cli, from: &str, to: &str, outcome: &irel::sync::ItemOutcome) {
    use irel::sync::ItemOutcome;
    if cli.flags.json {
        let line = match outcome {
            ItemOutcome::Copied(r) => serde_json::json!({"from": from, "to": to, "outcome": "copied", "report": r}),
            ItemOutcome::Skipped(r) => serde_json::json!({"from": from, "to": to, "outcome": "skipped", "report": r}),
            ItemOutcome::Failed(e) => {
                serde_json::json!({"from": from, "to": to, "outcome": "failed", "error": e.to_string()})
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
        ItemOutcome::Failed(e) => errln!("irel: failed to sync {from} to {to}: {e}"),
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
