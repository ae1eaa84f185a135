//! `irel relocate -r PREFIX`: images moved under a repository prefix, from their registries or
//! from a bundle (archive or layout), each reported as it lands and the mapping kept current.

use irel::Reference;

use crate::cli::args::RelocateArgs;
use crate::cli::client::{client_for, copy_options};
use crate::cli::hints::explain;
use crate::cli::interrupt::{block_on, block_on_blocking};
use crate::cli::operands::{image_list, parse_ref, parse_ref_as_docker, writable_output};
use crate::cli::{Cli, Failure};

pub(crate) fn run(cli: &Cli, args: &RelocateArgs) -> Result<(), Failure> {
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
    // A thread of its own: a bundle can take minutes to decompress, and Ctrl-C must not wait.
    let opened_archive = match archive.clone() {
        Some(path) => Some(block_on_blocking(move || irel::layout::archive::open(&path))??),
        None => None,
    };
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
    let report = block_on(client.relocate_observed(prefix, &list, source, &options, |so_far| {
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
                outln!("{}", serde_json::json!({"original": original, "error": explain(e)}));
            }
            errln!("irel: failed to relocate {original}: {}", explain(e));
        }
        if let (Some(path), true) = (mapping_output, so_far.relocated.len() > relocated) {
            if let Err(e) = so_far.write_mapping(path) {
                mapping_error.replace(Some(e));
            }
        }
        seen.set((so_far.relocated.len(), so_far.failed.len()));
    }))?;
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
