//! Element-wise activations: exact GELU (erf), the tanh approximation `gelu_new`, ReLU and tanh,
//! optionally fused with the bias add of the linear layer before them.

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

    #[inline]
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Activation::Gelu => 0.5 * x * (1.0 + libm::erff(x * INV_SQRT_2)),
            Activation::GeluNew => 0.5 * x * (1.0 + (SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)).tanh()),
            Activation::Relu => x.max(0.0),
            Activation::Tanh => x.tanh(),
        }
    }

    /// The derivative at the pre-activation value `x`.
    #[inline]
    pub fn derivative(self, x: f32) -> f32 {
        match self {
            Activation::Gelu => {
                let cdf = 0.5 * (1.0 + libm::erff(x * INV_SQRT_2));
                cdf + x * INV_SQRT_2PI * (-0.5 * x * x).exp()
            }
            Activation::GeluNew => {
                let t = (SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)).tanh();
                0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * SQRT_2_OVER_PI * (1.0 + 3.0 * 0.044715 * x * x)
            }
            Activation::Relu => {
                if x > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Activation::Tanh => {
                let t = x.tanh();
                1.0 - t * t
            }
        }
    }
}

/// `pre += bias` (row-broadcast) and `out = act(pre)`. `pre` keeps the pre-activation for the backward pass.
pub fn bias_act_forward(pre: &mut [f32], out: &mut [f32], bias: &[f32], act: Activation) {
    let cols = bias.len();
    for_each_row_pair(pre, out, cols, |_, p, o| {
        for ((p, o), b) in p.iter_mut().zip(o.iter_mut()).zip(bias) {
            *p += *b;
            *o = act.apply(*p);
        }
    });
}

/// `dpre = dout · act'(pre)` and `dbias += Σ_rows dpre`.
pub fn bias_act_backward(pre: &[f32], dout: &[f32], dpre: &mut [f32], dbias: &mut [f32], act: Activation) {
    let cols = dbias.len();
    assert!(pre.len() == dout.len() && dout.len() == dpre.len());
    for_each_row(dpre, cols, |r, d| {
        let range = r * cols..(r + 1) * cols;
        for ((d, p), g) in d.iter_mut().zip(&pre[range.clone()]).zip(&dout[range]) {
            *d = *g * act.derivative(*p);
        }
    });
    add_column_sums(dbias, dpre, cols);
}

/// `out = act(x)` element-wise (no bias).
pub fn act_forward(x: &[f32], out: &mut [f32], act: Activation) {
    assert_eq!(x.len(), out.len());
    for (o, x) in out.iter_mut().zip(x) {
        *o = act.apply(*x);
    }
}

/// `dx (+)= dout · act'(x)`.
pub fn act_backward(x: &[f32], dout: &[f32], dx: &mut [f32], act: Activation, accumulate: bool) {
    assert!(x.len() == dout.len() && dout.len() == dx.len());
    for ((d, x), g) in dx.iter_mut().zip(x).zip(dout) {
        let v = *g * act.derivative(*x);
        *d = if accumulate { *d + v } else { v };
    }
}
