//! `vae-gpu info`: every adapter wgpu can see, then the chosen one in detail.

use serde_json::json;
use vae_gpu::gpu::adapter;
use vae_gpu::gpu::route::{override_vars, Source};
use vae_gpu::{Gpu, Result, Selection};

fn limits_json(l: &wgpu::Limits) -> serde_json::Value {
    json!({
        "max_storage_buffers_per_shader_stage": l.max_storage_buffers_per_shader_stage,
        "max_storage_buffer_binding_size": l.max_storage_buffer_binding_size,
        "max_buffer_size": l.max_buffer_size,
        "max_compute_workgroup_storage_size": l.max_compute_workgroup_storage_size,
        "max_compute_invocations_per_workgroup": l.max_compute_invocations_per_workgroup,
        "max_compute_workgroups_per_dimension": l.max_compute_workgroups_per_dimension,
        "max_uniform_buffer_binding_size": l.max_uniform_buffer_binding_size,
    })
}

fn adapter_json(info: &wgpu::AdapterInfo) -> serde_json::Value {
    json!({
        "name": info.name,
        "backend": format!("{:?}", info.backend),
        "device_type": format!("{:?}", info.device_type),
        "driver": info.driver,
        "driver_info": info.driver_info,
        "vendor": format!("{:#06x}", info.vendor),
        "device": format!("{:#06x}", info.device),
    })
}

/// Every routing choice with where it came from, and the parameters without a source (rules
/// on the caps).
fn routing_json(gpu: &Gpu) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    for (field, choice, source) in &gpu.resolved.sources {
        let mut v = serde_json::to_value(source).expect("json");
        v["choice"] = (*choice).into();
        out.insert((*field).into(), v);
    }
    let r = &gpu.resolved.routing;
    out.insert("vec4_block".into(), json!(r.vec4_block));
    out.insert("tex_block".into(), json!(r.tex_block));
    out.insert("seq_workgroup".into(), json!(r.seq_workgroup));
    out.into()
}

/// A source in words, for the text listing.
fn source_text(s: &Source) -> String {
    match s {
        Source::Override(var) => format!("overridden by {var}"),
        Source::Tuned(file) => format!("tuned, from {file}"),
        Source::Rule(why) => format!("rule: {why}"),
    }
}

pub fn run(sel: &Selection, json: bool) -> Result<i32> {
    // List adapters on every backend, whatever the selection, so a user sees all choices.
    let (_inst, all) = adapter::enumerate(&Selection::default())?;
    let listed: Vec<serde_json::Value> = all.iter().map(|a| adapter_json(&a.get_info())).collect();
    let gpu = Gpu::new(sel)?;
    let optional = [
        ("TIMESTAMP_QUERY", wgpu::Features::TIMESTAMP_QUERY),
        ("SHADER_F16", wgpu::Features::SHADER_F16),
        ("SUBGROUP", wgpu::Features::SUBGROUP),
    ];
    let features: Vec<serde_json::Value> = optional
        .iter()
        .map(|(name, f)| json!({"feature": name, "adapter_has": gpu.adapter_features.contains(*f), "enabled": gpu.device.features().contains(*f)}))
        .collect();
    let report = json!({
        "adapters": listed,
        "chosen": adapter_json(&gpu.info),
        "device_limits": limits_json(&gpu.device.limits()),
        "adapter_limits": limits_json(&gpu.adapter_limits),
        "optional_features": features,
        "caps": gpu.caps,
        "loop_limit": gpu.caps.loop_limit(),
        "routing": routing_json(&gpu),
        "overrides": override_vars(),
        "lp_native_vector_width": std::env::var("LP_NATIVE_VECTOR_WIDTH").ok(),
        "mesa_shader_cache_dir": std::env::var("MESA_SHADER_CACHE_DIR").ok(),
        "tuning_file": tuned_from(&gpu),
    });
    if json {
        println!("{}", serde_json::to_string_pretty(&report).expect("json"));
        return Ok(0);
    }
    println!("Adapters (--adapter takes the number or part of the name):");
    for (n, a) in all.iter().enumerate() {
        let i = a.get_info();
        println!(
            "  [{n}] {:<44} {:<7} {:<14} {} {}",
            i.name,
            format!("{:?}", i.backend),
            format!("{:?}", i.device_type),
            i.driver,
            i.driver_info
        );
    }
    let i = &gpu.info;
    println!(
        "\nChosen: {} ({:?}, {:?})",
        i.name, i.backend, i.device_type
    );
    let (d, a) = (gpu.device.limits(), &gpu.adapter_limits);
    println!("  limits (device as opened / adapter maximum):");
    println!(
        "    storage buffers per stage   {} / {}",
        d.max_storage_buffers_per_shader_stage, a.max_storage_buffers_per_shader_stage
    );
    println!(
        "    storage binding size        {} / {}",
        d.max_storage_buffer_binding_size, a.max_storage_buffer_binding_size
    );
    println!(
        "    workgroup storage           {} / {}",
        d.max_compute_workgroup_storage_size, a.max_compute_workgroup_storage_size
    );
    println!(
        "    invocations per workgroup   {} / {}",
        d.max_compute_invocations_per_workgroup, a.max_compute_invocations_per_workgroup
    );
    println!(
        "    workgroups per dimension    {} / {}",
        d.max_compute_workgroups_per_dimension, a.max_compute_workgroups_per_dimension
    );
    println!("  optional features:");
    for (name, f) in optional {
        let state = match (
            gpu.adapter_features.contains(f),
            gpu.device.features().contains(f),
        ) {
            (true, true) => "available, enabled",
            (true, false) => "available, not used yet",
            _ => "not available",
        };
        println!("    {name:<18} {state}");
    }
    if let Some(s) = gpu.caps.subgroup_size {
        println!("  subgroup size {s} (fixed): matmul subgroup can run");
    }
    println!(
        "  kernel routing (override with {}):",
        override_vars().join(", ")
    );
    for (field, choice, source) in &gpu.resolved.sources {
        println!("    {field:<13} {choice:<9} {}", source_text(source));
    }
    if gpu.info.name.contains("llvmpipe") {
        let width = std::env::var("LP_NATIVE_VECTOR_WIDTH");
        println!(
            "  llvmpipe vectors: LP_NATIVE_VECTOR_WIDTH={}; shader cache {}",
            width
                .as_deref()
                .unwrap_or("unset (Mesa's default: 256 bits with AVX2)"),
            std::env::var("MESA_SHADER_CACHE_DIR")
                .as_deref()
                .unwrap_or("Mesa's default")
        );
    }
    Ok(0)
}

/// The tuning file a choice came from, if any did.
fn tuned_from(gpu: &Gpu) -> Option<String> {
    gpu.resolved.sources.iter().find_map(|s| match &s.2 {
        Source::Tuned(file) => Some(file.clone()),
        _ => None,
    })
}
