use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use vae_gpu::{Gpu, Selection};

/// The device shared by the whole test binary (opening one costs ~100 ms on lavapipe, and each
/// device compiles its own pipelines), and a guard that keeps the tests on it one at a time:
/// wgpu's GL backend panics when a thread waits over a second for the adapter's context, which
/// another thread's long submit holds, and the device-wide counters some tests read would move
/// under them. Kernel choices and poison mode are not why: those hold per thread
/// (`Gpu::scoped`, `Gpu::poisoned`).
pub fn gpu() -> (Arc<Gpu>, MutexGuard<'static, ()>) {
    static TURN: Mutex<()> = Mutex::new(());
    static GPU: OnceLock<Arc<Gpu>> = OnceLock::new();
    let guard = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let gpu = GPU.get_or_init(|| match Gpu::new(&Selection::from_env()) {
        Ok(g) => {
            eprintln!("kernel tests on {} ({:?}, {:?})", g.info.name, g.info.backend, g.info.device_type);
            g
        }
        Err(e) => panic!("{e}\n(GPU tests never skip: install an adapter, e.g. apt-get install mesa-vulkan-drivers)"),
    });
    (gpu.clone(), guard)
}
