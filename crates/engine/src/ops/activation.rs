//! Element-wise activations: exact GELU (erf), the tanh approximation `gelu_new`, ReLU and tanh,
//! optionally fused with the bias add of the linear layer before them.

use crate::fastmath;
use crate::par::{add_column_sums, for_each_row, for_each_row_pair};

/// The activations Hugging Face configs name in `hidden_act`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// `gelu`: x·Φ(x) with the exact normal CDF.
    Gelu,
    /// `gelu_new` / `gelu_pytorch_tanh`: the tanh approximation used by ALBERT and GPT-2.
    GeluNew,
    Relu,
    Tanh,
}

const SQRT_2_OVER_PI: f32 = 0.797_884_6;
const INV_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;
const INV_SQRT_2PI: f32 = 0.398_942_3;

impl Activation {
    /// Parses a Hugging Face `hidden_act` name.
    pub fn from_hf_name(name: &str) -> Option<Self> {
        match name {
            "gelu" => Some(Activation::Gelu),
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Some(Activation::GeluNew),
            "relu" => Some(Activation::Relu),
            "tanh" => Some(Activation::Tanh),
            _ => None,
        }
    }

    /// The activation at `x` (element-wise kernels use the branch-free [`crate::fastmath`] functions,
    /// except the pooler's `tanh`, which is cheap at its size and keeps libm's precision).
    #[inline(always)]
    pub fn apply(self, x: f32) -> f32 {
        self.value_and_derivative(x).0
    }

    /// The derivative at the pre-activation value `x`.
    #[inline(always)]
    pub fn derivative(self, x: f32) -> f32 {
        self.value_and_derivative(x).1
    }

    /// The activation and its derivative at `x`, sharing the transcendental functions.
    #[inline(always)]
    pub fn value_and_derivative(self, x: f32) -> (f32, f32) {
        match self {
            Activation::Gelu => gelu(x),
            Activation::GeluNew => gelu_new(x),
            Activation::Relu => relu(x),
            Activation::Tanh => {
                let t = x.tanh();
                (t, 1.0 - t * t)
            }
        }
    }
}

#[inline(always)]
fn gelu(x: f32) -> (f32, f32) {
    let cdf = 0.5 * (1.0 + fastmath::erf(x * INV_SQRT_2));
    (x * cdf, cdf + x * INV_SQRT_2PI * fastmath::exp(-0.5 * x * x))
}

#[inline(always)]
fn gelu_new(x: f32) -> (f32, f32) {
    let t = fastmath::tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x));
    let d = 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * SQRT_2_OVER_PI * (1.0 + 3.0 * 0.044715 * x * x);
    (0.5 * x * (1.0 + t), d)
}

#[inline(always)]
fn relu(x: f32) -> (f32, f32) {
    (x.max(0.0), (x > 0.0) as u32 as f32)
}

/// The row kernel of [`bias_act_forward`] for one activation function. Generic, so that the choice of
/// activation is made once per call rather than per element, and the loop vectorises.
fn bias_act_rows(
    pre: &mut [f32],
    out: &mut [f32],
    bias: &[f32],
    keep: bool,
    f: impl Fn(f32) -> (f32, f32) + Sync,
) {
    for_each_row_pair(pre, out, bias.len(), |_, p, o| {
        if keep {
            for ((p, o), b) in p.iter_mut().zip(o.iter_mut()).zip(bias) {
                let (value, derivative) = f(*p + *b);
                *o = value;
                *p = derivative;
            }
        } else {
            for ((p, o), b) in p.iter().zip(o.iter_mut()).zip(bias) {
                *o = f(*p + *b).0;
            }
        }
    });
}

/// `out = act(pre + bias)` (row-broadcast bias). With `keep_derivative` (training), `pre` is overwritten
/// with the activation's derivative at `pre + bias`, which is all the backward pass needs, so the
/// transcendental functions run once per element per step; otherwise `pre` is left as it was.
pub fn bias_act_forward(
    pre: &mut [f32],
    out: &mut [f32],
    bias: &[f32],
    act: Activation,
    keep_derivative: bool,
) {
    crate::profile::timed(crate::profile::Kind::Elementwise, || {
        assert_eq!(pre.len(), out.len());
        match act {
            Activation::Gelu => bias_act_rows(pre, out, bias, keep_derivative, gelu),
            Activation::GeluNew => bias_act_rows(pre, out, bias, keep_derivative, gelu_new),
            Activation::Relu => bias_act_rows(pre, out, bias, keep_derivative, relu),
            Activation::Tanh => {
                bias_act_rows(pre, out, bias, keep_derivative, |x| Activation::Tanh.value_and_derivative(x))
            }
        }
    })
}

/// Backward of [`bias_act_forward`] from the derivative it kept: `dpre = dout · act'` and
/// `dbias += Σ_rows dpre`.
pub fn bias_act_backward(derivative: &[f32], dout: &[f32], dpre: &mut [f32], dbias: &mut [f32]) {
    crate::profile::timed(crate::profile::Kind::Elementwise, || {
        let cols = dbias.len();
        assert!(derivative.len() == dout.len() && dout.len() == dpre.len());
        for_each_row(dpre, cols, |r, d| {
            let range = r * cols..(r + 1) * cols;
            for ((d, a), g) in d.iter_mut().zip(&derivative[range.clone()]).zip(&dout[range]) {
                *d = *g * *a;
            }
        });
        add_column_sums(dbias, dpre, cols);
    })
}

/// `out = act(x)` element-wise (no bias).
pub fn act_forward(x: &[f32], out: &mut [f32], act: Activation) {
    crate::profile::timed(crate::profile::Kind::Elementwise, || {
        assert_eq!(x.len(), out.len());
        for (o, x) in out.iter_mut().zip(x) {
            *o = act.apply(*x);
        }
    })
}

/// `dx (+)= dout · act'(x)`.
pub fn act_backward(x: &[f32], dout: &[f32], dx: &mut [f32], act: Activation, accumulate: bool) {
    crate::profile::timed(crate::profile::Kind::Elementwise, || {
        assert!(x.len() == dout.len() && dout.len() == dx.len());
        for ((d, x), g) in dx.iter_mut().zip(x).zip(dout) {
            let v = *g * act.derivative(*x);
            *d = if accumulate { *d + v } else { v };
        }
    })
}
