//! Liars' traces of graph models: the honest trace with one element changed, as a worker that
//! lies at one node posts it (its later nodes as the honest ones, so that node is the first
//! divergence).

use tavdun_core::graph::{GraphModel, Trace};

/// The index of the node named `name`.
pub fn node_index(model: &GraphModel, name: &str) -> u32 {
    model
        .spec
        .node_index(name)
        .unwrap_or_else(|| panic!("the model has no node {name}"))
}

/// `trace` with one element of `node` changed (core's [`Trace::with_wrong_element`]).
pub fn lie_at(trace: &Trace, node: u32) -> Trace {
    trace
        .with_wrong_element(node)
        .unwrap_or_else(|| panic!("the trace has no node {node}"))
}
