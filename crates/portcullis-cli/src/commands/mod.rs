//! One module per subcommand; each turns arguments into a [`crate::Report`].

pub mod audit;
pub mod check;
pub mod demo;
pub mod init;
pub mod keys;
pub mod oauth;
pub mod pepper;
pub mod policy;
pub mod serve;
pub mod usage;
