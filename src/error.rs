//! One error type for the whole crate. Every variant names what is at fault
//! (the op and shapes, the adapter, the file) so a message alone says what to fix.

use std::fmt;

#[derive(Debug)]
pub enum Error {
    /// Shapes that an op cannot combine: the op's name and a description of the conflict.
    Shape { op: &'static str, detail: String },
    /// No adapter matched the request; the message says how to get one.
    NoAdapter(String),
    /// The device refused a request (limits, features, lost device).
    Device(String),
    /// A WGSL file failed to parse or validate.
    Shader { file: &'static str, message: String },
    /// A bad command-line value: the flag and why.
    Flag {
        flag: std::borrow::Cow<'static, str>,
        detail: String,
    },
    /// The autograd tape was misused (backward twice, a non-scalar loss, ...).
    Autograd(String),
    /// A NaN or infinity where there must be none: names the tensor (e.g. a parameter's gradient).
    NonFinite(String),
    /// A dataset, image or checkpoint file that is malformed: the path and what is wrong.
    Data { path: String, detail: String },
    /// Training stopped: the loss became NaN or infinite (names the step).
    Diverged(String),
    /// Input/output on a named path.
    Io {
        path: String,
        source: std::io::Error,
    },
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn data(path: impl AsRef<std::path::Path>, detail: impl Into<String>) -> Self {
        Error::Data {
            path: path.as_ref().display().to_string(),
            detail: detail.into(),
        }
    }

    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }

    pub fn flag(
        flag: impl Into<std::borrow::Cow<'static, str>>,
        detail: impl Into<String>,
    ) -> Self {
        Error::Flag {
            flag: flag.into(),
            detail: detail.into(),
        }
    }

    pub fn shape(op: &'static str, detail: impl Into<String>) -> Self {
        Error::Shape {
            op,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Shape { op, detail } => write!(f, "{op}: {detail}"),
            Error::NoAdapter(msg) => write!(f, "no GPU adapter: {msg}"),
            Error::Device(msg) => write!(f, "device error: {msg}"),
            Error::Shader { file, message } => write!(f, "shader {file}: {message}"),
            Error::Flag { flag, detail } => write!(f, "{flag}: {detail}"),
            Error::Autograd(msg) => write!(f, "autograd: {msg}"),
            Error::NonFinite(what) => write!(f, "non-finite values in {what}"),
            Error::Data { path, detail } => write!(f, "{path}: {detail}"),
            Error::Diverged(msg) => write!(f, "training diverged: {msg}"),
            Error::Io { path, source } => write!(f, "{path}: {source}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
