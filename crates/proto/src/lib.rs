//! The signaalnet gRPC API, package `signaalnet.v1`, generated from `proto/` at build time.
//!
//! Message size: the largest message is a batch of ciphertexts (96 bytes each) or a page of
//! hits; services cap batches well below gRPC's 4 MB limit (see [`MAX_BATCH`]).
#![forbid(unsafe_code)]

#[allow(clippy::all, clippy::pedantic, missing_docs, rust_2018_idioms)]
pub mod v1 {
    tonic::include_proto!("signaalnet.v1");
}

/// The encoded file descriptor set of `signaalnet.v1`, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/signaalnet_v1_descriptor.bin"));

/// The most ciphertexts in one conversion batch: 96 bytes each plus framing keeps a full batch
/// under 1 MB, a quarter of gRPC's default 4 MB message limit.
pub const MAX_BATCH: usize = 8192;
/// The most items one transcryptor `Convert` takes: each answer carries a proof of about a
/// kilobyte, and the response must stay well below gRPC's 4 MB limit.
pub const MAX_CONVERT_BATCH: usize = 2048;
