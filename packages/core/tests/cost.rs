//! `Plan::flops()`: two operations per multiply-add of the weighted layers, nothing else.

use tavdun_core::synthetic;

#[test]
fn flops_count_every_multiply_add_twice() {
    let model = synthetic::mlp("bench-mlp", &[784, 512, 256, 10], 1).unwrap();
    assert_eq!(model.plan.flops(), 2 * (784 * 512 + 512 * 256 + 256 * 10));
}
