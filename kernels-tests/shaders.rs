//! Every .wgsl file parses and validates with naga; errors carry the file and line.

use vae_gpu::gpu::shaders::{specialize, validate, SHADERS};

#[test]
fn every_shader_file_is_registered_and_valid() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/shaders");
    let mut on_disk: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".wgsl"))
        .collect();
    on_disk.sort();
    let mut registered: Vec<String> = SHADERS
        .iter()
        .map(|(_, f, _)| f.trim_start_matches("shaders/").to_string())
        .collect();
    registered.sort();
    assert_eq!(
        on_disk, registered,
        "shaders/ and the registry in src/gpu/shaders.rs differ"
    );
    for (_, file, src) in SHADERS {
        // Validate the file as it is on disk, not only the compiled-in copy.
        let disk =
            std::fs::read_to_string(format!("{}/{}", env!("CARGO_MANIFEST_DIR"), file)).unwrap();
        assert_eq!(&disk, src);
        if let Err(e) = validate(file, src) {
            panic!("{e}");
        }
    }
}

#[test]
fn every_specialisation_the_runtime_uses_is_valid() {
    let (_, file, src) = SHADERS
        .iter()
        .find(|(n, _, _)| *n == "matmul_vec4")
        .unwrap();
    for ta in 0..2 {
        for tb in 0..2 {
            let s = specialize(file, src, &[("TRANS_A", ta), ("TRANS_B", tb)]).unwrap();
            validate(file, &s).unwrap();
        }
    }
    assert!(specialize(file, src, &[("NOT_THERE", 1)])
        .unwrap_err()
        .to_string()
        .contains("NOT_THERE"));
}

#[test]
fn a_broken_shader_is_reported_with_file_and_line() {
    let src = "struct P { n: u32 }\n@group(0) @binding(0) var<uniform> p: P;\n\nfn f() -> f32 { return p.m; }\n";
    let e = validate("shaders/broken.wgsl", src)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("shaders/broken.wgsl") && e.contains(":4:"),
        "{e}"
    );
}
