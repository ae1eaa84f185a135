//! Integration tests against real distribution registries started by `tests/support`, with
//! skopeo cross-checking what irel wrote.

#[path = "../support/mod.rs"]
mod support;

mod auth;
mod bench;
mod bundle;
mod cli;
mod copy;
mod dregsy;
mod ecosystem;
mod embed;
mod faults;
mod first_hour;
mod fuzz_seeds;
mod hostile;
mod hostile_fs;
mod hostile_net;
mod hostile_output;
mod interrupt;
mod matrix;
mod proxy;
mod referrers;
mod scheme;
mod skopeo_sync;
mod sync;
mod terminal;
