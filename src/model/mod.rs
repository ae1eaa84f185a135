//! The data irel moves, with no network in sight: references (registry, repository, tag or
//! digest), digests, manifests and indexes over their exact bytes, descriptors, media types,
//! platforms and referrers. Everything else depends on this; it depends on nothing but
//! [`Error`](crate::Error).

pub mod manifest;
pub mod name;
pub mod reference;
pub mod referrer;
