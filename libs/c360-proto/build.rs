//! Generates the protobuf and gRPC code from `proto/` at build time.
//!
//! The pure-Rust `protox` compiler parses the `.proto` files, so no system
//! `protoc` is needed on a developer machine or in CI. Generating in
//! `build.rs` (rather than checking generated code in) keeps one source of
//! truth; `buf` lint and breaking checks guard the files themselves.

use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "c360/common/v1/record.proto",
    "c360/resolver/v1/resolver.proto",
    "c360/vault/v1/vault.proto",
    "c360/channels/v1/channels.proto",
    "c360/search/v1/search.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={}", root.join(proto).display());
    }
    let descriptors = protox::compile(PROTOS, [&root])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let descriptor_path = out.join("c360_descriptor.bin");
    std::fs::write(
        &descriptor_path,
        prost::Message::encode_to_vec(&descriptors),
    )?;
    tonic_prost_build::configure()
        .file_descriptor_set_path(&descriptor_path)
        // Decoding errors are the caller's: INVALID_ARGUMENT (src/codec.rs).
        .codec_path("crate::codec::Codec")
        .skip_protoc_run()
        .compile_fds(descriptors)?;
    Ok(())
}
