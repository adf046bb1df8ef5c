//! Every .wgsl file parses and validates with naga; errors carry the file and line.

use vae_gpu::gpu::shaders::{
    expand, lookup, params_size, signature, specialize, validate, Slot, INCLUDES, SHADERS,
};

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
    for (_, file, src) in SHADERS.iter().chain(INCLUDES) {
        // Validate the file as it is on disk, not only the compiled-in copy; kernel files
        // with their includes spliced in, as the runtime compiles them.
        let disk =
            std::fs::read_to_string(format!("{}/{}", env!("CARGO_MANIFEST_DIR"), file)).unwrap();
        assert_eq!(&disk, src);
        if let Err(e) = expand(file, src).and_then(|s| validate(file, &s)) {
            panic!("{e}");
        }
    }
}

#[test]
fn includes_are_spliced_once_and_unknown_ones_are_named() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/shaders/include");
    let mut on_disk: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            format!(
                "shaders/include/{}",
                e.unwrap().file_name().into_string().unwrap()
            )
        })
        .collect();
    on_disk.sort();
    let mut registered: Vec<String> = INCLUDES.iter().map(|(_, f, _)| f.to_string()).collect();
    registered.sort();
    assert_eq!(on_disk, registered, "shaders/include/ and INCLUDES differ");
    let (_, reduce) = lookup("reduce").unwrap();
    assert_eq!(reduce.matches("fn tree_sum").count(), 1);
    assert!(!reduce.lines().any(|l| l.trim().starts_with("// #include")));
    // An include's own include is spliced too, once however many ask for it.
    let (_, channel) = lookup("channel").unwrap();
    assert_eq!(channel.matches("fn sigmoid").count(), 1);
    let both = expand("shaders/x.wgsl", "// #include sigmoid\n// #include act\n").unwrap();
    assert_eq!(both.matches("fn sigmoid").count(), 1);
    assert_eq!(both.matches("fn act_grad").count(), 1);
    let e = expand("shaders/x.wgsl", "// #include no_such_helper\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("shaders/x.wgsl") && e.contains("no_such_helper"),
        "{e}"
    );
}

/// The runtime builds each kernel's bind-group layout from naga's reflection: every entry
/// point must take its buffers, then textures, at bindings 1, 2, ... with no gap.
#[test]
fn every_entry_point_has_a_bind_group_signature() {
    let mut entries = 0;
    for (name, _, _) in SHADERS {
        let (file, src) = lookup(name).unwrap();
        let (module, info) = validate(file, &src).unwrap();
        for ep in &module.entry_points {
            let slots = signature(file, &module, &info, &ep.name)
                .unwrap_or_else(|e| panic!("{name}:{}: {e}", ep.name));
            assert!(!slots.is_empty(), "{name}:{} binds nothing", ep.name);
            entries += 1;
        }
    }
    assert!(entries >= SHADERS.len());
    let (file, src) = lookup("matmul_tex").unwrap();
    let (module, info) = validate(file, &src).unwrap();
    assert_eq!(
        signature(file, &module, &info, "main").unwrap(),
        [Slot::ReadWrite, Slot::Texture, Slot::Texture]
    );
    let gap = "@group(0) @binding(0) var<uniform> p: u32;\n\
               @group(0) @binding(2) var<storage, read_write> x: array<f32>;\n\
               @compute @workgroup_size(1) fn main() { x[0] = f32(p); }\n";
    let (module, info) = validate("shaders/gap.wgsl", gap).unwrap();
    let e = signature("shaders/gap.wgsl", &module, &info, "main")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("shaders/gap.wgsl") && e.contains("binding 2"),
        "{e}"
    );
    // Textures are read as images: a sampled texture is refused, by name and binding.
    let sampled = "@group(0) @binding(0) var<uniform> p: u32;\n\
                   @group(0) @binding(1) var<storage, read_write> x: array<f32>;\n\
                   @group(0) @binding(2) var t: texture_2d<f32>;\n\
                   @compute @workgroup_size(1) fn main() { x[0] = textureLoad(t, vec2(0), 0).x + f32(p); }\n";
    let (module, info) = validate("shaders/sampled.wgsl", sampled).unwrap();
    let e = signature("shaders/sampled.wgsl", &module, &info, "main")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("shaders/sampled.wgsl") && e.contains("binding 2"),
        "{e}"
    );
}

#[test]
fn every_specialisation_the_runtime_uses_is_valid() {
    let (file, src) = lookup("matmul_vec4").unwrap();
    let src = &src;
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

/// The parameter size a dispatch is held to is naga's layout of the struct at binding 0: a
/// u32 then a vec4 (aligned to 16) is 32 bytes; an entry point that reads no uniform has none.
#[test]
fn the_parameter_size_is_the_uniform_structs_layout() {
    let src = "struct P { n: u32, v: vec4<f32> }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(1) fn reads() { out[0] = p.v.x + f32(p.n); }
@compute @workgroup_size(1) fn ignores() { out[0] = 1.0; }
";
    let (module, info) = validate("test.wgsl", src).unwrap();
    assert_eq!(
        params_size("test.wgsl", &module, &info, "reads").unwrap(),
        Some(32)
    );
    assert_eq!(
        params_size("test.wgsl", &module, &info, "ignores").unwrap(),
        None
    );
    assert!(params_size("test.wgsl", &module, &info, "absent").is_err());
}
