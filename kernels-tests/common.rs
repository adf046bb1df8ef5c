use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use vae_gpu::{Gpu, Selection};

/// The device, shared by the whole test binary (opening one costs ~100 ms on lavapipe),
/// and a lock held for the test's duration: poison mode, timing and the pool counters are
/// device-wide, so GPU tests run one at a time.
pub fn gpu() -> (Arc<Gpu>, MutexGuard<'static, ()>) {
    static LOCK: Mutex<()> = Mutex::new(());
    let guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    (device(), guard)
}

fn device() -> Arc<Gpu> {
    static GPU: OnceLock<Arc<Gpu>> = OnceLock::new();
    GPU.get_or_init(|| match Gpu::new(&Selection::from_env()) {
        Ok(g) => {
            eprintln!("kernel tests on {} ({:?}, {:?})", g.info.name, g.info.backend, g.info.device_type);
            g
        }
        Err(e) => panic!("{e}\n(GPU tests never skip: install an adapter, e.g. apt-get install mesa-vulkan-drivers)"),
    })
    .clone()
}
