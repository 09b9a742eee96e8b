//! Property tests: the one-step check agrees with the forward pass, and Merkle proofs verify
//! exactly when nothing was tampered with.

use proptest::prelude::*;
use tavdun_core::synthetic::{self, Rng};
use tavdun_core::{eval_unit, forward, EvalError, HexHash, Model, ProofError};

fn model(seed: u64) -> Model {
    synthetic::random_model(seed).expect("random_model only builds valid models")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Every output value of every layer, recomputed alone from the layer's input and the
    /// unit's leaf, equals what the forward pass produced.
    #[test]
    fn eval_unit_matches_forward(seed in any::<u64>(), input_seed in any::<u64>()) {
        let m = model(seed);
        let input = synthetic::input(m.plan.input.len(), input_seed);
        let acts = forward(&m, &input).unwrap();
        prop_assert_eq!(acts.len(), m.spec.layers.len());
        for (layer, out) in acts.iter().enumerate() {
            prop_assert_eq!(out.len(), m.plan.layers[layer].output.len());
            let x = if layer == 0 { &input } else { &acts[layer - 1] };
            for unit in 0..out.len() as u32 {
                let leaf = m.plan.leaf_unit(layer, unit).and_then(|l| m.leaf(layer, l));
                let y = eval_unit(&m.spec, &m.plan, layer, x, unit, leaf.as_ref()).unwrap();
                prop_assert_eq!(y, out[unit as usize], "layer {} unit {}", layer, unit);
            }
        }
    }

    /// A wrong leaf is refused, never silently evaluated.
    #[test]
    fn eval_unit_refuses_foreign_leaves(seed in any::<u64>()) {
        let m = model(seed);
        let input = synthetic::input(m.plan.input.len(), seed);
        let acts = forward(&m, &input).unwrap();
        for (layer, lp) in m.plan.layers.iter().enumerate() {
            let x = if layer == 0 { &input } else { &acts[layer - 1] };
            match m.plan.leaf_unit(layer, 0) {
                None => {
                    let other = m.leaves().next().unwrap();
                    prop_assert_eq!(
                        eval_unit(&m.spec, &m.plan, layer, x, 0, Some(&other)),
                        Err(EvalError::LeafNotExpected { layer })
                    );
                }
                Some(want) => {
                    prop_assert_eq!(
                        eval_unit(&m.spec, &m.plan, layer, x, 0, None),
                        Err(EvalError::LeafRequired { layer })
                    );
                    let mut leaf = m.leaf(layer, want).unwrap();
                    leaf.unit += 1;
                    let wrong = matches!(
                        eval_unit(&m.spec, &m.plan, layer, x, 0, Some(&leaf)),
                        Err(EvalError::WrongLeaf { .. })
                    );
                    prop_assert!(wrong);
                    leaf.unit -= 1;
                    leaf.weights.push(1);
                    prop_assert_eq!(
                        eval_unit(&m.spec, &m.plan, layer, x, 0, Some(&leaf)),
                        Err(EvalError::LeafLen {
                            layer,
                            found: lp.fan_in as usize + 1,
                            expected: lp.fan_in as usize
                        })
                    );
                }
            }
            let units = lp.output.len() as u32;
            prop_assert_eq!(
                eval_unit(&m.spec, &m.plan, layer, x, units, None),
                Err(EvalError::NoSuchUnit { layer, unit: units, units })
            );
            prop_assert_eq!(
                eval_unit(&m.spec, &m.plan, layer, &x[1..], 0, None),
                Err(EvalError::InputLen { found: x.len() - 1, expected: x.len() })
            );
        }
    }

    /// Every leaf's proof verifies against the root at the index the plan assigns.
    #[test]
    fn proofs_verify(seed in any::<u64>()) {
        let m = model(seed);
        let tree = m.weights_tree();
        let root = tree.root();
        prop_assert_eq!(tree.len() as u32, m.plan.total_leaves);
        for leaf in m.leaves() {
            let index = m.plan.leaf_index(leaf.layer as usize, leaf.unit).unwrap();
            let proof = tree.proof(index).unwrap();
            prop_assert_eq!(proof.verify(&root, &leaf.hash(), m.plan.total_leaves), Ok(()));
        }
    }

    /// Any change to the leaf, the path, the index or the tree size makes the proof fail.
    #[test]
    fn tampered_proofs_fail(seed in any::<u64>(), pick in any::<u64>(), how in 0u8..7) {
        let m = model(seed);
        let tree = m.weights_tree();
        let root = tree.root();
        let leaves: Vec<_> = m.leaves().collect();
        let mut rng = Rng::new(pick);
        let index = (pick % leaves.len() as u64) as u32;
        let mut leaf = leaves[index as usize].clone();
        let mut proof = tree.proof(index).unwrap();
        match how {
            0 => {
                let i = (rng.next_u64() % leaf.weights.len() as u64) as usize;
                leaf.weights[i] = leaf.weights[i].wrapping_add(1);
            }
            1 => leaf.bias = leaf.bias.wrapping_add(1),
            2 => leaf.unit ^= 1,
            3 => {
                if proof.siblings.is_empty() {
                    leaf.layer += 1;
                } else {
                    let i = (rng.next_u64() % proof.siblings.len() as u64) as usize;
                    proof.siblings[i].0[(rng.next_u64() % 32) as usize] ^= 1;
                }
            }
            4 => proof.index = (index + 1) % m.plan.total_leaves.max(2),
            5 => proof.index = m.plan.total_leaves,
            _ => proof.siblings.push(HexHash(root)),
        }
        let result = proof.verify(&root, &leaf.hash(), m.plan.total_leaves);
        prop_assert!(result.is_err(), "tamper {} was accepted", how);
        if how < 4 {
            prop_assert_eq!(result, Err(ProofError::RootMismatch));
        }
    }
}

#[test]
fn single_leaf_tree_proof_is_empty_and_verifies() {
    let tree = tavdun_core::MerkleTree::new(vec![[7u8; 32]]);
    let proof = tree.proof(0).unwrap();
    assert!(proof.siblings.is_empty());
    assert_eq!(tree.root(), [7u8; 32]);
    assert_eq!(proof.verify(&tree.root(), &[7u8; 32], 1), Ok(()));
    assert_eq!(
        proof.verify(&tree.root(), &[8u8; 32], 1),
        Err(ProofError::RootMismatch)
    );
    assert!(tree.proof(1).is_none());
}

#[test]
fn requantize_rounds_half_up_floors_and_clamps() {
    use tavdun_core::requantize;
    assert_eq!(requantize(5, 1, false), 3); // (5 + 1) >> 1
    assert_eq!(requantize(-5, 1, false), -2); // floor(-4 / 2)
    assert_eq!(requantize(-6, 2, false), -1); // floor(-4 / 4)
    assert_eq!(requantize(1 << 20, 4, false), 127);
    assert_eq!(requantize(-(1 << 20), 4, false), -128);
    assert_eq!(requantize(-300, 0, true), 0);
    assert_eq!(requantize(42, 0, true), 42);
}
