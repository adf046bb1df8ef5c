// geco: the state of GECO's Lagrange multiplier (Rezende & Viola, Algorithm 1), kept on the
// device and updated inside a training step, so nothing is read back per step. One entry,
// two modes, dispatched at two points of the step:
//   mode 0, before the loss is formed — the constraint's moving average:
//       c_ma = c                        on the run's first step (p.first = 1),
//       c_ma = α·c_ma + (1 − α)·c       otherwise;   c = a[p.src], the batch's C
//   mode 1, after the backward pass — the multiplier:
//       λ = λ·clamp(exp(η·c_ma), lo, hi)   (λ stays positive; the clamp bounds the per-update
//       factor, as public implementations do; exp's overflow to +inf clamps to hi)
// Bindings: 1 a (read), 2 c_ma, 3 λ (read_write).

struct Params {
    src: u32, first: u32, alpha: f32, eta: f32,
    lo: f32, hi: f32, mode: u32, pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read_write> c_ma: array<f32>;
@group(0) @binding(3) var<storage, read_write> lambda: array<f32>;

@compute @workgroup_size(1)
fn update() {
    if (p.mode == 0u) {
        let c = a[p.src];
        if (p.first != 0u) {
            c_ma[0] = c;
        } else {
            c_ma[0] = p.alpha * c_ma[0] + (1.0 - p.alpha) * c;
        }
    } else {
        lambda[0] = lambda[0] * clamp(exp(p.eta * c_ma[0]), p.lo, p.hi);
    }
}
