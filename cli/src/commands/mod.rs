//! One module per command group; each holds its arguments and what they do.

pub mod balance;
pub mod deploy;
pub mod embed;
pub mod job;
pub mod model;
pub mod worker;
