//! `irel layout add|find|push`: Go irel's commands on OCI image layouts (a registry image into
//! a layout, an image found in one, an image pushed from one by digest).

use crate::cli::args::LayoutCommand;
use crate::cli::client::{client_for, copy_options};
use crate::cli::interrupt::block_on;
use crate::cli::operands::parse_ref;
use crate::cli::{Cli, Failure};

pub(crate) fn run(cli: &Cli, cmd: &LayoutCommand) -> Result<(), Failure> {
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
            let digest = block_on(client.pull_to_layout(&r, &layout_dir, &options))??;
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
            block_on(client.push_from_layout(&layout_dir, &d, &r, &options))??;
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
