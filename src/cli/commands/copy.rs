//! `irel copy SRC DST`: one image or a whole index (every platform, or the one `--platform`
//! picks) to another repository, with its digest.

use crate::cli::args::CopyArgs;
use crate::cli::client::{client_for, copy_options};
use crate::cli::failure::naming_side;
use crate::cli::interrupt::block_on;
use crate::cli::operands::parse_ref;
use crate::cli::{Cli, Failure};

pub(crate) fn run(cli: &Cli, args: &CopyArgs) -> Result<(), Failure> {
    let CopyArgs {
        source,
        destination,
        concurrency,
        src_creds,
        dest_creds,
        platform,
        referrers,
        ..
    } = args;
    let src = parse_ref("source image", source)?;
    let dst = parse_ref("destination image", destination)?;
    let named = [
        (&src, src_creds.as_ref(), "--src-creds"),
        (&dst, dest_creds.as_ref(), "--dest-creds"),
    ];
    let client = client_for(cli, &named)?;
    let options = copy_options(cli).concurrency(*concurrency).referrers(*referrers);
    let sides = [
        ("source image", source.as_str(), &src),
        ("destination image", destination.as_str(), &dst),
    ];
    let src_resolved = match platform {
        Some(p) => block_on(client.resolve_platform(&src, p))?.map_err(|e| naming_side(e, &sides))?,
        None => src.clone(),
    };
    let report = block_on(client.copy(&src_resolved, &dst, &options))?.map_err(|e| naming_side(e, &sides))?;
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
    Ok(())
}
