//! eval.json as one type: written by `evaluate`, read by `vae-gpu eval`'s summary, `report`
//! and `reproduce`'s tables. A key renamed here is renamed for every reader at once, and a
//! file missing one of them is refused naming it, never read as a blank. Non-finite numbers
//! (a diverged run) are written as null and read back as NaN.

use super::active::EncoderVariances;
use super::information::Information;
use super::likelihood::GammaFreeNll;
use crate::error::Result;
use crate::run_dir::{self, null_is_nan, null_is_nan_opt};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EvalDoc {
    /// The run directory as `eval` was given it.
    pub run: String,
    /// "test", or "train (the data has no test split)".
    pub split: String,
    pub images: usize,
    pub stage1_steps: u64,
    pub stage2_steps: Option<u64>,
    /// The adapter's name.
    pub adapter: String,
    pub information_plane: InformationPlane,
    pub stage1: StageOneLosses,
    /// (step, γ) of stage 1's metrics rows.
    #[serde(default)]
    pub gamma_history: Vec<(u64, f64)>,
    /// Decoders with a mean image only: an autoregressive decoder's log p(x) is exact given z
    /// (`log_likelihood`), with no σ* to fit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gamma_free_nll: Option<GammaFreeNllDoc>,
    /// Runs with a 2-d latent space only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latent_plane: Option<LatentPlane>,
    pub encoder_variances: StageOneVariances,
    pub information: InformationDoc,
    pub spectra: Spectra,
    pub mmd: MmdDoc,
    /// Two-stage runs with stage 2 trained only, from here to `stage2_encoder_variances`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage2: Option<StageTwo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gamma_z_history: Option<Vec<(u64, f64)>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage2_encoder_variances: Option<EncoderVariances>,
    pub log_likelihood: LogLikelihood,
    pub frechet: Frechet,
    /// Sequential VAEs only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence: Option<SequenceDoc>,
}

/// The Sequential VAE step by step (Zhao et al., Section 3.2 and Proposition 5).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SequenceDoc {
    /// Test images of the reconstructions, and prior samples of the sharpness.
    pub images: usize,
    /// Per step t, the test MSE per value of x_t with z_0..z_t ~ q (one draw each): what a
    /// 2-norm decoder leaves is Σ_i Var_q(x|z_0..t)[x_i], which Proposition 5 says does not
    /// grow with t in expectation.
    pub reconstruction_mse: Vec<f64>,
    /// Per step, the Laplacian energy (`sharpness`) of x_t for z ~ N(0, I): blur lowers it.
    pub sample_sharpness: Vec<f64>,
    /// The same statistic of the test images.
    pub data_sharpness: f64,
}

/// Stage 1's loss terms per image on the split, batch norm debiased.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StageOneLosses {
    #[serde(deserialize_with = "null_is_nan")]
    pub loss: f64,
    #[serde(deserialize_with = "null_is_nan")]
    pub kl: f64,
    /// Per value, of the decoder mean μ_x(z); None for an autoregressive decoder, which has
    /// no mean image of z alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(deserialize_with = "null_is_nan_opt")]
    pub mse: Option<f64>,
    /// The likelihood term (every objective but GECO's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(deserialize_with = "null_is_nan_opt")]
    pub reconstruction: Option<f64>,
    /// GECO only, from here to `constraint_met`: the constraint C, λ, its moving average, the
    /// RMSE tolerance, and whether the test MSE is within it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(deserialize_with = "null_is_nan_opt")]
    pub constraint: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lambda: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub c_ma: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rmse_tolerance: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraint_met: Option<bool>,
    /// The decoder's γ (None for likelihoods without one).
    pub gamma: Option<f64>,
}

