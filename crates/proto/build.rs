//! Generates the signaalnet.v1 code from `proto/` with protox (a pure-Rust protobuf compiler),
//! so no system `protoc` is needed, and writes the file descriptor set for server reflection.
#![forbid(unsafe_code)]

use prost::Message;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let files = [
        "analyst",
        "common",
        "coordinator",
        "partner",
        "role",
        "transcryptor",
        "witness",
    ]
    .map(|f| root.join(format!("signaalnet/v1/{f}.proto")));
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
    }
    let fds = protox::compile(&files, [&root])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("signaalnet_v1_descriptor.bin"),
        fds.encode_to_vec(),
    )?;
    tonic_prost_build::configure().compile_fds(fds)?;
    Ok(())
}
