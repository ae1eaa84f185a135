//! `irel inspect REF`: an image's digest, media type, platforms, sizes and referrers.

use crate::cli::args::InspectArgs;
use crate::cli::client::client_for;
use crate::cli::interrupt::block_on;
use crate::cli::operands::parse_ref;
use crate::cli::{Cli, Failure};

pub(crate) fn run(cli: &Cli, args: &InspectArgs) -> Result<(), Failure> {
    let r = parse_ref("image", &args.reference)?;
    let client = client_for(cli, &[(&r, None, "--creds")])?;
    let s = block_on(client.inspect(&r))??;
    if cli.flags.json {
        outln!("{}", serde_json::to_string(&s)?);
        return Ok(());
    }
    outln!("Name:       {r}");
    outln!("Digest:     {}", s.digest);
    outln!("MediaType:  {}", s.media_type);
    outln!("Manifest:   {} bytes", s.manifest_size);
    for i in &s.instances {
        outln!(
            "Platform:   {:<20} {} ({} bytes)",
            i.platform.as_deref().unwrap_or("(none stated)"),
            i.digest,
            i.size
        );
    }
    if let (Some(config), Some(total)) = (s.config_size, s.total_size) {
        outln!("Config:     {config} bytes");
        for (n, size) in s.layer_sizes.iter().enumerate() {
            outln!("Layer {:<4} {size} bytes", n + 1);
        }
        outln!("Total:      {total} bytes ({:.1} MiB)", total as f64 / (1 << 20) as f64);
    }
    for referrer in &s.referrers {
        outln!(
            "Referrer:   {} {}",
            referrer.digest,
            referrer.artifact_type.as_deref().unwrap_or("-")
        );
    }
    Ok(())
}