/// Rezende & Viola's information plane from stage 1's metrics rows.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InformationPlane {
    pub columns: Vec<String>,
    /// [step, KL, distortion] per logged row.
    pub rows: Vec<[f64; 3]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geco_target_distortion: Option<f64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GammaFreeNllDoc {
    #[serde(flatten)]
    pub nll: GammaFreeNll,
    pub train_images: usize,
    #[serde(deserialize_with = "null_is_nan")]
    pub train_mse: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LatentPlane {
    /// μ_z of up to 2000 test images.
    pub points: Vec<[f32; 2]>,
    pub labels: Option<Vec<u8>>,
    /// The decoded lattice's PNG in the run directory; None for an autoregressive decoder
    /// (a pass per pixel of every cell).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grid_file: Option<String>,
    pub grid_axis: Vec<f64>,
    pub grid_is: String,
    /// Σ_i Var_{q(x|z)}[x_i] at each lattice point, row-major as the grid (Zhao et al.'s
    /// Figure 2; absent in evaluations written before it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub posterior_variance: Option<Vec<f64>>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StageOneVariances {
    #[serde(flatten)]
    pub variances: EncoderVariances,
    /// The data's true manifold dimension, where known (`shapes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub true_manifold_dim: Option<usize>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InformationDoc {
    #[serde(flatten)]
    pub information: Information,
    /// What each estimate is, for a reader of the file.
    pub notes: BTreeMap<String, String>,
}

/// Singular values / √rows of the latent sample matrices.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Spectra {
    pub rows: usize,
    pub scale: String,
    pub stage1: Vec<f64>,
    pub normal: Vec<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage2: Option<Vec<f64>>,
}

/// MMD² of the latent samples against N(0, I).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MmdDoc {
    pub kernel: String,
    pub estimator: String,
    pub samples: usize,
    #[serde(deserialize_with = "null_is_nan")]
    pub stage1: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(deserialize_with = "null_is_nan_opt")]
    pub stage2: Option<f64>,
    #[serde(deserialize_with = "null_is_nan")]
    pub null: f64,
    pub null_is: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StageTwo {
    pub gamma_z: Option<f64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LogLikelihood {
    pub images: usize,
    pub samples_per_image: usize,
    #[serde(deserialize_with = "null_is_nan")]
    pub nats_per_image: f64,
    #[serde(deserialize_with = "null_is_nan")]
    pub bits_per_dim: f64,
    pub estimator: String,
    pub density: String,
}

/// The Fréchet distances, or why there are none.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Frechet {
    Measured(FrechetDistances),
    Skipped { skipped: String },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FrechetDistances {
    pub name: String,
    pub classifier: ClassifierUsed,
    pub images_per_set: usize,
    pub reference: String,
    #[serde(deserialize_with = "null_is_nan")]
    pub train_images_floor: f64,
    #[serde(deserialize_with = "null_is_nan")]
    pub reconstructions: f64,
    #[serde(deserialize_with = "null_is_nan")]
    pub stage1_samples: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(deserialize_with = "null_is_nan_opt")]
    pub two_stage_samples: Option<f64>,
    /// A Sequential VAE's samples after each step (the last is `stage1_samples`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples_per_step: Option<Vec<f64>>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClassifierUsed {
    pub dir: String,
    pub test_accuracy: f64,
    /// How it was trained (absent in evaluations written before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objective: Option<String>,
    pub steps: u64,
    pub features: usize,
}

impl Frechet {
    pub fn measured(&self) -> Option<&FrechetDistances> {
        match self {
            Frechet::Measured(d) => Some(d),
            Frechet::Skipped { .. } => None,
        }
    }
}

/// The numbers of eval.json a table can show: each names where it is in the file (a JSON
/// pointer, which table.json records beside the value) and reads it from the typed document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quantity {
    Stage1Mse,
    Stage1Kl,
    Stage1Gamma,
    GecoLambda,
    ActiveDims,
    Stage2ActiveDims,
    Stage2Gamma,
    MutualInformation,
    MmdStage1,
    MmdStage2,
    GammaFreeBitsPerDim,
    FdTwoStage,
    FdStage1,
    FdReconstructions,
    /// The IWAE bound in bits per dimension.
    IwaeBitsPerDim,
    /// The Sequential VAE's step t (from 0): test reconstruction MSE, sample sharpness and
    /// the Fréchet distance of its samples; and the test images' sharpness.
    StepMse(usize),
    StepSharpness(usize),
    StepFd(usize),
    DataSharpness,
}

impl Quantity {
    pub const ALL: [Quantity; 19] = [
        Quantity::Stage1Mse,
        Quantity::Stage1Kl,
        Quantity::Stage1Gamma,
        Quantity::GecoLambda,
        Quantity::ActiveDims,
        Quantity::Stage2ActiveDims,
        Quantity::Stage2Gamma,
        Quantity::MutualInformation,
        Quantity::MmdStage1,
        Quantity::MmdStage2,
        Quantity::GammaFreeBitsPerDim,
        Quantity::FdTwoStage,
        Quantity::FdStage1,
        Quantity::FdReconstructions,
        Quantity::IwaeBitsPerDim,
        Quantity::StepMse(1),
        Quantity::StepSharpness(0),
        Quantity::StepFd(2),
        Quantity::DataSharpness,
    ];

