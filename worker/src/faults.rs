//! Deliberate misbehaviour for end-to-end tests of the dispute game. Only reachable through a
//! `[faults]` section that the environment explicitly allows (see `config::ALLOW_FAULTS_ENV`).

use tavdun_core::graph::{GraphSpec, Trace};
use tavdun_engine::Activations;
use tracing::error;

use crate::config::FaultConfig;

pub struct Faults(FaultConfig);

impl Faults {
    pub fn new(config: FaultConfig) -> Faults {
        Faults(config)
    }

    /// Applies the configured lie to one job's activations. The lie is deterministic, so the
    /// activation revealed in a dispute is the very one the posted hash commits to. Later layers
    /// stay as computed: the dispute game only looks at the first divergent layer.
    pub fn corrupt(&self, activations: &mut Activations) {
        let Some(layer) = self.0.wrong_output_layer else {
            return;
        };
        let Some(act) = activations.get_mut(layer as usize - 1) else {
            return;
        };
        // Raise the unit after the largest one to the maximum, so that on the output layer
        // the predicted class changes (the lie is visible in a demo, not only in a hash).
        let Some(top) = (0..act.len()).max_by_key(|&i| act[i]) else {
            return;
        };
        let target = (top + 1) % act.len();
        act[target] = if act[target] == i8::MAX {
            i8::MAX - 1
        } else {
            i8::MAX
        };
    }

    /// The node of a graph model this node lies at, if it lies; an error names a configured
    /// node the model does not have (checked when the model is loaded).
    pub fn wrong_node(&self, spec: &GraphSpec) -> Result<Option<u32>, String> {
        match &self.0.wrong_node {
            None => Ok(None),
            Some(name) => spec.node_index(name).map(Some).ok_or_else(|| {
                format!(
                    "faults.wrong_node: model {} has no node {name:?}",
                    spec.name
                )
            }),
        }
    }

    /// Applies the configured lie to one graph job's trace: one element of the chosen node
    /// (core's [`Trace::with_wrong_element`], deterministic, so a reveal opens the posted
    /// roots); later nodes stay as computed.
    pub fn corrupt_trace(&self, spec: &GraphSpec, trace: &mut Trace) {
        if let Ok(Some(node)) = self.wrong_node(spec) {
            if let Some(lie) = trace.with_wrong_element(node) {
                *trace = lie;
            }
        }
    }

    pub fn withholds_reveal(&self) -> bool {
        self.0.withhold_reveal
    }

    /// Dies here, as a machine losing power would: no cleanup, no last transaction.
    pub fn crash_after_claim(&self) {
        if self.0.crash_after_claim {
            error!("fault injection: crash_after_claim, killing this process with SIGKILL");
            // SAFETY: kill(2) on our own pid has no memory-safety preconditions.
            unsafe {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corrupts_only_the_chosen_layer_and_changes_the_argmax() {
        let faults = Faults::new(FaultConfig {
            wrong_output_layer: Some(2),
            ..FaultConfig::default()
        });
        let honest: Activations = vec![vec![1, 2, 3], vec![5, 9, -3]];
        let mut acts = honest.clone();
        faults.corrupt(&mut acts);
        assert_eq!(acts[0], honest[0]);
        assert_eq!(acts[1], vec![5, 9, i8::MAX]);
        let top = (0..3).max_by_key(|&i| acts[1][i]).unwrap();
        assert_eq!(top, 2, "the lie moves the prediction");

        let mut again = honest.clone();
        faults.corrupt(&mut again);
        assert_eq!(
            again, acts,
            "the same lie every time, so a reveal matches the post"
        );

        let none = Faults::new(FaultConfig::default());
        let mut untouched = honest.clone();
        none.corrupt(&mut untouched);
        assert_eq!(untouched, honest);
    }
}
