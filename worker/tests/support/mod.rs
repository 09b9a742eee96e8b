//! A `tavdun-worker` process for the end-to-end tests: testkit's [`Service`], started on this
//! package's own binary.

use std::path::Path;

use tavdun_testkit::process::{self, Service};

/// Writes the node's config and starts `tavdun-worker` on it, logging to `<name>.log`.
pub fn start_worker(dir: &Path, name: &str, account: &str, extra: &str) -> Service {
    let binary = Path::new(env!("CARGO_BIN_EXE_tavdun-worker"));
    process::start_worker(binary, dir, name, account, extra)
}