    /// Present only in a Sequential VAE's evaluation.
    pub fn sequential(self) -> bool {
        matches!(
            self,
            Quantity::StepMse(_)
                | Quantity::StepSharpness(_)
                | Quantity::StepFd(_)
                | Quantity::DataSharpness
        )
    }

    /// Where the value is in eval.json.
    pub fn pointer(self) -> String {
        match self {
            Quantity::StepMse(t) => return format!("/sequence/reconstruction_mse/{t}"),
            Quantity::StepSharpness(t) => return format!("/sequence/sample_sharpness/{t}"),
            Quantity::StepFd(t) => return format!("/frechet/samples_per_step/{t}"),
            _ => {}
        }
        match self {
            Quantity::Stage1Mse => "/stage1/mse",
            Quantity::Stage1Kl => "/stage1/kl",
            Quantity::Stage1Gamma => "/stage1/gamma",
            Quantity::GecoLambda => "/stage1/lambda",
            Quantity::ActiveDims => "/encoder_variances/active",
            Quantity::Stage2ActiveDims => "/stage2_encoder_variances/active",
            Quantity::Stage2Gamma => "/stage2/gamma_z",
            Quantity::MutualInformation => "/information/mutual_information",
            Quantity::MmdStage1 => "/mmd/stage1",
            Quantity::MmdStage2 => "/mmd/stage2",
            Quantity::GammaFreeBitsPerDim => "/gamma_free_nll/bits_per_dim",
            Quantity::FdTwoStage => "/frechet/two_stage_samples",
            Quantity::FdStage1 => "/frechet/stage1_samples",
            Quantity::FdReconstructions => "/frechet/reconstructions",
            Quantity::IwaeBitsPerDim => "/log_likelihood/bits_per_dim",
            Quantity::DataSharpness => "/sequence/data_sharpness",
            Quantity::StepMse(_) | Quantity::StepSharpness(_) | Quantity::StepFd(_) => {
                unreachable!("formatted above")
            }
        }
        .into()
    }

    /// The value in `doc`, where the run has it.
    pub fn of(self, doc: &EvalDoc) -> Option<f64> {
        let fd = doc.frechet.measured();
        match self {
            Quantity::Stage1Mse => doc.stage1.mse,
            Quantity::Stage1Kl => Some(doc.stage1.kl),
            Quantity::Stage1Gamma => doc.stage1.gamma,
            Quantity::GecoLambda => doc.stage1.lambda,
            Quantity::ActiveDims => Some(doc.encoder_variances.variances.active as f64),
            Quantity::Stage2ActiveDims => {
                Some(doc.stage2_encoder_variances.as_ref()?.active as f64)
            }
            Quantity::Stage2Gamma => doc.stage2.as_ref()?.gamma_z,
            Quantity::MutualInformation => Some(doc.information.information.mutual_information),
            Quantity::MmdStage1 => Some(doc.mmd.stage1),
            Quantity::MmdStage2 => doc.mmd.stage2,
            Quantity::GammaFreeBitsPerDim => Some(doc.gamma_free_nll.as_ref()?.nll.bits_per_dim),
            Quantity::FdTwoStage => fd?.two_stage_samples,
            Quantity::FdStage1 => Some(fd?.stage1_samples),
            Quantity::FdReconstructions => Some(fd?.reconstructions),
            Quantity::IwaeBitsPerDim => Some(doc.log_likelihood.bits_per_dim),
            Quantity::StepMse(t) => doc.sequence.as_ref()?.reconstruction_mse.get(t).copied(),
            Quantity::StepSharpness(t) => doc.sequence.as_ref()?.sample_sharpness.get(t).copied(),
            Quantity::StepFd(t) => fd?.samples_per_step.as_ref()?.get(t).copied(),
            Quantity::DataSharpness => Some(doc.sequence.as_ref()?.data_sharpness),
        }
    }
}

/// Reads `dir`/eval.json.
pub fn read(dir: &Path) -> Result<EvalDoc> {
    run_dir::read_json(&dir.join(run_dir::EVAL))
}
