//! The market under load on a real local network, and under faults: the clients and the
//! observer of `tavdun-load`, and the audit that `tavdun-drills` runs after each drill.

pub mod audit;
pub mod clients;
pub mod observe;
