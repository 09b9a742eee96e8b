//! The digits classifier in float, trained with burn's autodiff on the CPU (flex) backend.
//!
//! Architecture (every op has an exact int8 counterpart in the spec):
//! conv2d 1->8 3x3 pad 1 + ReLU, max-pool 2x2, flatten (8*4*4 = 128),
//! dense 128->32 + ReLU, dense 32->10 (logits).

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Int, Tensor, TensorData};
use tavdun_core::synthetic::Rng;

use crate::digits::{shuffle, Sample, CLASSES, PIXELS};
use crate::quantize::FloatLayer;

pub const FILTERS: usize = 8;
pub const KERNEL: usize = 3;
pub const PADDING: usize = 1;
pub const POOL: usize = 2;
pub const HIDDEN: usize = 32;
const SIDE: usize = 8;
const FLAT: usize = FILTERS * (SIDE / POOL) * (SIDE / POOL);
const _: () = assert!(PIXELS == SIDE * SIDE);

#[derive(Module, Debug)]
pub struct Net {
    conv: Conv2d,
    pool: MaxPool2d,
    hidden: Linear,
    output: Linear,
}

impl Net {
    pub fn new(device: &Device) -> Net {
        let pad = PADDING;
        Net {
            conv: Conv2dConfig::new([1, FILTERS], [KERNEL, KERNEL])
                .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
                .init(device),
            pool: MaxPool2dConfig::new([POOL, POOL]).init(),
            hidden: LinearConfig::new(FLAT, HIDDEN).init(device),
            output: LinearConfig::new(HIDDEN, CLASSES).init(device),
        }
    }

    /// `[batch, 1, 8, 8]` pixels in `[0, 1]` to `[batch, 10]` logits.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = self.pool.forward(relu(self.conv.forward(x)));
        // Channel-major, like the spec's flatten.
        let x: Tensor<2> = x.flatten(1, 3);
        self.output.forward(relu(self.hidden.forward(x)))
    }

    /// The trained parameters in the spec's layer order and weight layouts.
    pub fn float_layers(&self) -> Vec<FloatLayer> {
        vec![
            FloatLayer::Conv2d {
                kernel: KERNEL as u32,
                stride: 1,
                padding: PADDING as u32,
                relu: true,
                // burn's conv weight is `[out, in, kh, kw]`: already the spec's layout.
                weight: values(self.conv.weight.val()),
                bias: self
                    .conv
                    .bias
                    .as_ref()
                    .map(|b| values(b.val()))
                    .unwrap_or_default(),
            },
            FloatLayer::Maxpool2d {
                size: POOL as u32,
                stride: POOL as u32,
            },
            FloatLayer::Flatten,
            dense(&self.hidden, true),
            dense(&self.output, false),
        ]
    }
}

/// burn's linear weight is `[in, out]`; the spec wants `[out, in]` (one row per unit).
fn dense(linear: &Linear, relu: bool) -> FloatLayer {
    let [fan_in, units] = linear.weight.dims();
    let w = values(linear.weight.val());
    let weight = (0..units)
        .flat_map(|u| (0..fan_in).map(move |i| (u, i)))
        .map(|(u, i)| w[i * units + u])
        .collect();
    let bias = linear
        .bias
        .as_ref()
        .map(|b| values(b.val()))
        .unwrap_or_default();
    FloatLayer::Dense { relu, weight, bias }
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .try_into_vec::<f32>()
        .expect("burn float parameters are f32")
}

pub struct TrainConfig {
    pub seed: u64,
    pub epochs: usize,
    pub batch: usize,
    /// Peak learning rate of Adam; it decays to zero on a cosine over all steps.
    pub lr: f64,
    /// L2 penalty: small weights with few outliers quantise with less error.
    pub weight_decay: f32,
}

impl Default for TrainConfig {
    fn default() -> TrainConfig {
        TrainConfig {
            seed: 1,
            epochs: 60,
            batch: 32,
            lr: 3e-3,
            weight_decay: 1e-4,
        }
    }
}

/// `[n, 1, 8, 8]` float pixels and `[n]` labels for the given samples.
fn batch(samples: &[Sample], idx: &[usize], device: &Device) -> (Tensor<4>, Tensor<1, Int>) {
    let pixels: Vec<f32> = idx.iter().flat_map(|&i| samples[i].float_input()).collect();
    let labels: Vec<i64> = idx.iter().map(|&i| i64::from(samples[i].label)).collect();
    let x = Tensor::from_data(TensorData::new(pixels, [idx.len(), 1, SIDE, SIDE]), device);
    let y = Tensor::from_data(TensorData::new(labels, [idx.len()]), device);
    (x, y)
}

/// Trains from a seeded initialisation with a seeded shuffle: the same config and data give
/// the same parameters. `log` receives one line per epoch.
pub fn train(cfg: &TrainConfig, train: &[Sample], mut log: impl FnMut(String)) -> Net {
    let device = Device::flex().autodiff();
    device.seed(cfg.seed);
    let mut net = Net::new(&device);
    let mut optim = AdamConfig::new()
        .with_weight_decay(Some(WeightDecayConfig::new(cfg.weight_decay)))
        .init();
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let mut rng = Rng::new(cfg.seed);
    let mut order: Vec<usize> = (0..train.len()).collect();
    let steps_per_epoch = train.len().div_ceil(cfg.batch);
    let total_steps = (cfg.epochs * steps_per_epoch).max(1);
    let mut step = 0usize;
    for epoch in 0..cfg.epochs {
        shuffle(&mut order, &mut rng);
        let mut loss_sum = 0f64;
        for idx in order.chunks(cfg.batch) {
            let (x, y) = batch(train, idx, &device);
            let loss = loss_fn.forward(net.forward(x), y);
            loss_sum += f64::from(loss.clone().into_scalar::<f32>());
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            let progress = step as f64 / total_steps as f64;
            let lr = cfg.lr * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
            net = optim.step(lr, net, grads);
            step += 1;
        }
        log(format!(
            "epoch {:>3}: mean loss {:.4}",
            epoch + 1,
            loss_sum / steps_per_epoch as f64
        ));
    }
    net
}

/// Share of `samples` the float network classifies right.
pub fn float_accuracy(net: &Net, samples: &[Sample]) -> f64 {
    let device = Device::flex();
    let net = net.valid();
    let idx: Vec<usize> = (0..samples.len()).collect();
    let (x, y) = batch(samples, &idx, &device);
    let predicted = net.forward(x).argmax(1).flatten::<1>(0, 1);
    let correct = predicted.equal(y).int().sum().into_scalar::<i64>();
    correct as f64 / samples.len().max(1) as f64
}
