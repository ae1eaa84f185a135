//! Every place content is copied from or to, behind the two traits of [`content`]: registries
//! ([`registry`]), OCI image layouts and their archives ([`layout`]), skopeo `dir:` trees
//! ([`dir`]), and the benchmark's synthetic source ([`synthetic`]) and discarding sink
//! ([`discard`]). The copy engine ([`copy`](crate::copy)) works against the traits only, so
//! every pair of places goes through the same code.

pub mod cleanup;
pub mod content;
pub mod dir;
pub mod discard;
pub mod layout;
pub mod registry;
pub mod synthetic;

pub use content::{
    BlobProbe, ContentDestination, ContentSource, DestinationCapabilities, KeepReferrers, ListReferrers,
    ListTagsBeside, NameBeside, SourceCapabilities, Uploads,
};
pub use dir::SkopeoDir;
pub use discard::Discard;
pub use synthetic::SyntheticImage;
