use std::sync::{Arc, Mutex, OnceLock};

use vae_gpu::{Gpu, Selection};

/// One device for the whole test binary (opening a device costs ~100 ms on lavapipe).
pub fn gpu() -> Arc<Gpu> {
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

/// Tests that toggle device-wide state (poison mode, matmul variant, pool counters)
/// hold this so they do not see each other's settings.
pub fn exclusive() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}
