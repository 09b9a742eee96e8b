//! What the node tells its operator: Prometheus metrics and a health report, served on the
//! metrics address.

mod health;
mod metrics;

pub use health::{serve, Health};
pub use metrics::Metrics;
