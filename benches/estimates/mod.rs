//! Criterion's estimates of this run, read back so that a bench can print its results as
//! ratios to a baseline measured in the same run.

use std::path::Path;

/// Criterion's mean estimate (ns) for benchmark `name` of `group` in this run, if it ran.
pub fn mean_ns(group: &str, name: &str) -> Option<f64> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/criterion")
        .join(group)
        .join(name)
        .join("new/estimates.json");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    json["mean"]["point_estimate"].as_f64()
}
