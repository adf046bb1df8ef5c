//! Bad shapes are refused before anything reaches wgpu, with an error that names the
//! op and the shapes; the device stays usable afterwards.

use vae_gpu::kernels::batchnorm::{batch_norm_train, BatchNormConfig};
use vae_gpu::kernels::binary::add;
use vae_gpu::kernels::channel::{bias_act, ChannelAct};
use vae_gpu::kernels::conv2d::{conv2d, conv2d_grad_input, conv2d_grad_weight_with, Conv2dConfig};
use vae_gpu::kernels::conv_transpose2d::{
    conv_transpose2d, conv_transpose2d_backward, ConvTranspose2dConfig,
};
use vae_gpu::kernels::matmul::matmul;
use vae_gpu::kernels::reduce::sum_axis;
use vae_gpu::{Error, Tensor};

use crate::common::gpu;

fn expect_shape_error<T>(r: vae_gpu::Result<T>, op: &str, mentions: &[&str]) {
    match r {
        Err(e @ Error::Shape { .. }) => {
            let msg = e.to_string();
            assert!(msg.starts_with(op), "error should name {op}: {msg}");
            for m in mentions {
                assert!(msg.contains(m), "error should mention {m}: {msg}");
            }
        }
        Err(e) => panic!("expected a shape error from {op}, got {e}"),
        Ok(_) => panic!("{op} accepted bad shapes"),
    }
}

#[test]
fn shape_errors_name_the_op_and_shapes() {
    let (gpu, _turn) = gpu();
    let t = |s: &[usize]| Tensor::zeros(&gpu, s).unwrap();
    expect_shape_error(
        matmul(&t(&[3, 4]), &t(&[5, 6]), false, false),
        "matmul",
        &["[3, 4]", "[5, 6]"],
    );
    expect_shape_error(
        matmul(&t(&[2, 3, 4]), &t(&[3, 4, 5]), false, false),
        "matmul",
        &["[2, 3, 4]", "[3, 4, 5]"],
    );
    expect_shape_error(
        matmul(&t(&[3]), &t(&[3, 1]), false, false),
        "matmul",
        &["[3]"],
    );
    expect_shape_error(add(&t(&[3, 2]), &t(&[3])), "add", &["[3, 2]", "[3]"]);
    expect_shape_error(sum_axis(&t(&[3, 2]), 2, false), "sum_axis", &["[3, 2]"]);
    expect_shape_error(t(&[6]).reshape(&[4, 2]), "reshape", &["[6]", "[4, 2]"]);
    let cfg = Conv2dConfig::new(1, 0);
    expect_shape_error(
        conv2d(&t(&[1, 3, 8, 8]), &t(&[4, 2, 3, 3]), cfg),
        "conv2d",
        &["[1, 3, 8, 8]", "[4, 2, 3, 3]"],
    );
    expect_shape_error(
        conv2d(&t(&[1, 2, 2, 2]), &t(&[4, 2, 3, 3]), cfg),
        "conv2d",
        &["[1, 2, 2, 2]"],
    );
    expect_shape_error(
        conv2d(&t(&[2, 8, 8]), &t(&[4, 2, 3, 3]), cfg),
        "conv2d",
        &["[2, 8, 8]"],
    );
    expect_shape_error(
        conv2d_grad_input(&t(&[1, 4, 5, 5]), &t(&[4, 2, 3, 3]), (8, 8), cfg),
        "conv2d_grad_input",
        &["[1, 4, 5, 5]"],
    );
    // Columns kept from another layer's forward: [2·3·3, 1·6·6] is expected.
    expect_shape_error(
        conv2d_grad_weight_with(
            &t(&[1, 4, 6, 6]),
            &t(&[1, 2, 8, 8]),
            Some(&t(&[18, 35])),
            (3, 3),
            cfg,
        ),
        "conv2d_grad_weight",
        &["[18, 35]", "[18, 36]"],
    );
    let bad = ConvTranspose2dConfig::new(2, 1, 2);
    expect_shape_error(
        conv_transpose2d(&t(&[1, 2, 4, 4]), &t(&[2, 3, 4, 4]), bad),
        "conv_transpose2d",
        &["output_padding"],
    );
    // Both gradients at once check the input against the gradient and weight.
    let up = ConvTranspose2dConfig::new(2, 1, 0);
    expect_shape_error(
        conv_transpose2d_backward(
            &t(&[1, 3, 8, 8]),
            &t(&[1, 2, 5, 5]),
            &t(&[2, 3, 4, 4]),
            up,
            (true, true),
        ),
        "conv_transpose2d_backward",
        &["[1, 2, 5, 5]", "[1, 2, 4, 4]"],
    );
    let bn = BatchNormConfig {
        eps: 1e-5,
        momentum: 0.9,
    };
    let id = ChannelAct::Identity;
    expect_shape_error(
        batch_norm_train(&t(&[4, 3]), &t(&[2]), &t(&[3]), &t(&[3]), &t(&[3]), bn, id),
        "batch_norm",
        &["gamma", "[2]"],
    );
    expect_shape_error(
        batch_norm_train(&t(&[0, 3]), &t(&[3]), &t(&[3]), &t(&[3]), &t(&[3]), bn, id),
        "batch_norm",
        &["[0, 3]"],
    );
    expect_shape_error(
        bias_act(&t(&[4, 3]), &t(&[3]), ChannelAct::LeakyRelu(-0.5)),
        "bias_act",
        &["slope", "-0.5"],
    );
    expect_shape_error(
        Tensor::from_slice(&gpu, &[1.0, 2.0], &[3]),
        "from_slice",
        &["[3]"],
    );
    // Nothing above reached wgpu as a validation error: the device still works.
    gpu.sync().expect("device error after refused ops");
    assert_eq!(
        add(&t(&[2]), &Tensor::full(&gpu, &[2], 1.5).unwrap())
            .unwrap()
            .to_vec()
            .unwrap(),
        vec![1.5, 1.5]
    );
}

#[test]
fn a_buffer_over_the_binding_limit_is_refused_clearly() {
    let (gpu, _turn) = gpu();
    let limit = gpu.device.limits().max_storage_buffer_binding_size;
    let n = (limit / 4 + 1) as usize;
    match Tensor::empty(&gpu, &[n]) {
        Err(Error::Device(msg)) => assert!(
            msg.contains("exceeds") && msg.contains(&limit.to_string()),
            "{msg}"
        ),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("a tensor past the binding limit was allocated"),
    }
}
