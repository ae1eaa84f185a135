//! One module per command, each with a `run` taking the command's arguments
//! ([`crate::cli::args`]) and the flags chosen ([`crate::cli::Cli`]): it reads the operands,
//! builds a client ([`crate::cli::client`]), makes its library calls through
//! [`crate::cli::interrupt`] and prints the results ([`crate::cli::output`]).

pub(crate) mod bench;
pub(crate) mod catalog;
pub(crate) mod completions;
pub(crate) mod copy;
pub(crate) mod digest;
pub(crate) mod inspect;
pub(crate) mod layout;
pub(crate) mod login;
pub(crate) mod logout;
pub(crate) mod manifest;
pub(crate) mod map;
pub(crate) mod referrers;
pub(crate) mod relocate;
pub(crate) mod save;
pub(crate) mod sync;
pub(crate) mod tags;
