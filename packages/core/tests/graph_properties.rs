//! Property tests of version 2: every element of every node, recomputed alone by the one-step
//! check from Merkle-proven rows and leaves, equals what the forward pass produced; tampered
//! witnesses are refused.

use proptest::prelude::*;
use tavdun_core::graph::{
    forward, prove_element, run_tree, verify_element, verify_row, verify_run, verify_run_row,
    widened, GraphEvalError, GraphModel, ProvenRun, StepError, Trace,
};
use tavdun_core::synthetic::{random_encoder, random_token_input};
use tavdun_core::MerkleTree;
use tavdun_core::ProofError;

fn model(seed: u64) -> GraphModel {
    random_encoder(seed).expect("random_encoder only builds valid models")
}

fn run(seed: u64, input_seed: u64) -> (GraphModel, tavdun_core::graph::TokenInput, Trace) {
    let m = model(seed);
    let input = random_token_input(&m.plan, input_seed);
    let trace = forward(&m, &input).expect("a valid input runs");
    (m, input, trace)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The one-step check, fed by the prover, agrees with the forward pass everywhere.
    #[test]
    fn every_element_checks_against_the_forward_pass(seed in any::<u64>(), input_seed in any::<u64>()) {
        let (m, input, trace) = run(seed, input_seed);
        let wtree = m.weights_tree();
        let trees = trace.node_trees();
        let roots: Vec<_> = trees.iter().map(|t| t.root()).collect();
        for (node, t) in trace.nodes.iter().enumerate() {
            let np = &m.plan.nodes[node];
            prop_assert_eq!(t.rows, np.rows.at(trace.tokens));
            prop_assert_eq!(t.width, np.width.at(trace.tokens));
            for row in 0..t.rows {
                let claimed = trace.proven_row(&trees, node, row).unwrap();
                prop_assert_eq!(verify_row(&m.plan, &input, &roots, &claimed), Ok(()));
                for col in 0..t.width {
                    let w = prove_element(&m, &wtree, &input, &trace, &trees, node as u32, row, col).unwrap();
                    let v = verify_element(&m.spec, &m.plan, &wtree.root(), &input, &roots, node as u32, row, col, &w);
                    prop_assert_eq!(v, Ok(claimed.values[col as usize]), "node {} ({}) row {} col {}", node, m.spec.nodes[node].name, row, col);
                }
            }
        }
    }

    /// A changed value in any witness row, or a leaf of another unit, is refused.
    #[test]
    fn tampered_witnesses_are_refused(seed in any::<u64>(), input_seed in any::<u64>(), pick in any::<u64>()) {
        let (m, input, trace) = run(seed, input_seed);
        let wtree = m.weights_tree();
        let trees = trace.node_trees();
        let roots: Vec<_> = trees.iter().map(|t| t.root()).collect();
        let node = (pick % trace.nodes.len() as u64) as u32;
        let t = &trace.nodes[node as usize];
        let (row, col) = ((pick / 7 % u64::from(t.rows)) as u32, (pick / 131 % u64::from(t.width)) as u32);
        let honest = prove_element(&m, &wtree, &input, &trace, &trees, node, row, col).unwrap();
        let check = |w: &tavdun_core::graph::StepWitness| verify_element(&m.spec, &m.plan, &wtree.root(), &input, &roots, node, row, col, w);
        if !honest.rows.is_empty() {
            let mut w = honest.clone();
            let i = (pick % w.rows.len() as u64) as usize;
            let j = (pick / 3 % w.rows[i].values.len() as u64) as usize;
            let v = &mut w.rows[i].values[j];
            *v = if *v == 0 { 1 } else { 0 };
            let err = check(&w).unwrap_err();
            let refused = matches!(err, StepError::RowProof { source: ProofError::RootMismatch, .. });
            prop_assert!(refused, "{:?}", err);
        }
        if let Some(first) = honest.rows.first() {
            // A proof of another position, even of the same values, is refused.
            let mut w = honest.clone();
            w.rows[0].proof = trees[first.node as usize]
                .proof((first.row + 1) % trees[first.node as usize].len() as u32)
                .unwrap();
            if w.rows[0].proof.index != first.row {
                let refused = matches!(check(&w), Err(StepError::RowProof { .. }));
                prop_assert!(refused, "a proof of another row is refused");
            }
        }
        if let Some(leaf) = &honest.leaf {
            let mut w = honest.clone();
            w.leaf.as_mut().unwrap().leaf.params.push(1);
            prop_assert!(check(&w).is_err());
            let mut w = honest.clone();
            let other = (leaf.leaf.unit + 1) % m.plan.nodes[node as usize].leaves;
            if other != leaf.leaf.unit {
                let index = m.plan.leaf_index(node as usize, other).unwrap();
                w.leaf = Some(tavdun_core::graph::ProvenLeaf {
                    leaf: m.leaf(node as usize, other).unwrap(),
                    proof: wtree.proof(index).unwrap(),
                });
                let refused = matches!(check(&w), Err(StepError::LeafProof { .. }));
                prop_assert!(refused, "a leaf of another unit is refused");
            }
        }
        let mut w = honest.clone();
        w.rows.push(trace.proven_row(&trees, 0, 0).unwrap());
        let refused = matches!(check(&w), Err(StepError::Eval(GraphEvalError::RowCount { .. })));
        prop_assert!(refused, "an extra row is refused");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Every run of every node (what a dispute reveals) checks against the node's root, and
    /// every row of it against the run's root; a changed value, a run shown at another
    /// index, a row outside its run or a short run is refused.
    #[test]
    fn runs_check_against_their_node_roots(seed in any::<u64>(), input_seed in any::<u64>(), pick in any::<u64>()) {
        let (m, input, trace) = run(seed, input_seed);
        let trees = trace.node_trees();
        let roots: Vec<_> = trees.iter().map(|t| t.root()).collect();
        for (node, t) in trace.nodes.iter().enumerate() {
            let runs = trace.node_runs(&trees, node).unwrap();
            let len = t.run_len();
            prop_assert_eq!(len, m.plan.nodes[node].run_len(trace.tokens));
            prop_assert_eq!(runs.len() as u32, t.rows.div_ceil(len));
            prop_assert_eq!(MerkleTree::new(runs.clone()).root(), roots[node]);
            let run_roots = MerkleTree::new(runs.clone());
            for (r, root) in runs.iter().enumerate() {
                let r = r as u32;
                let values = widened(t.run(r).unwrap());
                let shown = ProvenRun { node: node as u32, run: r, values: values.clone(), proof: run_roots.proof(r).unwrap() };
                prop_assert_eq!(verify_run(&m.plan, &input, &roots, &shown), Ok(*root));
                let rows = run_tree(node as u32, r * len, t.dtype, t.width, &values);
                for (i, row) in values.chunks(t.width as usize).enumerate() {
                    let at = r * len + i as u32;
                    let proof = rows.proof(i as u32).unwrap();
                    prop_assert_eq!(verify_run_row(&m.plan, &input, node as u32, r, root, at, row, &proof), Ok(()));
                }
            }
        }
        let node = (pick % trace.nodes.len() as u64) as usize;
        let t = &trace.nodes[node];
        let runs = trace.node_runs(&trees, node).unwrap();
        let run_roots = MerkleTree::new(runs.clone());
        let r = (pick / 7 % runs.len() as u64) as u32;
        let honest = ProvenRun { node: node as u32, run: r, values: widened(t.run(r).unwrap()), proof: run_roots.proof(r).unwrap() };
        let mut changed = honest.clone();
        let j = (pick / 3 % changed.values.len() as u64) as usize;
        changed.values[j] = if changed.values[j] == 0 { 1 } else { 0 };
        let refused = matches!(verify_run(&m.plan, &input, &roots, &changed), Err(StepError::RunProof { .. }));
        prop_assert!(refused, "a changed value is refused");
        let mut short = honest.clone();
        short.values.truncate(short.values.len() - t.width as usize);
        let refused = matches!(verify_run(&m.plan, &input, &roots, &short), Err(StepError::RunLen { .. }));
        prop_assert!(refused, "a run short of a row is refused");
        if runs.len() > 1 {
            let mut moved = honest.clone();
            moved.proof = run_roots.proof((r + 1) % runs.len() as u32).unwrap();
            let refused = matches!(verify_run(&m.plan, &input, &roots, &moved), Err(StepError::RunProof { .. }));
            prop_assert!(refused, "a run shown at another index is refused");
        }
        let beyond = ProvenRun { run: runs.len() as u32, ..honest.clone() };
        let refused = matches!(verify_run(&m.plan, &input, &roots, &beyond), Err(StepError::NoSuchRun { .. }));
        prop_assert!(refused, "a run past the node's last is refused");
        let len = t.run_len();
        let outside = (r * len + len) % t.rows;
        if outside / len != r {
            let row = widened(t.row(outside).unwrap());
            let proof = run_roots.proof(0).unwrap();
            let refused = matches!(
                verify_run_row(&m.plan, &input, node as u32, r, &runs[r as usize], outside, &row, &proof),
                Err(StepError::RowNotInRun { .. })
            );
            prop_assert!(refused, "a row of another run is refused");
        }
    }
}

/// The test models are not degenerate: across seeds, most nodes hold values spread over
/// more than one number, so the properties above exercise real arithmetic.
#[test]
fn random_encoders_spread_their_values() {
    let (mut varied, mut total) = (0, 0);
    for seed in 0..40 {
        let (m, _, trace) = run(seed, seed);
        for (node, t) in trace.nodes.iter().enumerate() {
            total += 1;
            let min = t.values.iter().min().unwrap();
            let max = t.values.iter().max().unwrap();
            let saturated = t
                .values
                .iter()
                .filter(|&&v| {
                    let v = i32::from(v);
                    v == m.plan.nodes[node].dtype.max() || v == m.plan.nodes[node].dtype.min()
                })
                .count();
            if max > min && saturated * 2 < t.values.len() {
                varied += 1;
            }
        }
    }
    assert!(
        varied * 10 >= total * 8,
        "only {varied} of {total} node outputs vary without saturating"
    );
}
