//! Liars' traces of graph models: the honest trace with one element changed, as a worker that
//! lies at one node posts it (its later nodes as the honest ones, so that node is the first
//! divergence).

use tavdun_core::graph::{GraphModel, Trace};

/// The index of the node named `name`.
pub fn node_index(model: &GraphModel, name: &str) -> u32 {
    model
        .spec
        .nodes
        .iter()
        .position(|n| n.name == name)
        .unwrap_or_else(|| panic!("the model has no node {name}")) as u32
}

/// `trace` with one element of `node` (a third of the way in) moved to the far end of its
/// type's range, so it certainly differs.
pub fn lie_at(trace: &Trace, node: u32) -> Trace {
    let mut lie = trace.clone();
    let t = &mut lie.nodes[node as usize];
    let at = t.values.len() / 3;
    t.values[at] = if t.values[at] > 0 {
        t.dtype.min()
    } else {
        t.dtype.max()
    };
    lie
}
